//! The sampled window, the body of footprint, scaling, sweep and load
//! cells: the sampler starts at readiness and runs through warm-up and
//! window; warm-up until USS is flat (the one rule in [`warmup`]); then
//! either an idle window (at least `--window`, longer up to `--max-window`
//! while the USS mean is not yet known to `--ci-target` or group-unique
//! memory has no reading in it) or, when the plan
//! carries load, the generator's measured span.

use super::cell::{Body, Cell, LoadPlan};
use super::{analysis, warmup};
use crate::probe::sampler::{Ticker, Timed};
use crate::probe::Reading;
use crate::results::{CellRecord, MetricKind};
use anyhow::{Context, Result};
use std::time::Duration;

/// How often the warm-up judges the samples.
const WARM_POLL: Duration = Duration::from_millis(500);

/// A cell measured over one sampled window.
pub struct Sampled;

impl Body for Sampled {
    type Output = ();

    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<()> {
        // Setup: sampling starts at readiness; a load tool's own setup
        // (e.g. `pgbench -i`) runs before warm-up, so the target settles
        // with its data in place.
        let (sampler, attrib) = cell.samplers().await?;
        let tool = cell.plan.load.as_ref().and_then(|l| l.tool.clone());
        let tool_setup = match &tool {
            Some(t) => t.setup(cell).await?,
            None => None,
        };

        // Warm-up: until USS is flat by the profile's `steady` rule.
        let mut source = warmup::FromTicker {
            ticker: &sampler,
            live: cell.liveness(),
            buf: Vec::new(),
        };
        let how = warmup::WarmUp {
            metric: MetricKind::Uss,
            min: Duration::ZERO,
            cap: cell.ctx.profile.spec.steady.timeout.0,
            poll: WARM_POLL,
        };
        let steady = cell.warm_up(&mut source, how).await?.is_some();

        // Measurement: under load when the plan has some, else idle; held
        // connections are counted at both ends of the window.
        for h in &mut cell.held {
            h.window_starts();
        }
        let window = match cell.plan.load.clone() {
            Some(_) if tool.is_some() => {
                let t = tool.as_ref().expect("guarded");
                let (window, record) = t.window(cell, &sampler, tool_setup).await;
                cell.record.tool = record;
                window?
            }
            Some(load) => {
                let (w0, w1, result) = load_window(cell, &load, &sampler).await?;
                cell.record.load = Some(result);
                (w0, w1)
            }
            None => idle_window(cell, &sampler).await?,
        };

        // Analysis: window means with their intervals.
        let held: Result<Vec<_>> = cell.held.iter().map(|h| h.window_ends()).collect();
        cell.record.hold = held?;
        let (samples, stats) = sampler.stop();
        cell.conclude(samples, stats, window, steady)?;
        // Attribution: the end read, then the window's breakdown.
        if let Some(a) = attrib {
            cell.conclude_attribution(a);
        }
        Ok(())
    }
}

/// The idle window: at least `window`, longer (up to `max_window`) while
/// the USS mean is not yet known to the CI target.
async fn idle_window(cell: &Cell<'_, '_>, sampler: &Ticker<Reading>) -> Result<(f64, f64)> {
    let opts = &cell.ctx.opts;
    cell.measuring(opts.window.as_secs_f64());
    let live = cell.liveness();
    let start = cell.origin.elapsed().as_secs_f64();
    let min_end = start + opts.window.as_secs_f64();
    let max_end = start + opts.max_window.max(opts.window).as_secs_f64();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        live.check(sampler).await?;
        let now = cell.origin.elapsed().as_secs_f64();
        if now < min_end {
            continue;
        }
        if now >= max_end {
            return Ok((start, now));
        }
        let s = sampler.snapshot();
        let uss: Vec<f64> = s
            .iter()
            .filter(|x| x.t >= start)
            .map(|x| x.value.uss as f64)
            .collect();
        if analysis::precise_enough(&uss, opts.ci_target) && !group_unique_pending(&s, start) {
            return Ok((start, now));
        }
    }
}

/// Group-unique memory comes at its own rate, slower the more pages there
/// are to walk (probe/pagemap.rs): a short window over a large target can
/// pass without one reading of it, and the cell would lack the metric. The
/// window waits for one (up to its maximum) when the reader gives values
/// at all.
fn group_unique_pending(samples: &[Timed<Reading>], start: f64) -> bool {
    let read = |x: &Timed<Reading>| x.value.group_unique.is_some();
    samples.iter().any(read) && !samples.iter().filter(|x| x.t >= start).any(read)
}

/// The load window: the generator runs on its own thread and runtime,
/// pinned away from the target's CPU, while the sampler keeps sampling. The
/// window is the generator's measured span (after its warm-up).
async fn load_window(
    cell: &Cell<'_, '_>,
    load: &LoadPlan,
    sampler: &Ticker<Reading>,
) -> Result<(f64, f64, runcost_loadgen::LoadResult)> {
    let mut config = load.config.clone();
    config.port = cell
        .published(config.port)
        .with_context(|| format!("load port {}", config.port))?;
    cell.measuring(config.duration.saturating_sub(config.warmup).as_secs_f64());
    let live = cell.liveness();
    let origin = cell.origin;
    let start = origin.elapsed().as_secs_f64();
    let pin = load.pin_cpu;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let generator = std::thread::Builder::new()
        .name("runcost-loadgen".into())
        .spawn(move || {
            if let Some(cpu) = pin {
                pin_current_thread(cpu);
            }
            // Threads made from here inherit the pinning.
            let rt = match runcost_loadgen::runtime() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(
                        anyhow::Error::new(e).context("start the generator runtime")
                    ));
                    return;
                }
            };
            let r = rt.block_on(runcost_loadgen::run_until(config, async {
                let _ = stop_rx.await;
            }));
            let _ = tx.send(r);
        })
        .context("spawn the load generator")?;
    // Dropping `stop_tx` (cancellation, error) stops the generator.
    let _stop = stop_tx;
    let mut rx = rx;
    let result = loop {
        tokio::select! {
            r = &mut rx => break r.context("the load generator vanished")??,
            _ = tokio::time::sleep(Duration::from_millis(250)) => live.check(sampler).await?,
        }
    };
    let _ = generator.join();
    let end = origin.elapsed().as_secs_f64();
    let w0 = (start + result.warmup_s).min(end);
    Ok((w0, (w0 + result.duration_s).min(end), result))
}

/// Pins the calling thread (and threads and processes it creates later) to one CPU.
pub fn pin_current_thread(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        if let Err(e) = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set) {
            tracing::warn!("could not pin the load generator to CPU {cpu}: {e}");
        }
    }
}

/// Each plan as one sampled-window cell, in order: the cells' records
/// (their samples are in the run's CSVs).
pub async fn measure_all(
    ctx: &super::LaneCtx<'_>,
    plans: &[super::cell::CellPlan],
) -> Vec<CellRecord> {
    let mut cells = Vec::with_capacity(plans.len());
    for (i, plan) in plans.iter().enumerate() {
        let run = super::cell::run(ctx, plan, &mut Sampled, i + 1, plans.len()).await;
        cells.push(run.measured.record);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: f64, group: Option<u64>) -> Timed<Reading> {
        Timed {
            t,
            read_s: 0.0,
            value: Reading {
                group_unique: group,
                ..Reading::default()
            },
        }
    }

    #[test]
    fn a_window_waits_for_group_unique_only_when_the_reader_gives_it() {
        let before = [at(0.5, Some(1)), at(1.0, None), at(2.0, None)];
        assert!(group_unique_pending(&before, 1.5), "none in the window yet");
        let got = [at(0.5, Some(1)), at(2.0, None), at(2.5, Some(2))];
        assert!(!group_unique_pending(&got, 1.5));
        let never = [at(0.5, None), at(2.0, None)];
        assert!(!group_unique_pending(&never, 1.5), "unavailable: no wait");
    }
}
