//! `cargo xtask clean`: removes every container, network and volume that
//! carries runcost's label, whichever run started it (even one that was
//! SIGKILLed), or with `--run ID` only that run's. Nothing is matched by
//! name.

use crate::engine::Engine;
use crate::error::ExitCode;
use crate::runner::Common;
use anyhow::Result;

pub async fn run(common: &Common, run_id: Option<&str>) -> Result<ExitCode> {
    // VMs first: their pid files, each checked against /proc before a kill.
    let vms = crate::boxes::track::reap(&common.repo_root, run_id);
    // A killed load selfcheck's CPU quota cgroup (its owner gone).
    let quotas = crate::selfcheck::quota::reap_orphans();
    let engine = Engine::connect().await?;
    let report = engine.reap(run_id).await?;
    if common.json {
        // The engine report as before, with the VMs added.
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("vms".into(), serde_json::to_value(&vms)?);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("clean: {report}");
        println!("clean: {vms}");
        if quotas > 0 {
            println!("clean: removed {quotas} generator CPU quota cgroup(s) of runs that are gone");
        }
    }
    Ok(if report.errors.is_empty() && vms.errors.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Refused
    })
}
