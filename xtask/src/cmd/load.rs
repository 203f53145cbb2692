//! `cargo xtask load`.

use crate::cli::LoadArgs;
use crate::error::{bad_input, ExitCode};
use crate::events::Reporter;
use crate::lanes::load::{LoadMode, LoadOpts};
use crate::lanes::MeasureOpts;
use crate::results::{LaneKind, Settings};
use crate::runner::{self, Common, Job, Planned};
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::Duration;

pub async fn run(common: &Common, a: LoadArgs) -> Result<ExitCode> {
    let (settings, opts, job) = plan(common, &a)?.into_parts();
    let reporter = Reporter::new(common.quiet);
    let outcome = runner::run(common, settings, opts, job, &reporter).await?;
    drop(reporter);
    if common.json {
        println!("{}", serde_json::to_string_pretty(&outcome.record)?);
        return Ok(ExitCode::Ok);
    }
    for lane in &outcome.record.lanes {
        for c in &lane.cells {
            if let Some(r) = &c.load {
                println!("{:<22} {}", c.id, r.summary());
            }
            for h in &c.hold {
                println!("{:<22} {}", "", h.summary());
            }
            if let Some(t) = &c.tool {
                println!(
                    "{:<22} {} (the tool's closed-loop figures)",
                    c.id,
                    crate::report::tool::summary(t)
                );
            }
        }
        for s in &lane.skipped {
            println!("note: {s}");
        }
    }
    println!("report: {}", outcome.run.path("report.md").display());
    Ok(ExitCode::Ok)
}

/// The lane's typed options from its flags (also for `suite`).
pub fn plan(common: &Common, a: &LoadArgs) -> Result<Planned> {
    let rates = parse_rates(&a.rate, a.mode)?;
    let (duration, warmup) = (a.duration.0, a.warmup.0);
    if duration <= warmup || duration - warmup < Duration::from_secs(1) {
        bad_input!(
            "--duration {} is too short for --warmup {}: the measured part (duration − warm-up) must be at least 1s",
            a.duration,
            a.warmup
        );
    }
    if let Some(c) = a.connections {
        if !(1..=10_000).contains(&c) {
            bad_input!("--connections {c}: must be between 1 and 10000");
        }
    }
    if !(0.1..=1000.0).contains(&a.sample_rate) {
        bad_input!(
            "--sample-rate {}: must be between 0.1 and 1000",
            a.sample_rate
        );
    }
    let env: BTreeMap<String, String> = a.env.iter().cloned().collect();
    let settings = Settings {
        lane: LaneKind::Load,
        repeats: a.repeats,
        rate_hz: a.sample_rate,
        sampler: a.sampler,
        window_s: (duration - warmup).as_secs_f64(),
        env: env.clone(),
        lane_args: BTreeMap::from([
            ("mode".to_string(), format!("{:?}", a.mode).to_lowercase()),
            ("rates".to_string(), a.rate.join(",")),
            ("duration".to_string(), a.duration.to_string()),
            ("warmup".to_string(), a.warmup.to_string()),
        ]),
        command: Vec::new(),
    };
    let opts = MeasureOpts {
        rate_hz: a.sample_rate,
        sampler: a.sampler,
        window: duration - warmup,
        max_window: duration - warmup,
        ci_target: 0.0,
        stop_grace: Duration::from_secs(10),
    };
    let job = Job::Load(LoadOpts {
        mode: a.mode,
        rates,
        duration,
        warmup,
        connections: a.connections,
        repeats: a.repeats,
        env,
        seed: common.seed,
    });
    Ok(Planned {
        settings,
        opts,
        job,
    })
}

/// `--rate`: positive numbers, distinct; none in closed loop.
pub fn parse_rates(raw: &[String], mode: LoadMode) -> Result<Vec<f64>> {
    if mode == LoadMode::Closed {
        if !raw.is_empty() {
            bad_input!("--rate has no meaning with --mode closed (it sends as fast as answers come); drop --rate");
        }
        return Ok(Vec::new());
    }
    if mode == LoadMode::Tool {
        if !raw.is_empty() {
            bad_input!("--rate has no meaning with --mode tool (the profile's `load.tool` argv sets the tool's load); drop --rate");
        }
        return Ok(Vec::new());
    }
    if raw.is_empty() {
        bad_input!(
            "--rate is required in open loop: give requests per second, e.g. --rate 100,500,1000"
        );
    }
    let mut rates = Vec::new();
    for s in raw {
        match s.trim().parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 && r <= 1e7 => rates.push(r),
            _ => bad_input!("--rate: `{s}` is not a rate; give positive requests per second, e.g. --rate 100,500"),
        }
    }
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        bad_input!("--rate: a rate appears twice; give each once");
    }
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_validated() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_rates(&v(&["500", "100"]), LoadMode::Open).unwrap(),
            vec![100.0, 500.0]
        );
        for bad in [v(&["0"]), v(&["-5"]), v(&["x"]), v(&["10", "10"]), v(&[])] {
            assert!(parse_rates(&bad, LoadMode::Open).is_err(), "{bad:?}");
        }
        assert!(parse_rates(&v(&["10"]), LoadMode::Closed).is_err());
        assert!(parse_rates(&[], LoadMode::Closed).unwrap().is_empty());
    }
}
