//! `cargo xtask heap`, `memcheck` and `churn`: exit 1 on a LEAK verdict,
//! 2 when the measurement could not be made (results and the tools' output
//! are kept).

use crate::cli::{ChurnArgs, HeapArgs, MeasureArgs, MemcheckArgs, ToolArgs};
use crate::error::{bad_input, ExitCode};
use crate::events::Reporter;
use crate::lanes::churn::ChurnOpts;
use crate::lanes::heap::HeapOpts;
use crate::lanes::memcheck::MemcheckOpts;
use crate::lanes::MeasureOpts;
use crate::results::{LaneKind, Settings};
use crate::runner::{self, Common, Job, Planned};
use crate::units::HumanDuration;
use anyhow::Result;
use runcost_stats::leak::LeakVerdict;
use std::collections::BTreeMap;
use std::time::Duration;

fn settings(
    lane: LaneKind,
    duration: HumanDuration,
    rate: f64,
    sampler: crate::probe::SamplerMode,
    env: &[(String, String)],
) -> Result<(Settings, MeasureOpts)> {
    let m = MeasureArgs {
        repeats: 1,
        duration,
        max_duration: duration,
        ci_target: 0.0,
        rate,
        sampler,
        env: env.to_vec(),
    };
    super::measure_settings(lane, &m)
}

fn tool_settings(lane: LaneKind, t: &ToolArgs) -> Result<(Settings, MeasureOpts)> {
    if t.duration.0 < Duration::from_secs(1) {
        bad_input!("--duration {}: run the target for at least 1s", t.duration);
    }
    let (mut s, o) = settings(lane, t.duration, t.rate, t.sampler, &t.env)?;
    s.lane_args
        .insert("duration".into(), t.duration.to_string());
    s.lane_args.insert("cycles".into(), t.cycles.to_string());
    Ok((s, o))
}

pub async fn heap(common: &Common, a: HeapArgs) -> Result<ExitCode> {
    let (settings, opts, job) = plan_heap(&a)?.into_parts();
    finish(common, settings, opts, job).await
}

/// The heap lane's typed options from its flags (also for `suite`).
pub fn plan_heap(a: &HeapArgs) -> Result<Planned> {
    let (mut settings, opts) = tool_settings(LaneKind::Heap, &a.tool)?;
    settings
        .lane_args
        .insert("overhead".into(), (!a.no_overhead).to_string());
    let job = Job::Heap(HeapOpts {
        duration: a.tool.duration.0,
        cycles: a.tool.cycles,
        env: a.tool.env.iter().cloned().collect(),
        overhead: !a.no_overhead,
    });
    Ok(Planned {
        settings,
        opts,
        job,
    })
}

pub async fn memcheck(common: &Common, a: MemcheckArgs) -> Result<ExitCode> {
    let (settings, opts, job) = plan_memcheck(&a)?.into_parts();
    finish(common, settings, opts, job).await
}

/// The memcheck lane's typed options from its flags (also for `suite`).
pub fn plan_memcheck(a: &MemcheckArgs) -> Result<Planned> {
    let (settings, opts) = tool_settings(LaneKind::Memcheck, &a.tool)?;
    let job = Job::Memcheck(MemcheckOpts {
        duration: a.tool.duration.0,
        cycles: a.tool.cycles,
        env: a.tool.env.iter().cloned().collect(),
    });
    Ok(Planned {
        settings,
        opts,
        job,
    })
}

pub async fn churn(common: &Common, a: ChurnArgs) -> Result<ExitCode> {
    let (settings, opts, job) = plan_churn(&a)?.into_parts();
    finish(common, settings, opts, job).await
}

/// The churn lane's typed options from its flags (also for `suite`).
pub fn plan_churn(a: &ChurnArgs) -> Result<Planned> {
    if a.cycles == 0 || a.cycles > 1_000_000 {
        bad_input!("--cycles {}: give between 1 and 1000000 cycles", a.cycles);
    }
    // Refused here, before any target starts: the fit needs this many
    // cycles after the warm-up ones, and a run without a verdict is wasted.
    let min = runcost_stats::leak::LEAK_MIN_POINTS as u32;
    let fitted = a.cycles.saturating_sub(a.warmup_cycles);
    if fitted < min {
        bad_input!(
            "--cycles {} with --warmup-cycles {} leaves {fitted} cycles to fit; the fit needs at least {min}: --cycles N needs at least warm-up + LEAK_MIN_POINTS = {} (give --cycles {} or lower --warmup-cycles to {})",
            a.cycles,
            a.warmup_cycles,
            a.warmup_cycles.saturating_add(min),
            a.warmup_cycles.saturating_add(min),
            a.cycles.saturating_sub(min)
        );
    }
    let (mut settings, opts) = settings(
        LaneKind::Churn,
        HumanDuration(Duration::from_secs(1)),
        10.0,
        a.sampler,
        &a.env,
    )?;
    settings.window_s = 0.0;
    settings.lane_args = BTreeMap::from([
        ("cycles".to_string(), a.cycles.to_string()),
        ("warmup_cycles".to_string(), a.warmup_cycles.to_string()),
        ("settle".to_string(), a.settle.to_string()),
    ]);
    let metrics: Vec<_> = a.metrics.iter().map(|m| m.kind()).collect();
    if !metrics.is_empty() {
        settings.lane_args.insert(
            "metrics".into(),
            crate::results::MetricKind::names(&metrics),
        );
    }
    let job = Job::Churn(ChurnOpts {
        cycles: a.cycles,
        warmup_cycles: a.warmup_cycles,
        metrics,
        settle: a.settle.0,
        env: a.env.iter().cloned().collect(),
    });
    Ok(Planned {
        settings,
        opts,
        job,
    })
}

/// Runs the lane, prints its verdicts, and turns a LEAK into exit code 1.
async fn finish(
    common: &Common,
    settings: Settings,
    opts: MeasureOpts,
    job: Job,
) -> Result<ExitCode> {
    let reporter = Reporter::new(common.quiet);
    let outcome = runner::run(common, settings, opts, job, &reporter).await?;
    drop(reporter);
    let leak = outcome
        .record
        .lanes
        .iter()
        .flat_map(|l| &l.findings)
        .any(|f| f.leak_verdict() == Some(LeakVerdict::Leak));
    if common.json {
        println!("{}", serde_json::to_string_pretty(&outcome.record)?);
    } else {
        for lane in &outcome.record.lanes {
            for f in &lane.findings {
                println!("{}", crate::report::words::finding(f));
            }
            for s in &lane.skipped {
                println!("note: {s}");
            }
        }
        println!("report: {}", outcome.run.path("report.md").display());
    }
    Ok(if leak { ExitCode::Gate } else { ExitCode::Ok })
}
