//! Compare on synthetic runs: error rates of the whole gate under noise,
//! and every refusal.

use super::judge::{check_judgeable, CompareOpts};
use super::*;
use crate::error::BadInput;
use crate::report::markdown::tests::fixture;
use crate::results::{Aggregate, CellStatus, LaneRecord, MetricKind, RunStatus};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

fn normal(rng: &mut rand_pcg::Pcg64) -> f64 {
    // Box–Muller.
    let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A complete footprint run: USS around `uss` and throughput around `tput`,
/// `n` repeats each with coefficient of variation `cv`.
fn run_with(rng: &mut rand_pcg::Pcg64, uss: f64, tput: f64, n: usize, cv: f64) -> RunRecord {
    let mut r = fixture();
    r.status = RunStatus::Complete;
    r.status_reason = None;
    r.host_load.overloaded = false;
    let agg = |metric: MetricKind, mean: f64, rng: &mut rand_pcg::Pcg64| {
        let per_repeat: Vec<f64> = (0..n).map(|_| mean * (1.0 + cv * normal(rng))).collect();
        Aggregate {
            metric,
            unit: metric.unit(),
            direction: metric.direction(),
            params: BTreeMap::new(),
            n,
            tier: "small".into(),
            median: per_repeat[n / 2],
            mean,
            iqr: None,
            ci95: None,
            per_repeat,
        }
    };
    let uss_agg = agg(MetricKind::Uss, uss, rng);
    let tput_agg = agg(MetricKind::Throughput, tput, rng);
    r.lanes = vec![LaneRecord {
        lane: crate::results::LaneKind::Footprint,
        cells: vec![],
        aggregates: vec![uss_agg, tput_agg],
        skipped: vec![],
        findings: vec![],
    }];
    r
}

fn trials(seed: u64, uss_factor: f64, tput_factor: f64) -> BTreeMap<&'static str, usize> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut counts = BTreeMap::new();
    for _ in 0..1000 {
        let base = Baseline::from_run("b", &run_with(&mut rng, 200e6, 5000.0, 5, 0.03));
        let cand = run_with(&mut rng, 200e6 * uss_factor, 5000.0 * tput_factor, 5, 0.03);
        let c = compare_run(&base, &cand, CompareOpts::default()).unwrap();
        let key = |m: MetricKind| {
            c.rows
                .iter()
                .find(|r| r.label == m.label())
                .unwrap()
                .verdict
        };
        *counts
            .entry(if c.worst() == Verdict::Regressed {
                "exit1"
            } else {
                "exit0"
            })
            .or_default() += 1;
        if key(MetricKind::Throughput) == Verdict::Improved {
            *counts.entry("tput_improved").or_default() += 1;
        }
        if key(MetricKind::Uss) == Verdict::Regressed {
            *counts.entry("uss_regressed").or_default() += 1;
        }
    }
    counts
}

#[test]
fn unchanged_configuration_passes_under_noise() {
    let c = trials(1, 1.0, 1.0);
    let pass = c.get("exit0").copied().unwrap_or(0);
    assert!(pass >= 950, "passed {pass}/1000: {c:?}");
}

#[test]
fn fifteen_percent_more_memory_fails() {
    let c = trials(2, 1.15, 1.0);
    let fail = c.get("uss_regressed").copied().unwrap_or(0);
    assert!(fail >= 900, "USS regressed in {fail}/1000: {c:?}");
    assert_eq!(c.get("exit1"), c.get("uss_regressed"));
}

#[test]
fn fifteen_percent_more_throughput_is_an_improvement() {
    let c = trials(3, 1.0, 1.15);
    let imp = c.get("tput_improved").copied().unwrap_or(0);
    assert!(imp >= 900, "throughput improved in {imp}/1000: {c:?}");
    assert!(c.get("exit1").copied().unwrap_or(0) <= 50, "{c:?}");
}

fn refused(r: anyhow::Result<impl std::fmt::Debug>, says: &str) {
    let e = r.expect_err("must be refused");
    assert!(e.downcast_ref::<BadInput>().is_some(), "{e:#}");
    assert!(
        format!("{e:#}").contains(says),
        "`{e:#}` should say `{says}`"
    );
}

#[test]
fn refusals_name_their_cause() {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(9);
    let good = run_with(&mut rng, 1e8, 1e3, 3, 0.01);
    let base = Baseline::from_run("host", &good);

    let mut partial = good.clone();
    partial.status = RunStatus::Partial;
    refused(
        compare_run(&base, &partial, CompareOpts::default()),
        "is partial",
    );
    let mut failed = good.clone();
    failed.status = RunStatus::Failed;
    refused(
        compare_run(&base, &failed, CompareOpts::default()),
        "failed",
    );
    let mut overloaded = good.clone();
    overloaded.host_load.overloaded = true;
    refused(
        compare_run(&base, &overloaded, CompareOpts::default()),
        "overloaded",
    );
    assert!(compare_run(
        &base,
        &overloaded,
        CompareOpts {
            allow_overloaded: true,
            ..Default::default()
        }
    )
    .is_ok());
    let mut other_host = good.clone();
    other_host.host.cpu_model = "Other CPU".into();
    refused(
        compare_run(&base, &other_host, CompareOpts::default()),
        "another host",
    );
    assert!(compare_run(
        &base,
        &other_host,
        CompareOpts {
            allow_host_mismatch: true,
            ..Default::default()
        }
    )
    .is_ok());
    let mut nothing = good.clone();
    nothing.lanes.clear();
    refused(
        compare_run(&base, &nothing, CompareOpts::default()),
        "nothing to compare",
    );
    let mut with_failed_cell = fixture();
    with_failed_cell.status = RunStatus::Complete;
    assert!(with_failed_cell.lanes[0]
        .cells
        .iter()
        .any(|c| c.status == CellStatus::Failed));
    refused(check_judgeable(&with_failed_cell, false), "failed cells");

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.json");
    refused(Baseline::load(&p), "cannot be read");
    std::fs::write(&p, "not json").unwrap();
    refused(Baseline::load(&p), "is not JSON");
    let mut v = serde_json::to_value(&base).unwrap();
    v["schema_version"] = "2.0".into();
    std::fs::write(&p, v.to_string()).unwrap();
    refused(Baseline::load(&p), "schema 2.0");
    let mut v = serde_json::to_value(&base).unwrap();
    v.as_object_mut().unwrap().remove("metrics");
    std::fs::write(&p, v.to_string()).unwrap();
    refused(Baseline::load(&p), "missing field `metrics`");
    std::fs::write(&p, serde_json::to_string(&base).unwrap()).unwrap();
    assert_eq!(Baseline::load(&p).unwrap().metrics.len(), 2);
}

#[test]
fn baseline_schema_is_checked_in_and_current() {
    let schema = schemars::schema_for!(Baseline);
    let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("baselines/schema.json");
    if std::env::var_os("RUNCOST_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == text,
        "baselines/schema.json is stale: rerun with RUNCOST_BLESS=1 and commit it"
    );
}

/// A scaling run whose only finding is `outcome` (no aggregates).
fn scaling_run(outcome: runcost_stats::powerlaw::ScalingOutcome) -> RunRecord {
    let mut r = fixture();
    r.status = RunStatus::Complete;
    r.status_reason = None;
    r.host_load.overloaded = false;
    r.lanes = vec![LaneRecord {
        lane: crate::results::LaneKind::Scaling,
        cells: vec![],
        aggregates: vec![],
        skipped: vec![],
        findings: vec![crate::results::Finding::Scaling {
            metric: MetricKind::Pss,
            parameter: "entities".into(),
            points: 9,
            outcome,
        }],
    }];
    r
}

#[test]
fn no_growth_against_growth_is_a_change() {
    use runcost_stats::powerlaw::{judge_scaling, PowerLawOptions, ScalingOutcome, ScalingPoint};
    let judged = |f: &dyn Fn(f64) -> f64| {
        let pts: Vec<ScalingPoint> = (0..3)
            .flat_map(|rep| {
                [1000.0, 10000.0, 100000.0].map(|n| ScalingPoint {
                    repeat_id: rep,
                    n,
                    cost: f(n) + 1e4 * f64::from(rep),
                })
            })
            .collect();
        judge_scaling(&pts, &PowerLawOptions::default()).unwrap()
    };
    let flat = judged(&|_| 30e6);
    let linear = judged(&|n| 30e6 + 300.0 * n);
    assert!(matches!(flat, ScalingOutcome::NoGrowth(_)), "{flat:?}");
    assert!(matches!(linear, ScalingOutcome::Fit(_)), "{linear:?}");
    let verdict = |b: &ScalingOutcome, c: &ScalingOutcome| {
        let base = Baseline::from_run("b", &scaling_run(b.clone()));
        let c = compare_run(&base, &scaling_run(c.clone()), CompareOpts::default()).unwrap();
        assert_eq!(c.rows.len(), 1);
        (c.rows[0].verdict, c.rows[0].note.clone().unwrap())
    };
    let (v, note) = verdict(&flat, &linear);
    assert_eq!(v, Verdict::Regressed, "{note}");
    assert!(note.starts_with("no growth → k "), "{note}");
    assert_eq!(verdict(&linear, &flat).0, Verdict::Improved);
    assert_eq!(verdict(&flat, &flat).0, Verdict::Ok);
}

#[test]
fn rows_show_the_means_the_gate_judged() {
    // Skewed repeats: the median (100) is not the mean (112 / 124), and the
    // change shown must be the change of the values shown.
    let mut rng = rand_pcg::Pcg64::seed_from_u64(4);
    let mut base_run = run_with(&mut rng, 1e8, 1e3, 5, 0.0);
    let mut cand_run = base_run.clone();
    let mib = 1048576.0;
    base_run.lanes[0].aggregates[0].per_repeat = [100.0, 100.0, 100.0, 130.0, 130.0]
        .map(|v| v * mib)
        .to_vec();
    cand_run.lanes[0].aggregates[0].per_repeat = [100.0, 100.0, 100.0, 160.0, 160.0]
        .map(|v| v * mib)
        .to_vec();
    let base = Baseline::from_run("b", &base_run);
    let c = compare_run(&base, &cand_run, CompareOpts::default()).unwrap();
    let uss = c.rows.iter().find(|r| r.label == "USS").unwrap();
    assert_eq!(uss.statistic, Statistic::Mean);
    assert!((uss.baseline - 112.0 * mib).abs() < 1.0, "{}", uss.baseline);
    assert!(
        (uss.candidate - 124.0 * mib).abs() < 1.0,
        "{}",
        uss.candidate
    );
    let shown = uss.candidate / uss.baseline - 1.0;
    assert!((uss.relative_change.unwrap() - shown).abs() < 1e-9);
}
