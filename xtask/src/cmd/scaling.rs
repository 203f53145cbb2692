//! `cargo xtask scaling` and `cargo xtask sweep`.

use crate::cli::{ScalingArgs, SweepArgs};
use crate::error::{bad_input, ExitCode};
use crate::events::Reporter;
use crate::lanes::scaling::ScalingOpts;
use crate::lanes::sweep::SweepOpts;
use crate::results::LaneKind;
use crate::runner::{self, Common, Job, Planned};
use anyhow::Result;

pub async fn scaling(common: &Common, args: ScalingArgs) -> Result<ExitCode> {
    let (settings, opts, job) = plan_scaling(common, &args)?.into_parts();
    let reporter = Reporter::new(common.quiet);
    let outcome = runner::run(common, settings, opts, job, &reporter).await?;
    drop(reporter);
    super::print_outcome(common, &outcome)?;
    Ok(ExitCode::Ok)
}

/// The scaling lane's typed options from its flags (also for `suite`).
pub fn plan_scaling(common: &Common, args: &ScalingArgs) -> Result<Planned> {
    let sizes = parse_sizes(&args.entities)?;
    let (mut settings, opts) = super::measure_settings(LaneKind::Scaling, &args.measure)?;
    let profile = common.profile()?;
    // Held connections are entities that cost the harness file descriptors.
    if profile
        .spec
        .entities
        .as_ref()
        .is_some_and(|e| e.hold.is_some())
    {
        if let Some(&max) = sizes.last() {
            if let Err(m) = crate::profile::hold::check_count(max) {
                bad_input!(
                    "--entities {max}: the profile {} holds one connection per entity: {m}",
                    profile.path.display()
                );
            }
        }
    }
    let mut metrics: Vec<_> = args.metric.iter().map(|m| m.kind()).collect();
    if metrics.is_empty() {
        metrics.push(
            profile
                .spec
                .entities
                .as_ref()
                .and_then(|e| e.metric)
                .unwrap_or(crate::results::MetricKind::Uss),
        );
    }
    settings
        .lane_args
        .insert("entities".into(), args.entities.join(","));
    settings.lane_args.insert(
        "metric".into(),
        metrics
            .iter()
            .map(|m| m.label())
            .collect::<Vec<_>>()
            .join(","),
    );
    let job = Job::Scaling(ScalingOpts {
        sizes,
        repeats: args.measure.repeats,
        metrics,
        env: args.measure.env.iter().cloned().collect(),
        seed: common.seed,
    });
    Ok(Planned {
        settings,
        opts,
        job,
    })
}

pub async fn sweep(common: &Common, args: SweepArgs) -> Result<ExitCode> {
    let (settings, opts, job) = plan_sweep(common, &args)?.into_parts();
    let reporter = Reporter::new(common.quiet);
    let outcome = runner::run(common, settings, opts, job, &reporter).await?;
    drop(reporter);
    super::print_outcome(common, &outcome)?;
    Ok(ExitCode::Ok)
}

/// The sweep lane's typed options from its flags (also for `suite`).
pub fn plan_sweep(common: &Common, args: &SweepArgs) -> Result<Planned> {
    let (knob, values) = parse_knob(&args.knob)?;
    let (mut settings, opts) = super::measure_settings(LaneKind::Sweep, &args.measure)?;
    settings.lane_args.insert("knob".into(), args.knob.clone());
    let job = Job::Sweep(SweepOpts {
        knob,
        values,
        repeats: args.measure.repeats,
        env: args.measure.env.iter().cloned().collect(),
        seed: common.seed,
    });
    Ok(Planned {
        settings,
        opts,
        job,
    })
}

/// `--entities`: positive integers, no duplicates, at least two.
pub fn parse_sizes(raw: &[String]) -> Result<Vec<u64>> {
    let mut sizes = Vec::with_capacity(raw.len());
    for s in raw {
        match s.trim().parse::<u64>() {
            Ok(n) if n > 0 => sizes.push(n),
            _ => bad_input!(
                "--entities: `{s}` is not a positive integer; give counts like --entities 10,30,100"
            ),
        }
    }
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        bad_input!("--entities: {} appears twice; give each count once", w[0]);
    }
    if sizes.len() < 2 {
        bad_input!(
            "--entities: one size cannot show how cost scales; give at least 3 counts spanning a decade, e.g. 10,30,100"
        );
    }
    Ok(sorted)
}

/// `--knob NAME=v1,v2,...`: a name and at least two distinct values.
pub fn parse_knob(raw: &str) -> Result<(String, Vec<String>)> {
    let Some((name, values)) = raw.split_once('=') else {
        bad_input!("--knob {raw}: write NAME=v1,v2,... (e.g. --knob refresh_ms=50,100,200)");
    };
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if name.trim().is_empty() {
        bad_input!("--knob {raw}: the knob name is empty; write NAME=v1,v2,...");
    }
    let mut uniq = values.clone();
    uniq.sort();
    uniq.dedup();
    if uniq.len() != values.len() {
        bad_input!("--knob {raw}: a value appears twice; give each value once");
    }
    if values.len() < 2 {
        bad_input!("--knob {raw}: a sweep needs at least two values");
    }
    Ok((name.trim().to_string(), values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn sizes_are_validated_with_the_fix_in_the_message() {
        assert_eq!(
            parse_sizes(&v(&["100", "10", "30"])).unwrap(),
            vec![10, 30, 100]
        );
        for (bad, says) in [
            (v(&["10", "x"]), "not a positive integer"),
            (v(&["10", "0"]), "not a positive integer"),
            (v(&["10", "-5"]), "not a positive integer"),
            (v(&["10", "10", "100"]), "appears twice"),
            (v(&["10"]), "one size"),
        ] {
            let e = parse_sizes(&bad).unwrap_err();
            assert!(e.downcast_ref::<crate::error::BadInput>().is_some());
            assert!(format!("{e}").contains(says), "{e}");
        }
    }

    #[test]
    fn knob_values_are_validated() {
        assert_eq!(
            parse_knob("refresh_ms=50,100").unwrap(),
            ("refresh_ms".into(), v(&["50", "100"]))
        );
        assert!(parse_knob("refresh_ms").is_err());
        assert!(parse_knob("refresh_ms=50").is_err());
        assert!(parse_knob("refresh_ms=50,50").is_err());
        assert!(parse_knob("=1,2").is_err());
    }
}
