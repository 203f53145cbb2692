//! The box lanes, generic over [`BoxBackend`]: lifecycle, exec, density,
//! churn. Each reads as a method section: setup, warm-up, measurement,
//! analysis. The frame around them (checks, run directory, cleanup, signal
//! race) is `cmd::boxes`.

pub mod axes;
pub mod burst;
pub mod churn;
pub mod compare;
pub mod density;
pub mod exec;
pub mod lifecycle;
pub mod resource;
pub mod snapshot;
pub mod soak;
pub mod stability;
pub mod throughput;

use crate::boxes::{BoxBackend, ExecOutput};
use anyhow::{bail, Result};
use std::time::{Duration, Instant};

/// `true`, the trivial command (busybox in the VM, coreutils in the container).
pub fn trivial() -> Vec<String> {
    vec!["true".into()]
}

/// Runs `argv`, insists on exit 0, returns the output and the round trip.
pub async fn timed_exec<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    argv: &[String],
) -> Result<(ExecOutput, Duration)> {
    let t = Instant::now();
    let out = b.exec(h, argv, &[]).await?;
    let dt = t.elapsed();
    if out.exit_code != 0 {
        bail!(
            "{argv:?} exited {} in the box: {}",
            out.exit_code,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((out, dt))
}

/// Stop and remove, reporting the first error but always trying both.
pub async fn teardown<B: BoxBackend>(b: &B, mut h: B::Handle) -> Result<(Duration, Duration)> {
    let t = Instant::now();
    let stopped = b.stop(&mut h).await;
    let stop = t.elapsed();
    let t = Instant::now();
    let removed = b.remove(h).await;
    let remove = t.elapsed();
    stopped?;
    removed?;
    Ok((stop, remove))
}
