//! Compare on synthetic runs: error rates of the whole gate under noise,
//! and every refusal.

use super::judge::{check_judgeable, CompareOpts};
use super::*;
use crate::error::BadInput;
use crate::profile::thresholds::GateRules;
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
        let base = Baseline::from_run(
            "b",
            &run_with(&mut rng, 200e6, 5000.0, 5, 0.03),
            &GateRules::default(),
        );
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
    let base = Baseline::from_run("host", &good, &GateRules::default());

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
        "lacks what baseline host has: lane(s) footprint",
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
        let base = Baseline::from_run("b", &scaling_run(b.clone()), &GateRules::default());
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
    let base = Baseline::from_run("b", &base_run, &GateRules::default());
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

/// A complete run of every lane (results::example's, failed cells dropped).
fn suite_run() -> RunRecord {
    let mut r = crate::results::example::every_kind();
    r.status = RunStatus::Complete;
    r.status_reason = None;
    for l in &mut r.lanes {
        l.cells.retain(|c| c.status != CellStatus::Failed);
    }
    r
}

fn judged(base: &RunRecord, cand: &RunRecord) -> Comparison {
    let b = Baseline::from_run("suite", base, &GateRules::default());
    compare_run(&b, cand, CompareOpts::default()).unwrap()
}

fn verdict_of(c: &Comparison, key: &str) -> Verdict {
    c.rows
        .iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("no row {key}: {:?}", keys(c)))
        .verdict
}

fn keys(c: &Comparison) -> Vec<&str> {
    c.rows.iter().map(|r| r.key.as_str()).collect()
}

#[test]
fn every_lane_is_judged_and_an_unchanged_suite_passes() {
    let run = suite_run();
    let c = judged(&run, &run);
    let lanes: std::collections::BTreeSet<_> = c.rows.iter().map(|r| r.lane).collect();
    for lane in [
        LaneKind::Footprint,
        LaneKind::Scaling,
        LaneKind::Sweep,
        LaneKind::Load,
        LaneKind::Heap,
        LaneKind::Memcheck,
        LaneKind::Churn,
        LaneKind::Fault,
    ] {
        assert!(lanes.contains(&lane), "{lane} not judged: {:?}", keys(&c));
    }
    for key in [
        "scaling/uss/exponent/entities",
        "fault/fault_peak/metric=uss",
        "fault/fault_recovery/metric=cgroup_mem",
        "fault/fault_retained/metric=uss",
        "fault/fault_verdict",
        "heap/heap_leaked",
        "heap/heap_peak",
        "memcheck/definitely_lost",
        "memcheck/possibly_lost",
        "memcheck/memory_errors",
        "churn/churn_slope/metric=pss_anon",
        "churn/leak_verdict",
        "load/throughput/rate=200",
    ] {
        assert_eq!(verdict_of(&c, key), Verdict::Ok, "{key}");
    }
    // The heap lane's baseline already leaked: a LEAK again is a warning,
    // never a regression.
    assert_eq!(verdict_of(&c, "heap/leak_verdict"), Verdict::Warn);
    assert_ne!(c.worst(), Verdict::Regressed);
}

#[test]
fn planted_changes_in_three_lanes_are_each_named() {
    let base = suite_run();
    let mut cand = base.clone();
    for l in &mut cand.lanes {
        match l.lane {
            // 30 % less throughput.
            LaneKind::Footprint => l.aggregates[0]
                .per_repeat
                .iter_mut()
                .for_each(|v| *v *= 0.7),
            // k 1.02 → 1.52, same interval width.
            LaneKind::Scaling => {
                for f in &mut l.findings {
                    if let Finding::Scaling {
                        outcome: runcost_stats::ScalingOutcome::Fit(fit),
                        ..
                    } = f
                    {
                        fit.k += 0.5;
                        fit.k_ci.lower += 0.5;
                        fit.k_ci.upper += 0.5;
                    }
                }
            }
            // NO LEAK → LEAK.
            LaneKind::Churn => {
                for f in &mut l.findings {
                    if let Finding::Churn(c) = f {
                        c.verdict = runcost_stats::LeakVerdict::Leak;
                    }
                }
            }
            _ => {}
        }
    }
    let c = judged(&base, &cand);
    assert_eq!(c.worst(), Verdict::Regressed);
    let regressed: Vec<&str> = c
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regressed)
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(
        regressed,
        [
            "footprint/throughput/rate=200",
            "scaling/uss/exponent/entities",
            "churn/leak_verdict"
        ],
        "{:#?}",
        c.rows
    );
    let table =
        crate::report::format::Format::render(&crate::report::compare::CompareTable, &c).unwrap();
    for key in &regressed {
        assert!(
            table.contains(&format!("`{key}`")),
            "summary names {key}:\n{table}"
        );
    }
}

#[test]
fn single_values_and_leak_counts_gate_by_themselves() {
    let base = suite_run();
    let mut cand = base.clone();
    for l in &mut cand.lanes {
        for f in &mut l.findings {
            match f {
                Finding::Memcheck(m) => m.leaks.definitely_lost.bytes += 16,
                Finding::Heap(h) => h.peak_heap_bytes = h.peak_heap_bytes.map(|b| b / 2),
                _ => {}
            }
        }
    }
    let c = judged(&base, &cand);
    // Any definitely lost byte more is a regression; half the peak heap an
    // improvement.
    assert_eq!(
        verdict_of(&c, "memcheck/definitely_lost"),
        Verdict::Regressed
    );
    assert_eq!(verdict_of(&c, "heap/heap_peak"), Verdict::Improved);
    let row = c.rows.iter().find(|r| r.key == "heap/heap_peak").unwrap();
    assert_eq!(row.statistic, Statistic::Value);
}

#[test]
fn a_run_without_the_baselines_lanes_or_items_is_refused_naming_them() {
    let base = suite_run();
    let b = Baseline::from_run("suite", &base, &GateRules::default());
    let mut no_fault = base.clone();
    no_fault
        .lanes
        .retain(|l| l.lane != LaneKind::Fault && l.lane != LaneKind::Heap);
    refused(
        compare_run(&b, &no_fault, CompareOpts::default()),
        "lane(s) heap, fault",
    );
    let mut no_item = base.clone();
    for l in &mut no_item.lanes {
        if l.lane == LaneKind::Load {
            l.aggregates.clear();
        }
    }
    refused(
        compare_run(&b, &no_item, CompareOpts::default()),
        "item(s) load/throughput/rate=200",
    );
}

/// A footprint run with the cgroup's memory kinds a database shows.
fn db_run(rng: &mut rand_pcg::Pcg64, shmem: f64) -> RunRecord {
    let mut r = run_with(rng, 30e6, 1000.0, 5, 0.01);
    for (metric, mean) in [
        (MetricKind::CgroupShmem, shmem),
        (MetricKind::CgroupShmemFile, shmem + 40e6),
    ] {
        let per_repeat: Vec<f64> = (0..5).map(|_| mean * (1.0 + 0.01 * normal(rng))).collect();
        r.lanes[0].aggregates.push(Aggregate {
            metric,
            unit: metric.unit(),
            direction: metric.direction(),
            params: BTreeMap::new(),
            n: 5,
            tier: "small".into(),
            median: per_repeat[2],
            mean,
            iqr: None,
            ci95: None,
            per_repeat,
        });
    }
    r
}

#[test]
fn more_shared_buffers_regress_on_cgroup_shared_memory() {
    // PostgreSQL touching shared_buffers 128 MiB → 256 MiB: no process's
    // USS moves, the cgroup's shmem does.
    let mut rng = rand_pcg::Pcg64::seed_from_u64(21);
    let mib = 1048576.0;
    let base = db_run(&mut rng, 128.0 * mib);
    let cand = db_run(&mut rng, 256.0 * mib);
    let c = judged(&base, &cand);
    assert_eq!(verdict_of(&c, "footprint/cgroup_shmem"), Verdict::Regressed);
    assert_eq!(
        verdict_of(&c, "footprint/cgroup_shmem_file"),
        Verdict::Regressed
    );
    assert_eq!(verdict_of(&c, "footprint/uss"), Verdict::Ok);
}

fn rules(yaml: &str) -> GateRules {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn profile_thresholds_are_applied_and_recorded_in_the_baseline() {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(22);
    let base_run = run_with(&mut rng, 100e6, 1000.0, 5, 0.005);
    let cand = run_with(&mut rng, 107e6, 1000.0, 5, 0.005);
    // +7 % USS: WARN by default (+5 %/+10 %), REGRESSED at +5 %.
    let default = Baseline::from_run("b", &base_run, &GateRules::default());
    let c = compare_run(&default, &cand, CompareOpts::default()).unwrap();
    assert_eq!(verdict_of(&c, "footprint/uss"), Verdict::Warn);
    let strict = rules("thresholds:\n  footprint/uss: { warn: 2 %, regress: 5 % }\n");
    let b = Baseline::from_run("b", &base_run, &strict);
    assert_eq!(b.rules, strict);
    let uss = b.metrics.iter().find(|m| m.key == "footprint/uss").unwrap();
    assert_eq!((uss.thresholds.warn, uss.thresholds.regress), (0.02, 0.05));
    let c = compare_run(&b, &cand, CompareOpts::default()).unwrap();
    assert_eq!(verdict_of(&c, "footprint/uss"), Verdict::Regressed);
    // The baseline file keeps them.
    let text = serde_json::to_string(&b).unwrap();
    let back: Baseline = serde_json::from_str(&text).unwrap();
    assert_eq!(back.rules, strict);
}

#[test]
fn budgets_fail_on_the_interval_and_warn_on_the_estimate() {
    use super::budget::budget_rows;
    let mib = 1048576.0;
    let mut run = run_with(
        &mut rand_pcg::Pcg64::seed_from_u64(23),
        60.0 * mib,
        1000.0,
        5,
        0.0,
    );
    let set = |run: &mut RunRecord, v: [f64; 5]| {
        run.lanes[0].aggregates[0].per_repeat = v.iter().map(|x| x * mib).collect();
    };
    let verdict = |run: &RunRecord, budget: &str| {
        let rows = budget_rows(run, &rules(budget), "p.yaml").unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        rows[0].verdict
    };
    let uss = "budgets:\n  footprint/uss: { max: 64 MiB }\n";
    // All repeats well over: the interval is over.
    set(&mut run, [70.0, 71.0, 70.5, 69.5, 70.0]);
    assert_eq!(verdict(&run, uss), Verdict::Regressed);
    // Mean 64.4 over 64 but the interval reaches under it.
    set(&mut run, [62.0, 67.0, 63.0, 66.0, 64.0]);
    assert_eq!(verdict(&run, uss), Verdict::Warn);
    set(&mut run, [60.0, 61.0, 60.5, 59.5, 60.0]);
    assert_eq!(verdict(&run, uss), Verdict::Ok);
    // A floor on throughput, and a count that must stay 0.
    let tput = "budgets:\n  throughput: { min: 2000/s }\n";
    assert_eq!(verdict(&run, tput), Verdict::Regressed);
    let suite = suite_run();
    let lost = "budgets:\n  memcheck/definitely_lost: { max: 0 }\n";
    assert_eq!(verdict(&suite, lost), Verdict::Regressed);
    // A budget on nothing the run has is refused.
    refused(
        budget_rows(&run, &rules(lost), "p.yaml"),
        "memcheck/definitely_lost cover(s) nothing",
    );
}
