//! Verdicts of a run against a baseline, per item, and the refusals that
//! come before any verdict.

use super::baseline::{
    host_differences, Baseline, BaselineExponent, BaselineFinding, BaselineMetric, ClassRank,
};
use crate::error::BadInput;
use crate::results::{Direction, LaneKind, MetricKind, RunRecord, RunStatus, Unit};
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, PartialOrd, Ord)]
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
    /// A fitted scaling exponent k (the MOVER interval of the difference).
    Exponent,
    /// One estimate with its own interval (a churn slope).
    Estimate,
    /// One value per run (heap, memcheck: no repeats, no interval).
    Value,
    /// A verdict class (LEAK / NO LEAK, RETAINED / RECOVERED).
    Class,
}

/// What a row checks.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    /// The run against the baseline's value.
    Baseline,
    /// The run against an absolute limit from the profile's `budgets:`
    /// (the row's `baseline` holds the limit).
    Budget { pattern: String, at_most: bool },
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub key: String,
    pub lane: LaneKind,
    pub label: String,
    pub unit: Option<Unit>,
    pub direction: Option<Direction>,
    pub statistic: Statistic,
    pub check: Check,
    pub baseline: f64,
    pub candidate: f64,
    /// candidate / baseline − 1 (None for a zero baseline).
    pub relative_change: Option<f64>,
    pub relative_ci: Option<(f64, f64)>,
    /// Interval of the difference (exponents, slopes) or of the run's mean
    /// (budgets), in the row's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<(f64, f64)>,
    pub baseline_n: usize,
    pub candidate_n: usize,
    pub verdict: Verdict,
    pub note: Option<String>,
    /// A memory or CPU item that warns or regresses: the category (thread
    /// group) that grew most, with its own change and interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grew_most: Option<super::attrib::GrewMost>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// None: budgets only.
    pub baseline: Option<String>,
    pub baseline_run: Option<String>,
    pub run: String,
    pub rows: Vec<Row>,
    pub host_differences: Vec<String>,
    /// Runs whose repeats were pooled in to confirm a regression.
    pub confirmed_with: Vec<String>,
    /// What the reader must know about how it was judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn worst(&self) -> Verdict {
        self.rows
            .iter()
            .map(|r| r.verdict)
            .max()
            .unwrap_or(Verdict::Ok)
    }

    /// Budget rows only: a run judged without a baseline.
    pub fn budgets_only(record: &RunRecord, rows: Vec<Row>) -> Comparison {
        Comparison {
            baseline: None,
            baseline_run: None,
            run: record.run_id.clone(),
            rows,
            host_differences: Vec::new(),
            confirmed_with: Vec::new(),
            notes: Vec::new(),
        }
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

/// Judges `record` against `baseline`, every item of every lane, with the
/// thresholds the baseline recorded. A run that lacks lanes or items the
/// baseline has is refused, naming them.
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
    let items = super::extract(record, &baseline.rules);
    check_complete(baseline, record, &items)?;
    let mut rows = Vec::new();
    for b in &baseline.metrics {
        if let Some(c) = items.metrics.iter().find(|m| m.key == b.key) {
            let mut row = judge_metric(b, c)?;
            if matches!(row.verdict, Verdict::Warn | Verdict::Regressed) {
                row.grew_most = super::attrib::attribute(
                    b.metric,
                    b.lane,
                    &b.params,
                    &baseline.parts,
                    &items.parts,
                );
            }
            rows.push(row);
        }
    }
    for b in &baseline.exponents {
        if let Some(c) = items.exponents.iter().find(|e| e.key == b.key) {
            let mut row = judge_exponent(b, c);
            if matches!(row.verdict, Verdict::Warn | Verdict::Regressed) {
                row.grew_most =
                    super::attrib::attribute_exponent(&b.key, &baseline.parts, &items.parts);
            }
            rows.push(row);
        }
    }
    for b in &baseline.findings {
        if let Some(c) = items.findings.iter().find(|f| f.key == b.key) {
            let mut row = judge_finding(b, c)?;
            if matches!(row.verdict, Verdict::Warn | Verdict::Regressed) {
                row.grew_most =
                    super::attrib::attribute_finding(&b.key, b.lane, &baseline.parts, &items.parts);
            }
            rows.push(row);
        }
    }
    Ok(Comparison {
        baseline: Some(baseline.name.clone()),
        baseline_run: Some(baseline.run_id.clone()),
        run: record.run_id.clone(),
        rows,
        host_differences: diffs,
        confirmed_with: Vec::new(),
        notes: Vec::new(),
    })
}

/// Refuses a run without every lane and item of the baseline: a gate that
/// silently skips what it cannot find passes what it never judged.
fn check_complete(baseline: &Baseline, record: &RunRecord, items: &super::Items) -> Result<()> {
    let have: BTreeSet<&str> = items
        .metrics
        .iter()
        .map(|m| m.key.as_str())
        .chain(items.exponents.iter().map(|e| e.key.as_str()))
        .chain(items.findings.iter().map(|f| f.key.as_str()))
        .collect();
    let lanes: BTreeSet<LaneKind> = record.lanes.iter().map(|l| l.lane).collect();
    let mut missing_lanes = BTreeSet::new();
    let mut missing_items = Vec::new();
    for (key, lane) in baseline.keys() {
        if !lanes.contains(&lane) {
            missing_lanes.insert(lane);
        } else if !have.contains(key) {
            missing_items.push(key.to_string());
        }
    }
    if missing_lanes.is_empty() && missing_items.is_empty() {
        return Ok(());
    }
    let mut what = Vec::new();
    if !missing_lanes.is_empty() {
        let names: Vec<String> = missing_lanes.iter().map(|l| l.to_string()).collect();
        what.push(format!("lane(s) {}", names.join(", ")));
    }
    if !missing_items.is_empty() {
        const SHOWN: usize = 12;
        let more = missing_items.len().saturating_sub(SHOWN);
        let mut list = missing_items[..missing_items.len().min(SHOWN)].join(", ");
        if more > 0 {
            list.push_str(&format!(" and {more} more"));
        }
        what.push(format!("item(s) {list}"));
    }
    Err(BadInput(format!(
        "run {} lacks what baseline {} has: {}; run the baseline's lanes with the same settings \
         (`cargo xtask suite`, or the lane commands of run {}), or make a baseline from this run \
         (`cargo xtask update-baseline --run {} --name NAME`)",
        record.run_id,
        baseline.name,
        what.join("; "),
        baseline.run_id,
        record.run_id
    ))
    .into())
}

/// The exponent gate of the stats crate: the verdict rests on the interval
/// of the change in k, never on the verdict classes of the two fits.
fn judge_exponent(b: &BaselineExponent, c: &BaselineExponent) -> Row {
    let one_flat = (b.verdict == super::NO_GROWTH) != (c.verdict == super::NO_GROWTH);
    if let (true, Some(gb), Some(gc)) = (one_flat, &b.growth, &c.growth) {
        return judge_growth(b, c, gb, gc);
    }
    use runcost_stats::{gate_exponent, ExponentEstimate, ExponentGateOptions};
    let est = |e: &BaselineExponent| ExponentEstimate {
        k: e.k,
        lower: e.lower,
        upper: e.upper,
    };
    let opts = ExponentGateOptions {
        warn: b.thresholds.warn,
        regress: b.thresholds.regress,
    };
    let words = format!("{} → {}", exponent_words(b), exponent_words(c));
    let (verdict, ci, note) = match gate_exponent(&est(b), &est(c), 0.95, &opts) {
        Ok(g) => (
            verdict_of(g.verdict),
            Some((g.difference_ci.lower, g.difference_ci.upper)),
            words,
        ),
        Err(e) => (Verdict::Ok, None, format!("not judged: {e}; {words}")),
    };
    Row {
        key: b.key.clone(),
        lane: super::baseline::lane_of(&b.key),
        label: "scaling exponent k".into(),
        unit: None,
        direction: Some(Direction::LowerIsBetter),
        statistic: Statistic::Exponent,
        check: Check::Baseline,
        baseline: b.k,
        candidate: c.k,
        relative_change: None,
        relative_ci: None,
        ci,
        baseline_n: 1,
        candidate_n: 1,
        verdict,
        note: Some(note),
        grew_most: None,
    }
}

/// NO GROWTH against a fit: one side has no k, so the pair is judged on
/// the growth across the sizes (largest minus smallest), relative to the
/// baseline's cost at its smallest size (`runcost_stats::gate_growth`).
fn judge_growth(
    b: &BaselineExponent,
    c: &BaselineExponent,
    gb: &runcost_stats::powerlaw::GrowthTest,
    gc: &runcost_stats::powerlaw::GrowthTest,
) -> Row {
    use runcost_stats::{gate_growth, GrowthGateOptions};
    let metric = super::baseline::metric_of(&b.key);
    let t = b
        .growth_thresholds
        .or(c.growth_thresholds)
        .unwrap_or_else(|| super::Thresholds::default_for(metric.unwrap_or(MetricKind::Pss)));
    let opts = GrowthGateOptions {
        warn: t.warn,
        regress: t.regress,
        floor: t.floor,
    };
    let words = format!(
        "{} → {}; judged on the growth from n={} to n={}",
        exponent_words(b),
        exponent_words(c),
        gb.n_smallest,
        gb.n_largest
    );
    let (verdict, ci, note) = match gate_growth(gb, gc, 0.95, &opts) {
        Ok(g) => (
            verdict_of(g.verdict),
            Some((g.difference_ci.lower, g.difference_ci.upper)),
            words,
        ),
        Err(e) => (Verdict::Ok, None, format!("not judged: {e}; {words}")),
    };
    let base = gb.mean_smallest;
    Row {
        key: b.key.clone(),
        lane: super::baseline::lane_of(&b.key),
        label: "scaling growth (largest − smallest size)".into(),
        unit: metric.map(|m| m.unit()),
        direction: Some(Direction::LowerIsBetter),
        statistic: Statistic::Estimate,
        check: Check::Baseline,
        baseline: gb.difference,
        candidate: gc.difference,
        relative_change: (base != 0.0).then(|| (gc.difference - gb.difference) / base.abs()),
        relative_ci: None,
        ci,
        baseline_n: gb.points_smallest + gb.points_largest,
        candidate_n: gc.points_smallest + gc.points_largest,
        verdict,
        note: Some(note),
        grew_most: None,
    }
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

fn verdict_of(g: runcost_stats::GateVerdict) -> Verdict {
    use runcost_stats::GateVerdict;
    match g {
        GateVerdict::Ok => Verdict::Ok,
        GateVerdict::Improved => Verdict::Improved,
        GateVerdict::Warn => Verdict::Warn,
        GateVerdict::Regressed => Verdict::Regressed,
    }
}

/// A finding's figure: a verdict class by its rank, per-repeat values by
/// the metric gate, one estimate with an interval by the interval of the
/// difference, one value by its change against the thresholds.
fn judge_finding(b: &BaselineFinding, c: &BaselineFinding) -> Result<Row> {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut row = Row {
        key: b.key.clone(),
        lane: b.lane,
        label: b.item.label().to_string(),
        unit: Some(b.unit),
        direction: Some(b.direction),
        statistic: Statistic::Value,
        check: Check::Baseline,
        baseline: mean(&b.values),
        candidate: mean(&c.values),
        relative_change: None,
        relative_ci: None,
        ci: None,
        baseline_n: b.values.len(),
        candidate_n: c.values.len(),
        verdict: Verdict::Ok,
        note: None,
        grew_most: None,
    };
    let t = b.thresholds;
    if let (Some(rb), Some(rc)) = (b.class, c.class) {
        row.statistic = Statistic::Class;
        row.unit = None;
        row.verdict = match (rb, rc) {
            (ClassRank::Clear, ClassRank::Bad) => Verdict::Regressed,
            (_, ClassRank::Bad) => Verdict::Warn,
            (ClassRank::Bad | ClassRank::Unsure, ClassRank::Clear) => Verdict::Improved,
            _ => Verdict::Ok,
        };
        row.note = Some(format!(
            "{} → {}",
            b.class_word.as_deref().unwrap_or("?"),
            c.class_word.as_deref().unwrap_or("?")
        ));
        return Ok(row);
    }
    if b.values.is_empty() || c.values.is_empty() {
        row.note = Some(format!(
            "not judged: no values (baseline {}, run {})",
            b.values.len(),
            c.values.len()
        ));
        return Ok(row);
    }
    if b.values.len() >= 2 && c.values.len() >= 2 {
        let g = gate(&b.values, &c.values, b.direction, t)?;
        row.statistic = Statistic::Mean;
        (row.verdict, row.relative_change, row.relative_ci) = (g.0, g.1, g.2);
        (row.baseline, row.candidate) = g.3;
        return Ok(row);
    }
    let d = row.candidate - row.baseline;
    row.relative_change = (row.baseline != 0.0).then(|| d / row.baseline.abs());
    if let (Some(ib), Some(ic)) = (b.interval, c.interval) {
        use runcost_stats::{gate_exponent, ExponentEstimate, ExponentGateOptions};
        // The same evidence rule as an exponent's: the interval of the
        // difference must clear 0, and the change the floor.
        let est = |v: f64, (lower, upper): (f64, f64)| ExponentEstimate { k: v, lower, upper };
        let opts = ExponentGateOptions {
            warn: t.floor,
            regress: t.floor,
        };
        row.statistic = Statistic::Estimate;
        match gate_exponent(&est(row.baseline, ib), &est(row.candidate, ic), 0.95, &opts) {
            Ok(g) => {
                row.verdict = verdict_of(g.verdict);
                row.ci = Some((g.difference_ci.lower, g.difference_ci.upper));
            }
            Err(e) => row.note = Some(format!("not judged: {e}")),
        }
        return Ok(row);
    }
    // One value a side (a tool's count of one run): no spread to test, so
    // the change itself is judged against the thresholds.
    let bad = d > 0.0;
    let rel = row.relative_change;
    let beyond = |x: f64| match rel {
        Some(r) => r.abs() > x,
        None => true,
    };
    row.verdict = if d.abs() <= t.floor {
        Verdict::Ok
    } else if bad && beyond(t.regress) {
        Verdict::Regressed
    } else if bad && beyond(t.warn) {
        Verdict::Warn
    } else if !bad && beyond(t.warn) {
        Verdict::Improved
    } else {
        Verdict::Ok
    };
    row.note = Some("one value a side: its change against the thresholds".into());
    Ok(row)
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
        lane: b.lane,
        label: b.metric.label().to_string(),
        unit: Some(b.unit),
        direction: Some(b.direction),
        statistic: Statistic::Mean,
        check: Check::Baseline,
        ci: None,
        baseline,
        candidate,
        relative_change,
        relative_ci,
        baseline_n: b.per_repeat.len(),
        candidate_n: c.per_repeat.len(),
        verdict,
        note,
        grew_most: None,
    })
}

/// Verdict, relative change and its CI, and the (baseline, candidate)
/// means the gate compared.
pub(super) type Gate = (Verdict, Option<f64>, Option<(f64, f64)>, (f64, f64));

/// The stats crate's gate: REGRESSED iff the change in the bad direction
/// is significant (the CI of the difference excludes 0) AND beyond the
/// relative threshold AND beyond the absolute floor; WARN at the lower
/// threshold; IMPROVED alike in the good direction.
pub(super) fn gate(
    base: &[f64],
    cand: &[f64],
    direction: Direction,
    t: super::Thresholds,
) -> Result<Gate> {
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
