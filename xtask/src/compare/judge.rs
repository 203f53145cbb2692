//! Verdicts of a run against a baseline, per item, and the refusals that
//! come before any verdict.

use super::baseline::{host_differences, Baseline, BaselineExponent, BaselineMetric};
use crate::error::BadInput;
use crate::results::{Direction, RunRecord, RunStatus, Unit};
use anyhow::Result;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Improved,
    Ok,
    Warn,
    Regressed,
}

/// What a row's `baseline` and `candidate` values are: the statistic its
/// verdict was judged on, so a table never shows one and judges another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// Mean of the per-repeat values (the gate compares means: Welch, Fieller).
    Mean,
    /// A fitted scaling exponent k (compared as intervals).
    Exponent,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub key: String,
    pub label: String,
    pub unit: Option<Unit>,
    pub direction: Option<Direction>,
    pub statistic: Statistic,
    pub baseline: f64,
    pub candidate: f64,
    /// candidate / baseline − 1 (None for a zero baseline).
    pub relative_change: Option<f64>,
    pub relative_ci: Option<(f64, f64)>,
    pub baseline_n: usize,
    pub candidate_n: usize,
    pub verdict: Verdict,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub baseline: String,
    pub baseline_run: String,
    pub run: String,
    pub rows: Vec<Row>,
    /// Baseline items the run does not have (a lane not run, a rate not tried).
    pub missing: Vec<String>,
    pub host_differences: Vec<String>,
    /// Runs whose repeats were pooled in to confirm a regression.
    pub confirmed_with: Vec<String>,
}

impl Comparison {
    pub fn worst(&self) -> Verdict {
        self.rows
            .iter()
            .map(|r| r.verdict)
            .max()
            .unwrap_or(Verdict::Ok)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct CompareOpts {
    pub allow_host_mismatch: bool,
    pub allow_overloaded: bool,
}

/// Checks that a run may be judged or used as a baseline at all.
pub fn check_judgeable(record: &RunRecord, allow_overloaded: bool) -> Result<()> {
    let id = &record.run_id;
    match record.status {
        RunStatus::Complete => {}
        RunStatus::Partial => {
            return Err(BadInput(format!(
                "run {id} is partial ({}): only a complete run can be judged",
                record.status_reason.as_deref().unwrap_or("interrupted")
            ))
            .into())
        }
        RunStatus::Failed => {
            return Err(BadInput(format!(
                "run {id} failed ({}): only a complete run can be judged",
                record.status_reason.as_deref().unwrap_or("failed")
            ))
            .into())
        }
    }
    let failed: Vec<&str> = record
        .lanes
        .iter()
        .flat_map(|l| l.cells.iter())
        .filter(|c| c.status == crate::results::CellStatus::Failed)
        .map(|c| c.id.as_str())
        .collect();
    if !failed.is_empty() {
        return Err(BadInput(format!(
            "run {id} has failed cells ({}): rerun it",
            failed.join(", ")
        ))
        .into());
    }
    if record.host_load.overloaded && !allow_overloaded {
        return Err(BadInput(format!(
            "run {id} was recorded on an overloaded host (load1 max {:.2} on {} cores): its figures are not fit to judge; \
             rerun on a quiet host, or pass --allow-overloaded to accept the noise",
            record.host_load.max_load1, record.host_load.cores
        ))
        .into());
    }
    Ok(())
}

/// Judges `record` against `baseline`.
pub fn compare_run(
    baseline: &Baseline,
    record: &RunRecord,
    opts: CompareOpts,
) -> Result<Comparison> {
    check_judgeable(record, opts.allow_overloaded)?;
    let diffs = host_differences(&baseline.host, &record.host);
    if !diffs.is_empty() && !opts.allow_host_mismatch {
        return Err(BadInput(format!(
            "run {} comes from another host than baseline {} ({}); compare on the baseline's host, \
             make a baseline for this one, or pass --allow-host-mismatch",
            record.run_id,
            baseline.name,
            diffs.join("; ")
        ))
        .into());
    }
    let (metrics, exponents) = super::extract(record);
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    for b in &baseline.metrics {
        match metrics.iter().find(|m| m.key == b.key) {
            Some(c) => rows.push(judge_metric(b, c)?),
            None => missing.push(b.key.clone()),
        }
    }
    for b in &baseline.exponents {
        let Some(c) = exponents.iter().find(|e| e.key == b.key) else {
            missing.push(b.key.clone());
            continue;
        };
        // Intervals that do not overlap are a change; a worse verdict
        // class with overlapping intervals is a warning.
        let verdict = if c.lower > b.upper {
            Verdict::Regressed
        } else if c.upper < b.lower {
            Verdict::Improved
        } else if c.verdict != b.verdict {
            Verdict::Warn
        } else {
            Verdict::Ok
        };
        rows.push(Row {
            key: b.key.clone(),
            label: "scaling exponent k".into(),
            unit: None,
            direction: Some(Direction::LowerIsBetter),
            statistic: Statistic::Exponent,
            baseline: b.k,
            candidate: c.k,
            relative_change: None,
            relative_ci: None,
            baseline_n: 1,
            candidate_n: 1,
            verdict,
            note: Some(format!("{} → {}", exponent_words(b), exponent_words(c))),
        });
    }
    if rows.is_empty() {
        return Err(BadInput(format!(
            "nothing to compare: run {} has none of the {} item(s) of baseline {} (lanes or settings differ); \
             run the baseline's lanes ({}), or make a baseline from this run",
            record.run_id,
            baseline.metrics.len() + baseline.exponents.len(),
            baseline.name,
            baseline.settings.lane
        ))
        .into());
    }
    Ok(Comparison {
        baseline: baseline.name.clone(),
        baseline_run: baseline.run_id.clone(),
        run: record.run_id.clone(),
        rows,
        missing,
        host_differences: diffs,
        confirmed_with: Vec::new(),
    })
}

/// `k 1.020 [0.970, 1.070] linear`, or `no growth`.
fn exponent_words(e: &BaselineExponent) -> String {
    if e.verdict == super::NO_GROWTH {
        "no growth".into()
    } else {
        format!(
            "k {:.3} [{:.3}, {:.3}] {}",
            e.k, e.lower, e.upper, e.verdict
        )
    }
}

fn judge_metric(b: &BaselineMetric, c: &BaselineMetric) -> Result<Row> {
    let mean = |v: &[f64]| {
        runcost_stats::summary::summarize(v)
            .map(|s| s.mean)
            .unwrap_or(f64::NAN)
    };
    // Not judged (too few repeats): still the means, so the columns mean
    // the same thing on every row.
    let (verdict, relative_change, relative_ci, note, (baseline, candidate)) =
        match gate(&b.per_repeat, &c.per_repeat, b.direction, b.thresholds) {
            Ok(g) => (g.0, g.1, g.2, None, g.3),
            Err(e) => (
                Verdict::Ok,
                None,
                None,
                Some(format!("not judged: {e}")),
                (mean(&b.per_repeat), mean(&c.per_repeat)),
            ),
        };
    Ok(Row {
        key: b.key.clone(),
        label: b.metric.label().to_string(),
        unit: Some(b.unit),
        direction: Some(b.direction),
        statistic: Statistic::Mean,
        baseline,
        candidate,
        relative_change,
        relative_ci,
        baseline_n: b.per_repeat.len(),
        candidate_n: c.per_repeat.len(),
        verdict,
        note,
    })
}

/// Verdict, relative change and its CI, and the (baseline, candidate)
/// means the gate compared.
type Gate = (Verdict, Option<f64>, Option<(f64, f64)>, (f64, f64));

/// The stats crate's gate: REGRESSED iff the change in the bad direction
/// is significant (the CI of the difference excludes 0) AND beyond the
/// relative threshold AND beyond the absolute floor; WARN at the lower
/// threshold; IMPROVED alike in the good direction.
fn gate(base: &[f64], cand: &[f64], direction: Direction, t: super::Thresholds) -> Result<Gate> {
    use runcost_stats::gate::{gate_metric, GateOptions, GateVerdict, MetricDirection};
    if base.len() < 2 || cand.len() < 2 {
        anyhow::bail!(
            "needs at least 2 repeats on each side (baseline {}, run {})",
            base.len(),
            cand.len()
        );
    }
    let dir = match direction {
        Direction::LowerIsBetter => MetricDirection::LowerIsBetter,
        Direction::HigherIsBetter => MetricDirection::HigherIsBetter,
    };
    let opts = GateOptions {
        warn: t.warn,
        regress: t.regress,
        abs_floor: t.floor,
        level: 0.95,
    };
    let g = gate_metric(base, cand, dir, &opts)?;
    let verdict = match g.verdict {
        GateVerdict::Ok => Verdict::Ok,
        GateVerdict::Improved => Verdict::Improved,
        GateVerdict::Warn => Verdict::Warn,
        GateVerdict::Regressed => Verdict::Regressed,
    };
    Ok((
        verdict,
        g.relative_change,
        g.relative_ci.map(|i| (i.lower, i.upper)),
        (g.comparison.baseline_mean, g.comparison.candidate_mean),
    ))
}
