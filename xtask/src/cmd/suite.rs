//! `cargo xtask suite`: every lane of the profile's `suite:` into ONE run.
//! Each lane's arguments are its own command's flags, parsed and checked by
//! that command's planner, all before anything starts: a bad argument in
//! the last lane refuses the suite before the first one runs.

use crate::cli::{Cli, Cmd, SuiteArgs};
use crate::error::{bad_input, BadInput, ExitCode};
use crate::events::{Event, Events, Reporter};
use crate::profile::suite::{LaneFlags, SUITE_LANES};
use crate::results::suite::LaneStatus;
use crate::runner::{self, Common, Job, Planned, SuiteProgress};
use anyhow::Result;
use clap::Parser;
use runcost_stats::leak::LeakVerdict;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub async fn run(common: &Common, a: SuiteArgs) -> Result<ExitCode> {
    let profile = common.profile()?;
    let file = profile.path.display().to_string();
    let Some(spec) = &profile.spec.suite else {
        bad_input!(
            "{file}: the profile has no `suite:` section; list the lanes to run with their \
             arguments, e.g. `suite: {{ footprint: {{ repeats: 5 }}, scaling: {{ entities: [10, 100, 1000] }} }}` \
             (see README, \"One suite, one verdict\")"
        );
    };
    let text = std::fs::read_to_string(&profile.path).unwrap_or_default();
    let mut lanes = spec.lanes();
    for name in &a.only {
        if !SUITE_LANES.contains(&name.as_str()) {
            bad_input!(
                "--only {name}: no such lane; a suite's lanes are {}",
                SUITE_LANES.join(", ")
            );
        }
        if !lanes.iter().any(|(n, _)| n == name) {
            let listed: Vec<&str> = lanes.iter().map(|(n, _)| *n).collect();
            bad_input!(
                "--only {name}: {file} has no `suite.{name}`; its suite lists {}",
                listed.join(", ")
            );
        }
    }
    if !a.only.is_empty() {
        lanes.retain(|(n, _)| a.only.iter().any(|o| o == n));
    }
    // The profile's own flags, to tell a bad `--set` from a bad profile.
    let profiled = lanes.clone();
    for (key, value) in &a.set {
        apply_set(&mut lanes, key, value)?;
    }
    let mut planned = Vec::new();
    for (name, flags) in &lanes {
        let sets: Vec<String> = a
            .set
            .iter()
            .filter(|(k, _)| k.split_once('.').is_some_and(|(l, _)| l == *name))
            .map(|(k, v)| format!("--set {k}={v}"))
            .collect();
        let profile_parses = || {
            profiled
                .iter()
                .find(|(n, _)| n == name)
                .is_some_and(|(_, f)| Cli::try_parse_from(lane_argv(name, f, &a.env)).is_ok())
        };
        let at = |msg: String| -> anyhow::Error {
            if !sets.is_empty() && profile_parses() {
                return BadInput(format!(
                    "{}: {msg}; fix the value (a lane's fields are the flags of `cargo xtask \
                     {name}`, with `_` for `-`; a switch takes no value: `--set {name}.FIELD=`)",
                    sets.join(" ")
                ))
                .into();
            }
            let line = lane_line(&text, name)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            BadInput(format!(
                "{file}{line}: field `suite.{name}`: {msg}; fix the value (a lane's fields are \
                 the flags of `cargo xtask {name}`, with `_` for `-`)"
            ))
            .into()
        };
        let argv = lane_argv(name, flags, &a.env);
        let cli = Cli::try_parse_from(&argv).map_err(|e| at(clap_message(&e)))?;
        let p = match cli.cmd {
            Cmd::Footprint(x) => super::footprint::plan(&x),
            Cmd::Scaling(x) => super::scaling::plan_scaling(common, &x),
            Cmd::Sweep(x) => super::scaling::plan_sweep(common, &x),
            Cmd::Load(x) => super::load::plan(common, &x),
            Cmd::Fault(x) => super::fault::plan(&x),
            Cmd::Heap(x) => super::leaks::plan_heap(&x),
            Cmd::Memcheck(x) => super::leaks::plan_memcheck(&x),
            Cmd::Churn(x) => super::leaks::plan_churn(&x),
            _ => unreachable!("SUITE_LANES are lane commands"),
        }
        .map_err(|e| match e.downcast_ref::<BadInput>() {
            Some(b) => at(b.0.clone()),
            None => e,
        })?;
        p.job.validate(&profile)?;
        planned.push(p);
    }

    let names: Vec<&'static str> = lanes.iter().map(|(n, _)| *n).collect();
    let estimates: Vec<f64> = planned.iter().map(estimate_s).collect();
    let reporter = Reporter::new(common.quiet);
    let progress = Progress::new(&reporter, names.clone(), estimates);
    if !common.quiet {
        eprintln!(
            "runcost: suite of {}: {} (planned about {})",
            profile.name(),
            names.join(", "),
            show_s(progress.total)
        );
    }
    let outcome = runner::run_suite(common, &profile, planned, &progress, &progress).await?;
    drop(progress);
    drop(reporter);
    super::print_outcome(common, &outcome)?;
    let suite = outcome.record.suite.as_ref();
    let lanes = suite.map(|s| s.lanes.as_slice()).unwrap_or_default();
    if !common.json {
        for l in lanes {
            println!(
                "lane {:<10} {}{} ({})",
                l.lane.to_string(),
                l.status,
                l.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                show_s(l.seconds)
            );
        }
    }
    let leak = outcome
        .record
        .lanes
        .iter()
        .flat_map(|l| &l.findings)
        .any(|f| f.leak_verdict() == Some(LeakVerdict::Leak));
    // The worst outcome: a lane that could not measure, then a LEAK.
    Ok(if lanes.iter().any(|l| l.status != LaneStatus::Complete) {
        ExitCode::Refused
    } else if leak {
        ExitCode::Gate
    } else {
        ExitCode::Ok
    })
}

/// `--set LANE.FIELD=VALUE`: replaces (or adds) one field of one lane.
fn apply_set(lanes: &mut [(&'static str, LaneFlags)], key: &str, value: &str) -> Result<()> {
    let Some((lane, field)) = key.split_once('.') else {
        bad_input!("--set {key}={value}: write LANE.FIELD=VALUE, e.g. --set footprint.repeats=1");
    };
    let Some((_, flags)) = lanes.iter_mut().find(|(n, _)| *n == lane) else {
        let listed: Vec<&str> = lanes.iter().map(|(n, _)| *n).collect();
        bad_input!(
            "--set {key}: the suite runs no lane `{lane}`; it runs {}",
            listed.join(", ")
        );
    };
    let flag = format!("--{}", field.replace('_', "-"));
    let value = (!value.is_empty()).then(|| value.to_string());
    match flags
        .iter_mut()
        .find(|(f, _)| *f == flag && flag != "--env")
    {
        Some(slot) => slot.1 = value,
        None => flags.push((flag, value)),
    }
    Ok(())
}

/// The lane's command line: its flags, then the suite's `--env`s (which
/// win over the lane's own, as later ones do).
fn lane_argv(name: &str, flags: &LaneFlags, env: &[(String, String)]) -> Vec<String> {
    let mut argv = vec!["runcost".to_string(), name.to_string()];
    for (flag, value) in flags {
        match value {
            // `=` keeps values that start with `-` from reading as flags.
            Some(v) => argv.push(format!("{flag}={v}")),
            None => argv.push(flag.clone()),
        }
    }
    for (k, v) in env {
        argv.push(format!("--env={k}={v}"));
    }
    argv
}

/// clap's first line, without its `error:` prefix and usage.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("");
    first.trim_start_matches("error: ").to_string()
}

/// 1-based line of `LANE:` after the `suite:` line.
fn lane_line(text: &str, lane: &str) -> Option<usize> {
    let start = text.lines().position(|l| l.starts_with("suite:"))?;
    let needle = format!("{lane}:");
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| l.trim_start().starts_with(&needle))
        .map(|(i, _)| i + 1)
        .or(Some(start + 1))
}

/// Seconds a cell costs besides its window: start, readiness, warm-up, teardown.
const CELL_OVERHEAD_S: f64 = 15.0;

/// A rough wall-clock plan of a lane, for the ETA (the ETA rescales it by
/// how fast the finished part went).
fn estimate_s(p: &Planned) -> f64 {
    let s = |d: Duration| d.as_secs_f64();
    let window = s(p.opts.window);
    match &p.job {
        Job::Footprint(o) => o.repeats as f64 * (window + CELL_OVERHEAD_S),
        Job::Scaling(o) => (o.sizes.len() as u32 * o.repeats) as f64 * (window + CELL_OVERHEAD_S),
        Job::Sweep(o) => (o.values.len() as u32 * o.repeats) as f64 * (window + CELL_OVERHEAD_S),
        Job::Load(o) => {
            (o.rates.len().max(1) as u32 * o.repeats) as f64 * (s(o.duration) + CELL_OVERHEAD_S)
        }
        Job::Fault(o) => o.repeats as f64 * (s(o.before) + s(o.after) + CELL_OVERHEAD_S),
        Job::Churn(o) => 2.0 * (s(o.settle) + o.cycles as f64 * 0.1 + CELL_OVERHEAD_S),
        Job::Heap(o) => {
            (1.0 + f64::from(u8::from(o.overhead))) * (s(o.duration) + 2.0 * CELL_OVERHEAD_S)
        }
        Job::Memcheck(o) => s(o.duration) + 4.0 * CELL_OVERHEAD_S,
    }
}

fn show_s(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Lane i/n and cell j/m with an ETA, on top of the lanes' own events.
struct Progress<'r> {
    inner: &'r Reporter,
    names: Vec<&'static str>,
    estimates: Vec<f64>,
    total: f64,
    started: Instant,
    state: Mutex<(usize, f64)>,
}

impl<'r> Progress<'r> {
    fn new(inner: &'r Reporter, names: Vec<&'static str>, estimates: Vec<f64>) -> Progress<'r> {
        let total = estimates.iter().sum();
        Progress {
            inner,
            names,
            estimates,
            total,
            started: Instant::now(),
            state: Mutex::new((0, 0.0)),
        }
    }

    /// Planned seconds still to go at cell `index` of `of` in the current
    /// lane, rescaled by the pace so far.
    fn eta(&self, lane: usize, index: usize, of: usize) -> f64 {
        let before: f64 = self.estimates[..lane].iter().sum();
        let within = self.estimates[lane] * (index.saturating_sub(1)) as f64 / of.max(1) as f64;
        let done = before + within;
        let pace = if done > 0.0 {
            self.started.elapsed().as_secs_f64() / done
        } else {
            1.0
        };
        (self.total - done) * pace
    }
}

impl Events for Progress<'_> {
    fn emit(&self, event: Event) {
        if let Event::CellStarted { index, of, .. } = &event {
            let (lane, _) = *self.state.lock().unwrap_or_else(|p| p.into_inner());
            self.inner.emit(Event::Note(format!(
                "lane {}/{} {} · cell {index}/{of} · ETA {}",
                lane + 1,
                self.names.len(),
                self.names[lane],
                show_s(self.eta(lane, *index, *of))
            )));
        }
        self.inner.emit(event);
    }
}

impl SuiteProgress for Progress<'_> {
    fn lane_started(&self, i: usize) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = (i, 0.0);
        self.inner.emit(Event::Note(format!(
            "lane {}/{}: {} (planned about {})",
            i + 1,
            self.names.len(),
            self.names[i],
            show_s(self.estimates[i])
        )));
    }

    fn lane_done(&self, i: usize, status: LaneStatus, seconds: f64) {
        self.inner.emit(Event::Note(format!(
            "lane {}/{}: {} {status} after {}",
            i + 1,
            self.names.len(),
            self.names[i],
            show_s(seconds)
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes() -> Vec<(&'static str, LaneFlags)> {
        vec![("footprint", vec![("--repeats".into(), Some("5".into()))])]
    }

    #[test]
    fn set_replaces_or_adds_a_field() {
        let mut l = lanes();
        apply_set(&mut l, "footprint.repeats", "1").unwrap();
        apply_set(&mut l, "footprint.max_duration", "3s").unwrap();
        assert_eq!(
            l[0].1,
            vec![
                ("--repeats".to_string(), Some("1".to_string())),
                ("--max-duration".to_string(), Some("3s".to_string()))
            ]
        );
        for bad in ["repeats", "scaling.repeats"] {
            let e = apply_set(&mut l, bad, "1").unwrap_err();
            assert!(e.downcast_ref::<BadInput>().is_some(), "{bad}: {e}");
        }
    }

    #[test]
    fn lane_flags_parse_as_the_lane_command() {
        let argv = lane_argv("footprint", &lanes()[0].1, &[("A".into(), "-1".into())]);
        let cli = Cli::try_parse_from(&argv).unwrap();
        let Cmd::Footprint(f) = cli.cmd else {
            panic!("footprint")
        };
        assert_eq!(f.measure.repeats, 5);
        assert_eq!(f.measure.env, vec![("A".into(), "-1".into())]);
        let bad = lane_argv(
            "footprint",
            &vec![("--repeat".into(), Some("5".into()))],
            &[],
        );
        let e = Cli::try_parse_from(&bad).unwrap_err();
        assert!(
            clap_message(&e).contains("--repeat"),
            "{}",
            clap_message(&e)
        );
    }

    #[test]
    fn eta_rescales_the_plan_by_the_pace() {
        let r = Reporter::new(true);
        let p = Progress::new(&r, vec!["footprint", "scaling"], vec![100.0, 300.0]);
        // Nothing done yet: the plan itself.
        assert!((p.eta(0, 1, 4) - 400.0).abs() < 1e-6);
        // Half of the first lane done almost instantly: the rest looks short.
        assert!(p.eta(0, 3, 4) < 1.0);
        assert_eq!(show_s(125.0), "2m05s");
    }
}
