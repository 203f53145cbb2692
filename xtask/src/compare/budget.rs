//! Budgets: absolute limits from the profile's `budgets:`, judged on a run
//! with or without a baseline, by the same evidence rule as a change: the
//! interval must be over the limit to fail; the point estimate alone over
//! it is a WARN.

use super::judge::{Check, Row, Statistic, Verdict};
use crate::error::BadInput;
use crate::profile::thresholds::{GateRules, Limit};
use crate::results::{Direction, LaneKind, RunRecord, Unit};
use anyhow::Result;

/// One budget row per item of `record` a budget covers. A budget that
/// covers nothing in the run is refused: a limit never checked is no limit.
pub fn budget_rows(record: &RunRecord, rules: &GateRules, profile: &str) -> Result<Vec<Row>> {
    if rules.budgets.is_empty() {
        return Ok(Vec::new());
    }
    let items = super::extract(record, rules);
    let mut rows = Vec::new();
    let mut add = |key: &str,
                   lane: LaneKind,
                   label: &str,
                   unit: Unit,
                   values: &[f64],
                   interval: Option<(f64, f64)>| {
        if let Some((pattern, limit)) = rules.budget_for(key, unit) {
            rows.push(judge(
                key, lane, label, unit, values, interval, pattern, limit,
            ));
        }
    };
    for m in &items.metrics {
        add(
            &m.key,
            m.lane,
            m.metric.label(),
            m.unit,
            &m.per_repeat,
            None,
        );
    }
    for f in items.findings.iter().filter(|f| f.class.is_none()) {
        add(
            &f.key,
            f.lane,
            f.item.label(),
            f.unit,
            &f.values,
            f.interval,
        );
    }
    let unused: Vec<&str> = rules
        .budgets
        .keys()
        .filter(|p| {
            !rows
                .iter()
                .any(|r| matches!(&r.check, Check::Budget { pattern, .. } if pattern == *p))
        })
        .map(String::as_str)
        .collect();
    if !unused.is_empty() {
        return Err(BadInput(format!(
            "{profile}: field `budgets`: {} cover(s) nothing in run {}: run the lanes they limit \
             (`cargo xtask suite`), or correct the key (compare keys look like footprint/uss, \
             load/latency_p99/rate=1000)",
            unused.join(", "),
            record.run_id
        ))
        .into());
    }
    Ok(rows)
}

#[allow(clippy::too_many_arguments)]
fn judge(
    key: &str,
    lane: LaneKind,
    label: &str,
    unit: Unit,
    values: &[f64],
    interval: Option<(f64, f64)>,
    pattern: String,
    limit: Limit,
) -> Row {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    // The interval of the run's value: a t interval of the repeat means,
    // a finding's own interval, or none for one exact count.
    let (statistic, ci) = if values.len() >= 2 {
        let ci = runcost_stats::mean_ci_t(values, 0.95)
            .ok()
            .and_then(|m| m.ci)
            .map(|i| (i.lower, i.upper));
        (Statistic::Mean, ci)
    } else if interval.is_some() {
        (Statistic::Estimate, interval)
    } else {
        (Statistic::Value, None)
    };
    let (lo, hi) = ci.unwrap_or((mean, mean));
    let (at_most, bound, verdict) = match limit {
        Limit::Max(m) => (
            true,
            m,
            if lo > m {
                Verdict::Regressed
            } else if mean > m {
                Verdict::Warn
            } else {
                Verdict::Ok
            },
        ),
        Limit::Min(m) => (
            false,
            m,
            if hi < m {
                Verdict::Regressed
            } else if mean < m {
                Verdict::Warn
            } else {
                Verdict::Ok
            },
        ),
    };
    let note = match (values.is_empty(), ci, verdict) {
        (true, _, _) => Some("not judged: no values".to_string()),
        (_, None, _) if statistic == Statistic::Value => {
            Some("one value: judged as exact".to_string())
        }
        (_, _, Verdict::Warn) => Some("over by the estimate, not by its interval".to_string()),
        _ => None,
    };
    Row {
        key: key.to_string(),
        lane,
        label: format!("{label} budget"),
        unit: Some(unit),
        direction: Some(if at_most {
            Direction::LowerIsBetter
        } else {
            Direction::HigherIsBetter
        }),
        statistic,
        check: Check::Budget { pattern, at_most },
        baseline: bound,
        candidate: mean,
        relative_change: (bound != 0.0).then(|| mean / bound - 1.0),
        relative_ci: None,
        ci,
        baseline_n: 0,
        candidate_n: values.len(),
        verdict: if values.is_empty() {
            Verdict::Ok
        } else {
            verdict
        },
        note,
        grew_most: None,
    }
}
