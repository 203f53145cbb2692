//! Baselines and regression verdicts. A run is reduced to comparable items:
//! every lane aggregate (per-repeat values, unit, direction, parameters)
//! and every scaling exponent. New lanes plug in by writing aggregates and
//! findings; nothing here names a lane.

pub mod baseline;
pub mod judge;

pub use baseline::{Baseline, BaselineExponent, BaselineMetric, Thresholds};
pub use judge::{compare_run, Comparison, Row, Statistic, Verdict};

use crate::results::{Aggregate, Finding, LaneKind, RunRecord};
use runcost_stats::powerlaw::ScalingOutcome;

/// The verdict word of a NO GROWTH scaling finding in baselines.
pub const NO_GROWTH: &str = "no_growth";

/// Stable identity of an aggregate across runs: `lane/metric[/k=v...]`.
pub fn metric_key(lane: LaneKind, a: &Aggregate) -> String {
    let metric = serde_json::to_value(a.metric)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut key = format!("{lane}/{metric}");
    for (k, v) in &a.params {
        key.push_str(&format!("/{k}={v}"));
    }
    key
}

/// The baseline items a run offers: aggregates with at least two repeat
/// values (a difference needs a spread) and fitted exponents.
pub fn extract(record: &RunRecord) -> (Vec<BaselineMetric>, Vec<BaselineExponent>) {
    let mut metrics = Vec::new();
    let mut exponents = Vec::new();
    for lane in &record.lanes {
        for a in &lane.aggregates {
            metrics.push(BaselineMetric {
                key: metric_key(lane.lane, a),
                lane: lane.lane,
                metric: a.metric,
                params: a.params.clone(),
                unit: a.unit,
                direction: a.direction,
                per_repeat: a.per_repeat.clone(),
                thresholds: Thresholds::default_for(a.metric),
            });
        }
        for f in &lane.findings {
            let Finding::Scaling {
                metric,
                parameter,
                outcome,
                ..
            } = f
            else {
                continue;
            };
            // NO GROWTH is recorded as k = 0 [0, 0], what a + b·n^0 (a
            // constant) means, so the interval rule reads any growing fit
            // after it as a change (k_min > 0); a fit without an exponent
            // (b ≤ 0, no verdict) offers nothing to compare.
            let (k, lower, upper, verdict) = match outcome {
                ScalingOutcome::Fit(fit) => (
                    fit.k,
                    fit.k_ci.lower,
                    fit.k_ci.upper,
                    format!("{:?}", fit.verdict).to_lowercase(),
                ),
                ScalingOutcome::NoGrowth(_) => (0.0, 0.0, 0.0, NO_GROWTH.to_string()),
                ScalingOutcome::NoFit(_) | ScalingOutcome::NoVerdict { .. } => continue,
            };
            let m = serde_json::to_value(metric)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            exponents.push(BaselineExponent {
                key: format!("{}/{m}/exponent/{parameter}", lane.lane),
                k,
                lower,
                upper,
                verdict,
            });
        }
    }
    (metrics, exponents)
}
#[cfg(test)]
mod tests;
