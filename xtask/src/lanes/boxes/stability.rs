//! Stability: does a box keep answering the same way over many commands,
//! many commands at once, many restarts, and minutes of steady load?
//!
//! Setup: one box, started; warm-up: `WARMUP` execs of `true`, unrecorded.
//! Measurement: (1) the exec loop, `execs` sequential round trips of
//! `true`; (2) parallel exec, `parallel_rounds` rounds of `parallel` execs
//! issued at the same moment (issue → completion each; on a VM they queue
//! on the agent's one stream, recorded as such); (3) the restart loop,
//! `restarts` × stop → start → first exec of the same box, where the
//! backend can start a stopped box (else the reason); (4) the soak
//! (`soak.rs`, last, so that a planted leak dies with the box): the box
//! under a paced stream of one `true` every 100 ms for `soak`, its host
//! PSS read about 120 times. Analysis: nearest-rank percentiles with
//! tiers; drift of the exec loop by `runcost_stats::drift_test` (x = exec
//! index, a rise of `DRIFT_REL_FLOOR` × median over the loop is the
//! floor), a verdict only where the slope interval allows one; the soak's
//! host memory slope by `runcost_stats::leak_test` after a warm-up (the
//! first fifth, at least 10 s), against a floor of 1 MiB/min (LEAK / NO LEAK /
//! INCONCLUSIVE, LEAK exits 1 like the churn lanes).
//!
//! Faults: a box that dies mid-section is recorded (`BoxDeath`, with its
//! cause), torn down, and the next section starts with a fresh box; the
//! exec loop's and the soak's series end there and are judged on what
//! came before. Nothing is ever recorded as 0.

use super::{soak, teardown, timed_exec, trivial};
use crate::boxes::runtimes::first_cause;
use crate::boxes::BoxBackend;
use crate::events::{Event, Events};
use crate::results::boxaxes::{AxisSection, BoxDeath, ParallelMode, StabilityResult};
use crate::results::boxes::Quantiles;
use anyhow::{bail, Result};
use runcost_stats::{drift_test, DRIFT_MIN_POINTS};
use std::time::Instant;

pub const WARMUP: u32 = 5;
/// A 10 % rise of the median over the loop is the smallest drift named.
pub const DRIFT_REL_FLOOR: f64 = 0.10;

pub struct StabilityOpts {
    pub execs: u32,
    pub parallel: u32,
    pub parallel_rounds: u32,
    pub restarts: u32,
    /// The soak; a zero duration skips it.
    pub soak: soak::SoakOpts,
}

/// The box the sections share; replaced when one dies.
struct Current<'a, B: BoxBackend> {
    b: &'a B,
    h: Option<B::Handle>,
    made: u32,
    deaths: Vec<BoxDeath>,
}

impl<'a, B: BoxBackend> Current<'a, B> {
    /// The live box, or a fresh one (a failure to start one is a death of
    /// `section` at `index`, and None).
    async fn get(&mut self, section: AxisSection, index: u32) -> Option<&mut B::Handle> {
        if self.h.is_none() {
            let name = format!("st{}", self.made);
            self.made += 1;
            match up(self.b, &name).await {
                Ok(h) => self.h = Some(h),
                Err(e) => {
                    self.died(section, index, &e);
                    return None;
                }
            }
        }
        self.h.as_mut()
    }

    fn died(&mut self, section: AxisSection, index: u32, e: &anyhow::Error) {
        self.deaths.push(BoxDeath {
            section,
            index,
            cause: first_cause(e),
        });
    }

    /// Records the death and tears the box down; the next `get` makes a new one.
    async fn lost(&mut self, section: AxisSection, index: u32, e: &anyhow::Error) {
        self.died(section, index, e);
        if let Some(h) = self.h.take() {
            let _ = teardown(self.b, h).await;
        }
    }
}

/// Create, start and warm up a box; torn down again if any step fails.
async fn up<B: BoxBackend>(b: &B, name: &str) -> Result<B::Handle> {
    let mut h = b.create(name).await?;
    let r = async {
        b.start(&mut h).await?;
        for _ in 0..WARMUP {
            timed_exec(b, &mut h, &trivial()).await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    match r {
        Ok(()) => Ok(h),
        Err(e) => {
            let _ = teardown(b, h).await;
            Err(e)
        }
    }
}

pub async fn run<B: BoxBackend>(
    b: &B,
    o: &StabilityOpts,
    events: &dyn Events,
) -> Result<StabilityResult> {
    let mut cur = Current {
        b,
        h: None,
        made: 0,
        deaths: Vec::new(),
    };

    // (1) The exec loop.
    events.emit(Event::Note(format!(
        "{} stability: exec loop, {} × `true`",
        b.kind(),
        o.execs
    )));
    let mut exec_loop = Vec::with_capacity(o.execs as usize);
    if let Some(h) = cur.get(AxisSection::ExecLoop, 0).await {
        let mut lost = None;
        for i in 0..o.execs {
            match timed_exec(b, h, &trivial()).await {
                Ok((_, d)) => exec_loop.push(d.as_secs_f64()),
                Err(e) => {
                    lost = Some((i, e));
                    break;
                }
            }
        }
        if let Some((i, e)) = lost {
            cur.lost(AxisSection::ExecLoop, i, &e).await;
        }
    }
    let (drift, drift_note) = if exec_loop.len() < DRIFT_MIN_POINTS {
        (
            None,
            Some(format!(
                "{} exec(s): the slope test needs at least {DRIFT_MIN_POINTS}",
                exec_loop.len()
            )),
        )
    } else {
        match drift_test(&exec_loop, DRIFT_REL_FLOOR, 0.95) {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(e.to_string())),
        }
    };

    // (2) Parallel exec.
    events.emit(Event::Note(format!(
        "{} stability: {} round(s) of {} execs at once",
        b.kind(),
        o.parallel_rounds,
        o.parallel
    )));
    let mut parallel_s = Vec::new();
    let mut parallel_mode = ParallelMode::Queued;
    for round in 0..o.parallel_rounds {
        let Some(h) = cur.get(AxisSection::ParallelExec, round).await else {
            continue;
        };
        let (mode, all) = b.exec_at_once(h, &trivial(), o.parallel as usize).await;
        parallel_mode = mode;
        let mut failed = None;
        for r in all {
            match r {
                Ok((out, d)) if out.exit_code == 0 => parallel_s.push(d.as_secs_f64()),
                Ok((out, _)) => {
                    failed.get_or_insert_with(|| {
                        anyhow::anyhow!(
                            "`true` exited {}: {}",
                            out.exit_code,
                            String::from_utf8_lossy(&out.stderr).trim()
                        )
                    });
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            cur.lost(AxisSection::ParallelExec, round, &e).await;
        }
    }

    // (3) The restart loop.
    let restart_skipped = b.cannot_restart();
    let mut restart_s = Vec::new();
    if restart_skipped.is_none() {
        events.emit(Event::Note(format!(
            "{} stability: {} restarts of one box",
            b.kind(),
            o.restarts
        )));
        for i in 0..o.restarts {
            let Some(h) = cur.get(AxisSection::RestartLoop, i).await else {
                continue;
            };
            let t = Instant::now();
            let r = async {
                b.stop(h).await?;
                b.start(h).await?;
                timed_exec(b, h, &trivial()).await
            }
            .await;
            match r {
                Ok(_) => restart_s.push(t.elapsed().as_secs_f64()),
                Err(e) => cur.lost(AxisSection::RestartLoop, i, &e).await,
            }
        }
    }

    // (4) The soak.
    let (soak, soak_skipped) = if o.soak.duration.is_zero() {
        (None, Some("--soak 0s".to_string()))
    } else {
        match cur.get(AxisSection::Soak, 0).await {
            Some(h) => {
                let (r, death) = soak::run(b, h, &o.soak, events).await;
                if let Some((i, e)) = death {
                    cur.lost(AxisSection::Soak, i, &e).await;
                }
                (Some(r), None)
            }
            None => (None, Some("no box came up for the soak".to_string())),
        }
    };

    // Teardown (the soak's box, with a planted leak in it, goes right away).
    if let Some(h) = cur.h.take() {
        teardown(b, h).await?;
    }
    let soaked = soak.as_ref().is_some_and(|s| !s.samples.is_empty());
    if exec_loop.is_empty() && parallel_s.is_empty() && restart_s.is_empty() && !soaked {
        let why = cur
            .deaths
            .first()
            .map(|d| d.cause.clone())
            .unwrap_or_else(|| "no box came up".into());
        bail!("stability: nothing measured: {why}");
    }
    Ok(StabilityResult {
        exec_q: Quantiles::of(&exec_loop),
        exec_loop,
        drift,
        drift_note,
        drift_rel_floor: DRIFT_REL_FLOOR,
        parallel: o.parallel,
        parallel_rounds: o.parallel_rounds,
        parallel_mode,
        parallel_q: Quantiles::of(&parallel_s),
        parallel_s,
        restarts: o.restarts,
        restart_q: Quantiles::of(&restart_s),
        restart_s,
        restart_skipped,
        deaths: cur.deaths,
        soak,
        soak_skipped,
    })
}
