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

fn read(m: ChurnMetric) -> f64 {
    use procfs::Current;
    match m {
        ChurnMetric::HostMemUsed => procfs::Meminfo::current()
            .ok()
            .map(|i| (i.mem_total - i.mem_available.unwrap_or(i.mem_free)) as f64)
            .unwrap_or(f64::NAN),
        ChurnMetric::KernelSlab => procfs::Meminfo::current()
            .ok()
            .and_then(|i| i.s_unreclaim)
            .map(|v| v as f64)
            .unwrap_or(f64::NAN),
        ChurnMetric::HarnessAnon => std::fs::read_to_string("/proc/self/smaps_rollup")
            .ok()
            .and_then(|t| crate::probe::parse::parse_smaps_rollup(&t).ok())
            .map(|r| r.pss_anon as f64)
            .unwrap_or(f64::NAN),
        ChurnMetric::HostProcesses => std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        e.file_name()
                            .to_str()
                            .is_some_and(|s| s.parse::<u32>().is_ok())
                    })
                    .count() as f64
            })
            .unwrap_or(f64::NAN),
        ChurnMetric::HarnessFds => std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as f64)
            .unwrap_or(f64::NAN),
    }
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
            reference[i].push(read(*m));
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
            churn[i].push(read(*m));
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
