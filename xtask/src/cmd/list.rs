//! `cargo xtask list`: profiles, lanes, and what each lane needs.

use crate::error::ExitCode;
use crate::profile::{list_names, Profile};
use crate::runner::Common;
use anyhow::Result;

const LANES: &[(&str, &str)] = &[(
    "footprint",
    "a ready endpoint; steady-state USS/PSS/RSS, threads, fds, CPU",
)];

pub fn run(common: &Common) -> Result<ExitCode> {
    println!(
        "profiles ({}):",
        common.repo_root.join("profiles").display()
    );
    for name in list_names(&common.repo_root) {
        let path = common
            .repo_root
            .join("profiles")
            .join(format!("{name}.yaml"));
        match Profile::load(&path) {
            Ok(p) => {
                let mut lanes = vec!["footprint"];
                if p.spec.entities.is_some() {
                    lanes.push("scaling");
                }
                if !p.spec.knobs.is_empty() {
                    lanes.push("sweep");
                }
                println!(
                    "  {name:<12} {}  [lanes: {}]",
                    p.spec.description.as_deref().unwrap_or(""),
                    lanes.join(", ")
                );
            }
            Err(e) => println!("  {name:<12} INVALID: {e:#}"),
        }
    }
    println!("lanes:");
    for (lane, needs) in LANES {
        println!("  {lane:<12} needs {needs}");
    }
    Ok(ExitCode::Ok)
}
