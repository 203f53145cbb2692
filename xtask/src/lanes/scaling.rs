//! Scaling: how cost grows with the entity count.
//!
//! Setup: one fresh target per (size, repeat), the count set through the
//! profile's `entities` (an environment variable at start, or a command or
//! the memcached protocol once it is ready) and read back through its
//! check before anything is measured (a cell whose check disagrees fails). Cells run in seeded
//! random order within each repeat, so size is not confounded with time.
//! Warm-up and measurement: as footprint. Analysis: cost(n) = a + b·n^k
//! fitted over every (repeat, size) point of steady cells, with a profile-
//! likelihood interval for k. Verdict: SUBLINEAR / LINEAR / SUPERLINEAR only
//! when the interval allows it, else INDETERMINATE; fewer than 3 sizes or
//! under one decade: no verdict.

use super::cell::{CellPlan, Verify};
use super::{analysis, order, window, LaneCtx};
use crate::events::Event;
use crate::profile::EntitySetter;
use crate::results::{CellStatus, Finding, LaneKind, LaneRecord, MetricKind};
use runcost_stats::powerlaw::{judge_scaling, PowerLawOptions, ScalingOutcome, ScalingPoint};
use std::collections::BTreeMap;

pub struct ScalingOpts {
    pub sizes: Vec<u64>,
    pub repeats: u32,
    pub metrics: Vec<MetricKind>,
    pub env: BTreeMap<String, String>,
    pub seed: u64,
}

pub const PARAM: &str = "entities";

pub async fn run(ctx: &LaneCtx<'_>, opts: &ScalingOpts) -> LaneRecord {
    // Setup: validated by the command; the profile declares `entities`.
    let Some(entities) = ctx.profile.spec.entities.as_ref() else {
        return empty();
    };
    let plans: Vec<CellPlan> = order::blocked(opts.sizes.len(), opts.repeats, opts.seed)
        .into_iter()
        .map(|(repeat, i)| {
            let n = opts.sizes[i];
            let mut env = ctx.profile.spec.env.clone();
            env.extend(opts.env.clone());
            // An `env` count is set at start; the others once it is ready.
            let populate = match entities.setter() {
                EntitySetter::Env(name) => {
                    env.insert(name.to_string(), n.to_string());
                    None
                }
                EntitySetter::Exec(_) | EntitySetter::Memcached(_) | EntitySetter::Hold(_) => {
                    Some(n)
                }
            };
            CellPlan {
                id: format!("scaling-n{n}-r{repeat}"),
                repeat,
                params: BTreeMap::from([(PARAM.to_string(), n.to_string())]),
                env,
                verify: entities
                    .check
                    .iter()
                    .map(|c| Verify {
                        what: format!("entity count {n}"),
                        check: c.clone(),
                        expected: n.to_string(),
                    })
                    .collect(),
                load: None,
                cpuset: None,
                populate,
            }
        })
        .collect();
    ctx.events.emit(Event::LaneStarted {
        lane: LaneKind::Scaling.to_string(),
        cells: plans.len(),
    });

    // Warm-up and measurement.
    let mut cells = window::measure_all(ctx, &plans).await;
    cells.sort_by_key(|c| {
        (
            c.params.get(PARAM).and_then(|v| v.parse::<u64>().ok()),
            c.repeat,
        )
    });

    // Analysis: per-size aggregates, then the fit per metric.
    let mut aggregates = Vec::new();
    for n in &opts.sizes {
        let params = BTreeMap::from([(PARAM.to_string(), n.to_string())]);
        aggregates.extend(analysis::aggregate(&cells, &MetricKind::FOOTPRINT, &params));
    }
    let mut findings: Vec<Finding> = opts
        .metrics
        .iter()
        .map(|&metric| fit(&cells, metric))
        .collect();
    // Which part grows: each category's exponent, by the same rules.
    findings.extend(super::attrib::lane_finding(&cells, Some(PARAM)));
    let mut skipped = Vec::new();
    for c in &cells {
        match c.status {
            CellStatus::NotSteady => {
                skipped.push(format!("{} never settled: left out of the fit", c.id))
            }
            CellStatus::Failed => skipped.push(format!("{} failed: left out of the fit", c.id)),
            CellStatus::Ok => {}
        }
    }
    LaneRecord {
        lane: LaneKind::Scaling,
        cells,
        aggregates,
        skipped,
        findings,
    }
}

/// Fits one metric over the steady cells.
pub fn fit(cells: &[crate::results::CellRecord], metric: MetricKind) -> Finding {
    let points: Vec<ScalingPoint> = cells
        .iter()
        .filter(|c| c.status == CellStatus::Ok)
        .filter_map(|c| {
            let n = c.params.get(PARAM)?.parse::<f64>().ok()?;
            let cost = c.metrics.iter().find(|m| m.metric == metric)?.value;
            Some(ScalingPoint {
                repeat_id: c.repeat,
                n,
                cost,
            })
        })
        .collect();
    let outcome = judge_scaling(&points, &PowerLawOptions::default()).unwrap_or_else(|e| {
        ScalingOutcome::NoVerdict {
            reason: format!("the fit could not be made: {e}"),
        }
    });
    Finding::Scaling {
        metric,
        parameter: PARAM.into(),
        points: points.len(),
        outcome,
    }
}

fn empty() -> LaneRecord {
    LaneRecord {
        lane: LaneKind::Scaling,
        cells: vec![],
        aggregates: vec![],
        skipped: vec!["the profile declares no `entities`".into()],
        findings: vec![],
    }
}
