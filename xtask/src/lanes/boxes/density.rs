//! Density: how many boxes run side by side before command latency
//! degrades, and what each costs the host in memory.
//!
//! Setup: boxes are added level by level (1, 2, 4, 8 …: the boxes of a
//! level stay for the next), each booted alone so boots do not distort each
//! other. Per level, warm-up: 1 s idle, then the host PSS of every box's
//! processes (the VMMs; containers with their shims) is read — the idle
//! cost. Measurement: rounds in which every box runs `true` at the same
//! moment, until the level has at least `samples` round trips. Analysis:
//! p95 per level; breakpoint = largest level whose p95 ≤ 2 × the first
//! level's (`runcost_stats::density`), flagged when the curve is not
//! monotonic; capacity = MemAvailable / PSS per box.

use super::{timed_exec, trivial};
use crate::boxes::{pss_of, BoxBackend};
use crate::events::{Event, Events};
use crate::results::boxes::{DensityLevel, DensityResult, Quantiles};
use anyhow::{Context, Result};
use futures_util::future::join_all;
use runcost_stats::density::{density_breakpoint, memory_capacity};
use std::time::{Duration, Instant};

pub const FACTOR: f64 = 2.0;

pub struct DensityOpts {
    pub levels: Vec<u32>,
    pub samples: u32,
}

/// Boxes are handed back to the caller even on error so it can stop them.
pub async fn run<B: BoxBackend>(
    b: &B,
    o: &DensityOpts,
    boxes: &mut Vec<B::Handle>,
    events: &dyn Events,
) -> Result<DensityResult> {
    let mem_available_bytes =
        crate::probe::system::mem_available().context("density: host memory available")?;
    let mut levels = Vec::new();
    let mut rounds_per_level = Vec::new();
    for &level in &o.levels {
        let mut boot_s = Vec::new();
        while boxes.len() < level as usize {
            let name = format!("d{}", boxes.len());
            let t = Instant::now();
            let mut h = b.create(&name).await?;
            let started = b.start(&mut h).await;
            boxes.push(h);
            started.with_context(|| format!("start box {name} for level {level}"))?;
            boot_s.push(t.elapsed().as_secs_f64());
        }
        events.emit(Event::Note(format!(
            "{} density: {level} box(es) up",
            b.kind()
        )));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pids: Vec<i32> = boxes.iter().flat_map(|h| b.host_pids(h)).collect();
        let pss_total_bytes = pss_of(&pids);
        let rounds = o.samples.div_ceil(level).max(3);
        let mut exec = Vec::with_capacity((rounds * level) as usize);
        for _ in 0..rounds {
            let all = join_all(
                boxes
                    .iter_mut()
                    .map(|h| async move { timed_exec(b, h, &trivial()).await }),
            )
            .await;
            for r in all {
                exec.push(
                    r.with_context(|| format!("exec at level {level}"))?
                        .1
                        .as_secs_f64(),
                );
            }
        }
        events.emit(Event::Note(format!(
            "{} density: level {level}: {} execs",
            b.kind(),
            exec.len()
        )));
        rounds_per_level.push(rounds);
        levels.push(DensityLevel {
            level,
            exec_q: Quantiles::of(&exec),
            exec,
            pss_total_bytes,
            pss_per_box_bytes: pss_total_bytes as f64 / f64::from(level),
            boot_s,
        });
    }
    let points: Vec<(u32, f64)> = levels
        .iter()
        .filter_map(|l| Some((l.level, l.exec_q.as_ref()?.get(0.95)?.value)))
        .collect();
    let (breakpoint, breakpoint_note) = match density_breakpoint(&points, FACTOR) {
        Ok(b) => (Some(b), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let capacity_by_memory = levels
        .last()
        .and_then(|l| memory_capacity(mem_available_bytes as f64, l.pss_per_box_bytes));
    Ok(DensityResult {
        levels,
        rounds_per_level,
        breakpoint,
        breakpoint_note,
        mem_available_bytes,
        capacity_by_memory,
    })
}
