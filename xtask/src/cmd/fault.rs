//! `cargo xtask fault`.

use crate::cli::FaultArgs;
use crate::error::{bad_input, ExitCode};
use crate::events::Reporter;
use crate::lanes::fault::FaultOpts;
use crate::lanes::MeasureOpts;
use crate::results::{LaneKind, Settings};
use crate::runner::{self, Common, Job, Planned};
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::Duration;

pub async fn run(common: &Common, a: FaultArgs) -> Result<ExitCode> {
    let (settings, opts, job) = plan(&a)?.into_parts();
    let reporter = Reporter::new(common.quiet);
    let outcome = runner::run(common, settings, opts, job, &reporter).await?;
    drop(reporter);
    if common.json {
        println!("{}", serde_json::to_string_pretty(&outcome.record)?);
    } else {
        for lane in &outcome.record.lanes {
            for f in &lane.findings {
                println!("{}", crate::report::words::finding(f));
            }
        }
        println!("report: {}", outcome.run.path("report.md").display());
    }
    Ok(ExitCode::Ok)
}

/// The lane's typed options from its flags (also for `suite`).
pub fn plan(a: &FaultArgs) -> Result<Planned> {
    if a.burst == 0 {
        bad_input!("--burst 0: a burst needs at least one fault");
    }
    if !(20.0..=1000.0).contains(&a.sample_rate) {
        bad_input!("--sample-rate {}: the fault lane samples at 20 to 1000 Hz so it does not miss the peak", a.sample_rate);
    }
    if !(1.0..=200.0).contains(&a.probe_rate) {
        bad_input!(
            "--probe-rate {}: must be between 1 and 200 requests per second",
            a.probe_rate
        );
    }
    if !(0.0..1.0).contains(&a.band) || a.band == 0.0 {
        bad_input!("--band {}: a fraction in (0, 1), e.g. 0.05", a.band);
    }
    if a.before.0 < Duration::from_secs(1) || a.after.0 < Duration::from_secs(2) {
        bad_input!(
            "--before must be at least 1s and --after at least 2s (got {} and {})",
            a.before,
            a.after
        );
    }
    let env: BTreeMap<String, String> = a.env.iter().cloned().collect();
    let settings = Settings {
        lane: LaneKind::Fault,
        repeats: a.repeats,
        rate_hz: a.sample_rate,
        sampler: a.sampler,
        window_s: (a.before.0 + a.after.0).as_secs_f64(),
        env: env.clone(),
        lane_args: BTreeMap::from([
            ("burst".to_string(), a.burst.to_string()),
            ("before".to_string(), a.before.to_string()),
            ("after".to_string(), a.after.to_string()),
            ("probe_rate".to_string(), a.probe_rate.to_string()),
            ("band".to_string(), a.band.to_string()),
        ]),
        command: Vec::new(),
    };
    let opts = MeasureOpts {
        rate_hz: a.sample_rate,
        sampler: a.sampler,
        window: a.before.0 + a.after.0,
        max_window: a.before.0 + a.after.0,
        ci_target: 0.0,
        stop_grace: Duration::from_secs(10),
    };
    let job = Job::Fault(FaultOpts {
        burst: a.burst,
        repeats: a.repeats,
        before: a.before.0,
        after: a.after.0,
        probe_rate: a.probe_rate,
        band_frac: a.band,
        env,
    });
    Ok(Planned {
        settings,
        opts,
        job,
    })
}
