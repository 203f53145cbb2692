//! `cargo xtask selfcheck scaling`: the scaling lane against the gateway
//! with planted exponents. GROWTH_K sets total entity memory ∝ n^k; a large
//! BASE_MIB adds the constant a that biases log-log fits towards
//! "sublinear". Prints, per k, the truth, the estimate, the interval and the
//! verdict, and the wall time to each verdict.

use crate::error::ExitCode;
use crate::events::Reporter;
use crate::lanes::scaling::ScalingOpts;
use crate::results::{Finding, LaneKind, MetricKind, Settings};
use crate::runner::{self, Common, Job};
use anyhow::{Context, Result};
use runcost_stats::powerlaw::ScalingOutcome;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
struct Row {
    true_k: f64,
    run_id: String,
    k_hat: Option<f64>,
    ci: Option<(f64, f64)>,
    verdict: String,
    abs_error: Option<f64>,
    wall_s: f64,
}

pub async fn run(
    common: &Common,
    ks: &[f64],
    sizes: &[u64],
    repeats: u32,
    base_mib: u64,
    top_mib: u64,
) -> Result<ExitCode> {
    let max_n = *sizes.iter().max().context("no sizes")? as f64;
    let mut rows = Vec::new();
    for &k in ks {
        // Per-unit entity bytes so that the n^k part reaches `top_mib` at the largest size.
        let entity_bytes = ((top_mib as f64 * 1048576.0) / max_n.powf(k))
            .round()
            .max(1.0) as u64;
        let env = BTreeMap::from([
            ("GROWTH_K".to_string(), k.to_string()),
            ("ENTITY_BYTES".to_string(), entity_bytes.to_string()),
            ("BASE_MIB".to_string(), base_mib.to_string()),
            ("REFRESH_MS".to_string(), "0".to_string()),
        ]);
        let settings = Settings {
            lane: LaneKind::Scaling,
            repeats,
            rate_hz: 10.0,
            sampler: crate::probe::SamplerMode::Host,
            window_s: 3.0,
            env: env.clone(),
            lane_args: BTreeMap::from([("selfcheck_true_k".to_string(), k.to_string())]),
            command: Vec::new(),
        };
        let opts = crate::lanes::MeasureOpts {
            rate_hz: 10.0,
            sampler: crate::probe::SamplerMode::Host,
            window: Duration::from_secs(3),
            max_window: Duration::from_secs(10),
            ci_target: 0.002,
            stop_grace: Duration::from_secs(10),
        };
        let job = Job::Scaling(ScalingOpts {
            sizes: sizes.to_vec(),
            repeats,
            metrics: vec![MetricKind::Uss],
            env,
            seed: common.seed,
        });
        let reporter = Reporter::new(common.quiet);
        let t0 = Instant::now();
        let outcome = runner::run(common, settings, opts, job, &reporter).await?;
        drop(reporter);
        let wall_s = t0.elapsed().as_secs_f64();
        let finding = outcome
            .record
            .lanes
            .first()
            .and_then(|l| l.findings.first())
            .context("no finding")?;
        let Finding::Scaling { outcome: fit, .. } = finding else {
            anyhow::bail!("not a scaling finding");
        };
        let row = match fit {
            ScalingOutcome::Fit(f) => Row {
                true_k: k,
                run_id: outcome.run.id.clone(),
                k_hat: Some(f.k),
                ci: Some((f.k_ci.lower, f.k_ci.upper)),
                verdict: format!("{:?}", f.verdict).to_uppercase(),
                abs_error: Some((f.k - k).abs()),
                wall_s,
            },
            ScalingOutcome::NoVerdict { reason } => Row {
                true_k: k,
                run_id: outcome.run.id.clone(),
                k_hat: None,
                ci: None,
                verdict: format!("NO VERDICT: {reason}"),
                abs_error: None,
                wall_s,
            },
            ScalingOutcome::NoGrowth(_) | ScalingOutcome::NoFit(_) => Row {
                true_k: k,
                run_id: outcome.run.id.clone(),
                k_hat: None,
                ci: None,
                verdict: crate::report::words::finding(finding),
                abs_error: None,
                wall_s,
            },
        };
        rows.push(row);
    }
    if common.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::Ok);
    }
    println!(
        "sizes {:?}, {repeats} repeat(s), BASE_MIB={base_mib}, n^k part reaching {top_mib} MiB at n={max_n}",
        sizes
    );
    println!("| true k | k̂ | 95 % CI | verdict | expected | abs(k̂ − k) | wall | run |");
    println!("|---:|---:|---|---|---|---:|---:|---|");
    for r in &rows {
        let expected = if r.true_k < 0.9 {
            "SUBLINEAR"
        } else if r.true_k > 1.1 {
            "SUPERLINEAR"
        } else {
            "LINEAR"
        };
        println!(
            "| {} | {} | {} | {} | {expected} | {} | {:.0} s | `{}` |",
            r.true_k,
            r.k_hat
                .map(|k| format!("{k:.3}"))
                .unwrap_or_else(|| "—".into()),
            r.ci.map(|(a, b)| format!("[{a:.3}, {b:.3}]"))
                .unwrap_or_else(|| "—".into()),
            r.verdict,
            r.abs_error
                .map(|e| format!("{e:.3}"))
                .unwrap_or_else(|| "—".into()),
            r.wall_s,
            r.run_id
        );
    }
    Ok(ExitCode::Ok)
}
