//! Baselines and regression verdicts. A run is reduced to comparable items:
//! every lane aggregate (per-repeat values, unit, direction, parameters),
//! every scaling exponent, and the figures of the other findings (fault
//! recovery, heap and memcheck bytes, churn slopes, leak verdicts:
//! `items`). New lanes plug in by writing aggregates and findings.

pub mod attrib;
pub mod baseline;
pub mod budget;
pub mod items;
pub mod judge;
pub mod summary;

pub use baseline::{Baseline, BaselineExponent, BaselineFinding, BaselineMetric, Thresholds};
pub use judge::{compare_run, Comparison, Row, Statistic, Verdict};

use crate::profile::thresholds::GateRules;
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

/// The comparable items of a run.
pub struct Items {
    pub metrics: Vec<BaselineMetric>,
    pub exponents: Vec<BaselineExponent>,
    pub findings: Vec<BaselineFinding>,
    /// Memory categories and thread groups per repeat (attribution).
    pub parts: Vec<attrib::BaselinePart>,
}

/// The baseline items a run offers, every lane: aggregates, fitted
/// exponents and finding figures, each with its thresholds (`rules` over
/// the defaults).
pub fn extract(record: &RunRecord, rules: &GateRules) -> Items {
    let mut metrics = Vec::new();
    let mut exponents = Vec::new();
    let mut findings = Vec::new();
    let mut parts = Vec::new();
    for lane in &record.lanes {
        parts.extend(attrib::parts(lane.lane, &lane.findings));
        for mut f in items::finding_items(lane.lane, &lane.findings) {
            f.thresholds = rules.thresholds_for(&f.key, f.unit, f.thresholds);
            findings.push(f);
        }
        for a in &lane.aggregates {
            let key = metric_key(lane.lane, a);
            metrics.push(BaselineMetric {
                thresholds: rules.thresholds_for(&key, a.unit, Thresholds::default_for(a.metric)),
                key,
                lane: lane.lane,
                metric: a.metric,
                params: a.params.clone(),
                unit: a.unit,
                direction: a.direction,
                per_repeat: a.per_repeat.clone(),
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
            // NO GROWTH has no k; it is kept as k = 0 [0, 0] (what
            // a + b·n^0, a constant, means) for old readers, and with its
            // growth test, which is what a pair with one NO GROWTH side is
            // judged on (judge.rs). A fit without an exponent (b ≤ 0, no
            // verdict) offers nothing to compare.
            let (k, lower, upper, verdict, growth) = match outcome {
                ScalingOutcome::Fit(fit) => (
                    fit.k,
                    fit.k_ci.lower,
                    fit.k_ci.upper,
                    format!("{:?}", fit.verdict).to_lowercase(),
                    fit.growth.clone(),
                ),
                ScalingOutcome::NoGrowth(g) => {
                    (0.0, 0.0, 0.0, NO_GROWTH.to_string(), Some(g.clone()))
                }
                ScalingOutcome::NoFit(_) | ScalingOutcome::NoVerdict { .. } => continue,
            };
            let m = serde_json::to_value(metric)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let key = format!("{}/{m}/exponent/{parameter}", lane.lane);
            // The growth is a cost: the metric's own thresholds (and any
            // override of `lane/metric`) apply to it.
            let growth_thresholds = rules.thresholds_for(
                &format!("{}/{m}", lane.lane),
                metric.unit(),
                Thresholds::default_for(*metric),
            );
            exponents.push(BaselineExponent {
                thresholds: baseline::exponent_thresholds(rules, &key),
                key,
                k,
                lower,
                upper,
                verdict,
                growth,
                growth_thresholds: Some(growth_thresholds),
            });
        }
    }
    // Keys identify items across runs: a second item with the same key
    // (two findings of one metric) is told apart by its position.
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut unique = |key: &mut String| {
        let n = seen.entry(key.clone()).or_default();
        *n += 1;
        if *n > 1 {
            key.push_str(&format!("/#{n}"));
        }
    };
    metrics.iter_mut().for_each(|m| unique(&mut m.key));
    exponents.iter_mut().for_each(|e| unique(&mut e.key));
    findings.iter_mut().for_each(|f| unique(&mut f.key));
    Items {
        metrics,
        exponents,
        findings,
        parts,
    }
}
#[cfg(test)]
mod tests;
