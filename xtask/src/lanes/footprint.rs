//! Footprint: what the target costs at rest, at one configuration.
//!
//! Setup: a fresh target per repeat with the profile's environment plus
//! `--env`. Warm-up: until USS is flat (see `cell`). Measurement: a window
//! sampled at a fixed rate, extended until the USS mean is known to the CI
//! target. Analysis: per repeat, window means with autocorrelation-corrected
//! intervals; across repeats, median, IQR and a t interval of the repeat
//! means. Verdict: none; not-steady repeats are reported, not summarised.

use super::cell::{self, CellPlan};
use super::{analysis, window, LaneCtx};
use crate::events::Event;
use crate::results::{CellStatus, LaneKind, LaneRecord, MetricKind};
use std::collections::BTreeMap;

pub struct FootprintOpts {
    pub repeats: u32,
    /// Extra environment for the target (`--env`).
    pub env: BTreeMap<String, String>,
}

pub async fn run(ctx: &LaneCtx<'_>, opts: &FootprintOpts) -> LaneRecord {
    // Setup.
    let mut env = ctx.profile.spec.env.clone();
    env.extend(opts.env.clone());
    let plans: Vec<CellPlan> = (0..opts.repeats)
        .map(|r| CellPlan {
            id: format!("footprint-r{r}"),
            repeat: r,
            params: BTreeMap::new(),
            env: env.clone(),
            verify: Vec::new(),
            load: None,
            cpuset: None,
            populate: cell::default_populate(ctx.profile),
        })
        .collect();
    ctx.events.emit(Event::LaneStarted {
        lane: LaneKind::Footprint.to_string(),
        cells: plans.len(),
    });

    // Warm-up and measurement, one fresh target per repeat.
    let cells = window::measure_all(ctx, &plans).await;

    // Analysis across repeats: steady cells only.
    let aggregates = analysis::aggregate(&cells, &MetricKind::FOOTPRINT, &BTreeMap::new());
    let mut skipped = Vec::new();
    let not_steady = cells
        .iter()
        .filter(|c| c.status == CellStatus::NotSteady)
        .count();
    if not_steady > 0 {
        skipped.push(format!(
            "{not_steady} repeat(s) never reached a steady state and are left out of the summary"
        ));
    }
    // Where the cost goes, across the cells.
    let findings = super::attrib::lane_finding(&cells, None)
        .into_iter()
        .collect();
    LaneRecord {
        lane: LaneKind::Footprint,
        cells,
        aggregates,
        skipped,
        findings,
    }
}
