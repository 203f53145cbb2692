//! Box churn: does creating and destroying boxes leave anything behind on
//! the host?
//!
//! Setup: two warm-up cycles (unrecorded) give the cycle duration d.
//! Reference: with no box, the host is read max(10, min(cycles, 20)) times,
//! d apart. Measurement: `cycles` cycles of create → start → `true` → stop
//! → remove, the host read after each. Readings: host memory in use
//! (MemTotal − MemAvailable), host process count, runcost's own open fds.
//! Analysis: `runcost_stats::churn_leak_test` per reading (x = reading
//! index, so both slopes are per cycle) against a per-cycle floor; the lane
//! is LEAK when any reading leaks, NO LEAK when all are ruled out.

use super::{teardown, timed_exec, trivial};
use crate::boxes::BoxBackend;
use crate::events::{Event, Events};
use crate::results::boxes::{BoxChurnResult, ChurnMetric, ChurnSeries};
use anyhow::{Context, Result};
use runcost_stats::{churn_leak_test, LeakOptions, LeakVerdict};
use std::time::{Duration, Instant};

/// A failed reading fails the lane: a NaN or 0 in a series would pass the
/// leak test as data.
fn read(m: ChurnMetric) -> Result<f64> {
    use crate::probe::system;
    let v = match m {
        ChurnMetric::HostMemUsed => system::mem_used()? as f64,
        ChurnMetric::KernelSlab => system::slab_unreclaimable()? as f64,
        ChurnMetric::HarnessAnon => system::self_pss_anon()? as f64,
        ChurnMetric::HostProcesses => system::process_count()? as f64,
        ChurnMetric::HarnessFds => system::self_fds()? as f64,
    };
    Ok(v)
}

async fn cycle<B: BoxBackend>(b: &B, name: &str) -> Result<()> {
    let mut h = b.create(name).await?;
    let r = async {
        b.start(&mut h).await?;
        timed_exec(b, &mut h, &trivial()).await.map(|_| ())
    }
    .await;
    let down = teardown(b, h).await;
    r?;
    down.map(|_| ())
}

pub async fn run<B: BoxBackend>(
    b: &B,
    cycles: u32,
    count_left: impl std::future::Future<Output = usize>,
    events: &dyn Events,
) -> Result<BoxChurnResult> {
    let t = Instant::now();
    for i in 0..2 {
        cycle(b, &format!("cw{i}")).await.context("warm-up cycle")?;
    }
    let d = t.elapsed() / 2;
    let n_ref = cycles.clamp(10, 20);
    events.emit(Event::Note(format!(
        "{} churn: static reference, {n_ref} readings {:.1} s apart",
        b.kind(),
        d.as_secs_f64()
    )));
    let mut reference: Vec<Vec<f64>> = vec![Vec::new(); ChurnMetric::ALL.len()];
    for _ in 0..n_ref {
        tokio::time::sleep(d.max(Duration::from_millis(100))).await;
        for (i, m) in ChurnMetric::ALL.iter().enumerate() {
            reference[i].push(read(*m).with_context(|| format!("churn reference: {}", m.label()))?);
        }
    }
    let mut churn: Vec<Vec<f64>> = vec![Vec::new(); ChurnMetric::ALL.len()];
    let mut cycle_s = Vec::new();
    for c in 0..cycles {
        let t = Instant::now();
        cycle(b, &format!("c{c}"))
            .await
            .with_context(|| format!("churn cycle {}", c + 1))?;
        cycle_s.push(t.elapsed().as_secs_f64());
        for (i, m) in ChurnMetric::ALL.iter().enumerate() {
            churn[i]
                .push(read(*m).with_context(|| format!("churn cycle {}: {}", c + 1, m.label()))?);
        }
        if (c + 1) % 10 == 0 {
            events.emit(Event::Note(format!(
                "{} churn: {}/{cycles} cycles",
                b.kind(),
                c + 1
            )));
        }
    }
    let series: Vec<ChurnSeries> = ChurnMetric::ALL
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let x = |n: usize| (0..n).map(|k| k as f64).collect::<Vec<_>>();
            let opts = LeakOptions {
                level: 0.95,
                slope_floor: m.floor_per_cycle(),
            };
            let (test, note) = match churn_leak_test(
                &x(churn[i].len()),
                &churn[i],
                &x(reference[i].len()),
                &reference[i],
                &opts,
            ) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e.to_string())),
            };
            ChurnSeries {
                metric: *m,
                churn: churn[i].clone(),
                reference: reference[i].clone(),
                test,
                note,
            }
        })
        .collect();
    let verdicts: Vec<LeakVerdict> = series
        .iter()
        .map(|s| {
            s.test
                .as_ref()
                .map_or(LeakVerdict::Inconclusive, |t| t.verdict)
        })
        .collect();
    let verdict = if verdicts.contains(&LeakVerdict::Leak) {
        LeakVerdict::Leak
    } else if verdicts.iter().all(|v| *v == LeakVerdict::NoLeak) {
        LeakVerdict::NoLeak
    } else {
        LeakVerdict::Inconclusive
    };
    Ok(BoxChurnResult {
        cycles,
        cycle_s,
        series,
        verdict,
        leftover_boxes: count_left.await,
    })
}
