//! `cargo xtask clean`: removes every container, network and volume that
//! carries runcost's label, whichever run started it (even one that was
//! SIGKILLed). Nothing is matched by name.

use crate::engine::Engine;
use crate::error::ExitCode;
use crate::runner::Common;
use anyhow::Result;

pub async fn run(common: &Common) -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    let report = engine.reap(None).await?;
    if common.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("clean: {report}");
    }
    Ok(if report.errors.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Refused
    })
}
