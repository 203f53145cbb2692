//! Sweep: cost against one configuration knob.
//!
//! Setup: one fresh target per (value, repeat), the knob set through the
//! profile's `knobs.<name>.env` and read back through its check (a value
//! that cannot be verified is reported `unverified`, never silently
//! trusted). Seeded random order within each repeat. Warm-up and
//! measurement: as footprint. Analysis: per value, median and t interval of
//! every footprint metric across repeats. Verdict: none; the table and
//! chart show cost against the knob.

use super::cell::{self, CellPlan, Verify};
use super::{analysis, order, window, LaneCtx};
use crate::events::Event;
use crate::results::{CellRecord, CellStatus, LaneKind, LaneRecord, MetricKind};
use std::collections::BTreeMap;

pub struct SweepOpts {
    pub knob: String,
    pub values: Vec<String>,
    pub repeats: u32,
    pub env: BTreeMap<String, String>,
    pub seed: u64,
}

pub async fn run(ctx: &LaneCtx<'_>, opts: &SweepOpts) -> LaneRecord {
    let knob = ctx.profile.spec.knobs.get(&opts.knob).cloned();
    let mut skipped = Vec::new();
    let env_name = knob.as_ref().map(|k| k.env.clone()).unwrap_or_default();
    if knob.as_ref().is_some_and(|k| k.check.is_none()) {
        skipped.push(format!(
            "knob `{}` has no `check`: its values are unverified (the profile cannot prove they reached the service)",
            opts.knob
        ));
    }
    let plans: Vec<CellPlan> = order::blocked(opts.values.len(), opts.repeats, opts.seed)
        .into_iter()
        .map(|(repeat, i)| {
            let v = &opts.values[i];
            let mut env = ctx.profile.spec.env.clone();
            env.extend(opts.env.clone());
            env.insert(env_name.clone(), v.clone());
            CellPlan {
                id: format!("sweep-{}-{}-r{repeat}", slug(&opts.knob), slug(v)),
                repeat,
                params: BTreeMap::from([(opts.knob.clone(), v.clone())]),
                env,
                verify: knob
                    .as_ref()
                    .and_then(|k| k.check.clone())
                    .map(|c| Verify {
                        what: format!("knob {}={v}", opts.knob),
                        check: c,
                        expected: v.clone(),
                    })
                    .into_iter()
                    .collect(),
                load: None,
                cpuset: None,
                populate: cell::default_populate(ctx.profile),
            }
        })
        .collect();
    ctx.events.emit(Event::LaneStarted {
        lane: LaneKind::Sweep.to_string(),
        cells: plans.len(),
    });
    let mut cells = window::measure_all(ctx, &plans).await;
    let position = |c: &CellRecord| {
        opts.values
            .iter()
            .position(|v| Some(v) == c.params.get(&opts.knob))
    };
    cells.sort_by_key(|c| (position(c), c.repeat));

    let mut aggregates = Vec::new();
    for v in &opts.values {
        let params = BTreeMap::from([(opts.knob.clone(), v.clone())]);
        aggregates.extend(analysis::aggregate(&cells, &MetricKind::FOOTPRINT, &params));
    }
    for c in &cells {
        if c.status != CellStatus::Ok {
            skipped.push(format!(
                "{} is {:?}: left out of the summary",
                c.id, c.status
            ));
        }
    }
    // Where the cost goes, across the cells.
    let findings = super::attrib::lane_finding(&cells, None)
        .into_iter()
        .collect();
    LaneRecord {
        lane: LaneKind::Sweep,
        cells,
        aggregates,
        skipped,
        findings,
    }
}

/// A value as it may appear in a compose project name: [a-z0-9-].
fn slug(v: &str) -> String {
    let s: String = v
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.chars().take(24).collect()
}
