//! `cargo xtask list`: profiles, lanes, and what each lane needs.

use crate::error::ExitCode;
use crate::profile::{list_names, Profile};
use crate::runner::Common;
use anyhow::Result;

const LANES: &[(&str, &str)] = &[
    (
        "load",
        "`load:` (HTTP, or TCP with a reply rule: a port and a request mix); latency percentiles and throughput per rate",
    ),
    (
        "fault",
        "`fault:` (an HTTP request, a command or an engine action) and a client probe (an HTTP or TCP `ready`, or `fault.client`)",
    ),
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

/// Every bundled profile (an invalid one is listed as INVALID), or with
/// `--profile NAME|PATH` that one, validated: invalid is exit 2.
pub fn run(common: &Common, only: Option<&str>) -> Result<ExitCode> {
    if let Some(arg) = only {
        let p = Profile::resolve(&common.repo_root, arg)?;
        println!("profile {}:", p.path.display());
        print_profile(p.name(), &p);
    } else {
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
                Ok(p) => print_profile(&name, &p),
                Err(e) => println!("  {name:<12} INVALID: {e:#}"),
            }
        }
    }
    println!("lanes:");
    for (lane, needs) in LANES {
        println!("  {lane:<12} needs {needs}");
    }
    Ok(ExitCode::Ok)
}

fn print_profile(name: &str, p: &Profile) {
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
    let tool_lane;
    if let Some(load) = &p.spec.load {
        match (&load.tool, load.requests.is_empty()) {
            // Only the service's own tool: `--mode tool`.
            (Some(t), true) => {
                tool_lane = format!(
                    "load (tool: {})",
                    t.argv.first().map(String::as_str).unwrap_or("?")
                );
                lanes.push(&tool_lane);
            }
            _ => lanes.push(match load.protocol {
                crate::profile::load::LoadProtocol::Http => "load (HTTP)",
                crate::profile::load::LoadProtocol::Tcp => "load (TCP)",
            }),
        }
    }
    if p.spec.fault.is_some() {
        lanes.push("fault");
    }
    println!(
        "  {name:<12} {}  [lanes: {}]",
        p.spec.description.as_deref().unwrap_or(""),
        lanes.join(", ")
    );
    if p.spec.load.is_none() && p.spec.ready.http.is_none() {
        println!(
            "  {:<12} no load lane: the profile has no `load:` section (HTTP or TCP)",
            ""
        );
    }
    if let Some(f) = &p.spec.fault {
        match f.client_probe(&p.spec.ready) {
            Some((port, Some(path))) => println!("  {:<12} fault client: HTTP {port}{path}", ""),
            Some((port, None)) => println!("  {:<12} fault client: TCP connect to {port}", ""),
            None => println!(
                "  {:<12} fault lane refused: `ready` is `exec` and `fault.client` names no port",
                ""
            ),
        }
    }
}
