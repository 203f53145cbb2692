//! Lifecycle: how long a cold box takes from `create` to its first
//! successful command, and how long stop and remove take.
//!
//! Setup: nothing (each repeat is a fresh box). Warm-up: one box created,
//! used and removed unrecorded, so the first recorded box does not pay for
//! the host's cold page cache (kernel, initramfs, image layers). Measurement:
//! `repeats` boxes one after another: create → start → `true` → stop →
//! remove, each phase timed with a monotonic clock. Analysis: nearest-rank
//! p50/p90/p95/p99 with the sample-count tier.

use super::{teardown, timed_exec, trivial};
use crate::boxes::BoxBackend;
use crate::events::{Event, Events};
use crate::results::boxes::{LifecycleResult, LifecycleSample, Quantiles};
use anyhow::{Context, Result};
use std::time::Instant;

pub async fn one<B: BoxBackend>(b: &B, name: &str) -> Result<LifecycleSample> {
    let t0 = Instant::now();
    let mut h = b.create(name).await?;
    let create_s = t0.elapsed().as_secs_f64();
    let started = b.start(&mut h).await?;
    let ready_s = t0.elapsed().as_secs_f64();
    timed_exec(b, &mut h, &trivial()).await?;
    let first_exec_s = t0.elapsed().as_secs_f64();
    let (stop, remove) = teardown(b, h).await?;
    Ok(LifecycleSample {
        create_s,
        ready_s,
        first_exec_s,
        guest_uptime_s: started.guest_uptime.map(|d| d.as_secs_f64()),
        stop_s: stop.as_secs_f64(),
        remove_s: remove.as_secs_f64(),
    })
}

pub async fn run<B: BoxBackend>(
    b: &B,
    repeats: u32,
    events: &dyn Events,
) -> Result<LifecycleResult> {
    events.emit(Event::Note(format!("{} lifecycle: warm-up box", b.kind())));
    one(b, "lc-warmup").await.context("warm-up box")?;
    let mut samples = Vec::new();
    for i in 0..repeats {
        let s = one(b, &format!("lc{i}"))
            .await
            .with_context(|| format!("lifecycle box {} of {repeats}", i + 1))?;
        events.emit(Event::Note(format!(
            "{} box {}/{repeats}: first exec after {:.3} s",
            b.kind(),
            i + 1,
            s.first_exec_s
        )));
        samples.push(s);
    }
    let col = |f: fn(&LifecycleSample) -> f64| samples.iter().map(f).collect::<Vec<_>>();
    Ok(LifecycleResult {
        cold_start: Quantiles::of(&col(|s| s.first_exec_s)),
        ready: Quantiles::of(&col(|s| s.ready_s)),
        stop: Quantiles::of(&col(|s| s.stop_s)),
        remove: Quantiles::of(&col(|s| s.remove_s)),
        samples,
    })
}
