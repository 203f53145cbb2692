//! `cargo xtask list`: profiles, lanes, and what each lane needs.

use crate::error::ExitCode;
use crate::profile::{list_names, Profile};
use crate::runner::Common;
use anyhow::Result;

const LANES: &[(&str, &str)] = &[
    (
        "footprint",
        "a ready endpoint; steady-state USS/PSS/RSS, threads, fds, CPU",
    ),
    (
        "heap",
        "`wrap:` (argv, image with heaptrack); leaked bytes, peak heap, top sites; exit 1 on LEAK",
    ),
    (
        "memcheck",
        "`wrap:` (argv, image with valgrind); definitely/indirectly/possibly lost, errors; exit 1 on LEAK",
    ),
    (
        "churn",
        "`churn:` (create and delete requests); memory/fds/threads per cycle vs static; exit 1 on LEAK",
    ),
];

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
                if p.spec.wrap.is_some() {
                    lanes.extend(["heap", "memcheck"]);
                }
                if p.spec.churn.is_some() {
                    lanes.push("churn");
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
