//! The profile's `suite:` section: which lanes `suite` runs, in this order,
//! each with the arguments its own command takes (the flag names with `_`
//! for `-`; a field left out takes the command's default). Unknown lanes
//! and arguments are refused by the parser with the line and the names it
//! accepts; values are checked by the lane's own command before anything
//! runs (`cmd::suite`).

use crate::units::HumanDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `suite:`: one entry per lane, every entry optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    #[serde(default)]
    pub footprint: Option<MeasureLane>,
    #[serde(default)]
    pub scaling: Option<ScalingLane>,
    #[serde(default)]
    pub sweep: Option<SweepLane>,
    #[serde(default)]
    pub load: Option<LoadLane>,
    #[serde(default)]
    pub fault: Option<FaultLane>,
    #[serde(default)]
    pub churn: Option<ChurnLane>,
    #[serde(default)]
    pub heap: Option<HeapLane>,
    #[serde(default)]
    pub memcheck: Option<ToolLane>,
}

/// The lanes a suite can hold, in the order it runs them: the cheap
/// steady-state lanes first, the slow tool lanes last.
pub const SUITE_LANES: [&str; 8] = [
    "footprint",
    "scaling",
    "sweep",
    "load",
    "fault",
    "churn",
    "heap",
    "memcheck",
];

/// A lane's arguments as the flags of its command: (`--flag`, values).
/// A flag with no value is a switch; a list is one comma-joined value.
pub type LaneFlags = Vec<(String, Option<String>)>;

impl SuiteSpec {
    /// Every lane a suite can hold, in run order, with its entry if listed:
    /// the one table `lanes` and `env_maps` read, so a new lane is one line.
    fn entries(&self) -> [(&'static str, Option<&dyn LaneArgs>); 8] {
        fn dy<T: LaneArgs>(l: &Option<T>) -> Option<&dyn LaneArgs> {
            l.as_ref().map(|l| l as &dyn LaneArgs)
        }
        [
            ("footprint", dy(&self.footprint)),
            ("scaling", dy(&self.scaling)),
            ("sweep", dy(&self.sweep)),
            ("load", dy(&self.load)),
            ("fault", dy(&self.fault)),
            ("churn", dy(&self.churn)),
            ("heap", dy(&self.heap)),
            ("memcheck", dy(&self.memcheck)),
        ]
    }

    /// The lanes listed, in run order, with their flags.
    pub fn lanes(&self) -> Vec<(&'static str, LaneFlags)> {
        self.entries()
            .into_iter()
            .filter_map(|(n, l)| Some((n, l?.flags())))
            .collect()
    }

    /// Every `env:` map of the suite's lanes, with the lane's name.
    pub fn env_maps(&self) -> Vec<(&'static str, &BTreeMap<String, String>)> {
        self.entries()
            .into_iter()
            .filter_map(|(n, l)| Some((n, l?.env())))
            .collect()
    }
}

/// What a lane's entry gives the suite: its command's flags and its `env:`.
trait LaneArgs {
    fn flags(&self) -> LaneFlags;
    fn env(&self) -> &BTreeMap<String, String>;
}

/// The measurement arguments `footprint`, `scaling` and `sweep` share.
/// (serde cannot `flatten` a struct under `deny_unknown_fields`, so each
/// lane declares the fields and borrows them into this view.)
struct Measure<'a> {
    repeats: Option<u32>,
    duration: Option<HumanDuration>,
    max_duration: Option<HumanDuration>,
    ci_target: Option<f64>,
    rate: Option<f64>,
    sampler: &'a Option<String>,
    env: &'a BTreeMap<String, String>,
}

impl Measure<'_> {
    fn push(&self, f: &mut Flags) {
        f.opt("--repeats", &self.repeats)
            .opt("--duration", &self.duration)
            .opt("--max-duration", &self.max_duration)
            .opt("--ci-target", &self.ci_target)
            .opt("--rate", &self.rate)
            .opt("--sampler", self.sampler)
            .env(self.env);
    }
}

/// Borrows a lane's measurement fields (every lane that has them names
/// them alike).
macro_rules! measure_of {
    ($l:expr) => {
        Measure {
            repeats: $l.repeats,
            duration: $l.duration,
            max_duration: $l.max_duration,
            ci_target: $l.ci_target,
            rate: $l.rate,
            sampler: &$l.sampler,
            env: &$l.env,
        }
    };
}

/// Flags as they are built: one push per field that is set.
#[derive(Default)]
struct Flags(LaneFlags);

impl Flags {
    fn opt<T: std::fmt::Display>(&mut self, flag: &str, v: &Option<T>) -> &mut Self {
        if let Some(v) = v {
            self.0.push((flag.to_string(), Some(v.to_string())));
        }
        self
    }
    fn list<T: std::fmt::Display>(&mut self, flag: &str, v: &[T]) -> &mut Self {
        if !v.is_empty() {
            let joined: Vec<String> = v.iter().map(ToString::to_string).collect();
            self.0.push((flag.to_string(), Some(joined.join(","))));
        }
        self
    }
    fn switch(&mut self, flag: &str, on: bool) -> &mut Self {
        if on {
            self.0.push((flag.to_string(), None));
        }
        self
    }
    fn env(&mut self, env: &BTreeMap<String, String>) -> &mut Self {
        for (k, v) in env {
            self.0.push(("--env".into(), Some(format!("{k}={v}"))));
        }
        self
    }
}

/// `footprint:` (and the measurement part of `scaling:` and `sweep:`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureLane {
    pub repeats: Option<u32>,
    pub duration: Option<HumanDuration>,
    pub max_duration: Option<HumanDuration>,
    pub ci_target: Option<f64>,
    pub rate: Option<f64>,
    pub sampler: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaneArgs for MeasureLane {
    fn flags(&self) -> LaneFlags {
        let mut f = Flags::default();
        measure_of!(self).push(&mut f);
        f.0
    }
    fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// `scaling:`: entity counts, metrics, and the measurement arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingLane {
    pub entities: Vec<u64>,
    #[serde(default)]
    pub metric: Vec<String>,
    pub repeats: Option<u32>,
    pub duration: Option<HumanDuration>,
    pub max_duration: Option<HumanDuration>,
    pub ci_target: Option<f64>,
    pub rate: Option<f64>,
    pub sampler: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaneArgs for ScalingLane {
    fn flags(&self) -> LaneFlags {
        let mut f = Flags::default();
        f.list("--entities", &self.entities)
            .list("--metric", &self.metric);
        measure_of!(self).push(&mut f);
        f.0
    }
    fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// `sweep:`: `knob: NAME=v1,v2,...` and the measurement arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepLane {
    pub knob: String,
    pub repeats: Option<u32>,
    pub duration: Option<HumanDuration>,
    pub max_duration: Option<HumanDuration>,
    pub ci_target: Option<f64>,
    pub rate: Option<f64>,
    pub sampler: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaneArgs for SweepLane {
    fn flags(&self) -> LaneFlags {
        let mut f = Flags::default();
        f.opt("--knob", &Some(&self.knob));
        measure_of!(self).push(&mut f);
        f.0
    }
    fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// `load:`: intended rates (open loop) and the generator's arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadLane {
    #[serde(default)]
    pub rate: Vec<f64>,
    pub mode: Option<String>,
    pub duration: Option<HumanDuration>,
    pub warmup: Option<HumanDuration>,
    pub connections: Option<usize>,
    pub repeats: Option<u32>,
    pub sample_rate: Option<f64>,
    pub sampler: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaneArgs for LoadLane {
    fn flags(&self) -> LaneFlags {
        let mut f = Flags::default();
        f.list("--rate", &self.rate)
            .opt("--mode", &self.mode)
            .opt("--duration", &self.duration)
            .opt("--warmup", &self.warmup)
            .opt("--connections", &self.connections)
            .opt("--repeats", &self.repeats)
            .opt("--sample-rate", &self.sample_rate)
            .opt("--sampler", &self.sampler)
            .env(&self.env);
        f.0
    }
    fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// `fault:`: the burst and its windows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultLane {
    pub burst: Option<u32>,
    pub repeats: Option<u32>,
    pub before: Option<HumanDuration>,
    pub after: Option<HumanDuration>,
    pub sample_rate: Option<f64>,
    pub probe_rate: Option<f64>,
    pub band: Option<f64>,
    pub sampler: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaneArgs for FaultLane {
    fn flags(&self) -> LaneFlags {
        let mut f = Flags::default();
        f.opt("--burst", &self.burst)
            .opt("--repeats", &self.repeats)
            .opt("--before", &self.before)
            .opt("--after", &self.after)
            .opt("--sample-rate", &self.sample_rate)
            .opt("--probe-rate", &self.probe_rate)
            .opt("--band", &self.band)
            .opt("--sampler", &self.sampler)
            .env(&self.env);
        f.0
    }
    fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// `churn:`: create/delete cycles against a static run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnLane {
    pub cycles: Option<u32>,
    pub warmup_cycles: Option<u32>,
    #[serde(default)]
    pub metrics: Vec<String>,
    pub settle: Option<HumanDuration>,
    pub sampler: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaneArgs for ChurnLane {
    fn flags(&self) -> LaneFlags {
        let mut f = Flags::default();
        f.opt("--cycles", &self.cycles)
            .opt("--warmup-cycles", &self.warmup_cycles)
            .list("--metrics", &self.metrics)
            .opt("--settle", &self.settle)
            .opt("--sampler", &self.sampler)
            .env(&self.env);
        f.0
    }
    fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// `memcheck:` (and the tool part of `heap:`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolLane {
    pub duration: Option<HumanDuration>,
    pub cycles: Option<u32>,
    pub rate: Option<f64>,
    pub sampler: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaneArgs for ToolLane {
    fn flags(&self) -> LaneFlags {
        let mut f = Flags::default();
        push_tool(
            &mut f,
            self.duration,
            self.cycles,
            self.rate,
            &self.sampler,
            &self.env,
        );
        f.0
    }
    fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// The tool arguments `memcheck` and `heap` share.
fn push_tool(
    f: &mut Flags,
    duration: Option<HumanDuration>,
    cycles: Option<u32>,
    rate: Option<f64>,
    sampler: &Option<String>,
    env: &BTreeMap<String, String>,
) {
    f.opt("--duration", &duration)
        .opt("--cycles", &cycles)
        .opt("--rate", &rate)
        .opt("--sampler", sampler)
        .env(env);
}

/// `heap:`: the tool arguments, and whether to skip the overhead run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeapLane {
    #[serde(default)]
    pub no_overhead: bool,
    pub duration: Option<HumanDuration>,
    pub cycles: Option<u32>,
    pub rate: Option<f64>,
    pub sampler: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LaneArgs for HeapLane {
    fn flags(&self) -> LaneFlags {
        let mut f = Flags::default();
        push_tool(
            &mut f,
            self.duration,
            self.cycles,
            self.rate,
            &self.sampler,
            &self.env,
        );
        f.switch("--no-overhead", self.no_overhead);
        f.0
    }
    fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

/// Checks of the section that need no lane: at least one lane, and the
/// names of its environment variables. `err(key, msg)` points at the line.
pub fn validate(
    spec: &SuiteSpec,
    err: &dyn Fn(&str, String) -> anyhow::Error,
    check_env_name: fn(&str) -> Result<(), String>,
) -> anyhow::Result<()> {
    if spec.lanes().is_empty() {
        return Err(err(
            "suite",
            format!(
                "lists no lane; give at least one of {} (see README, \"One suite, one verdict\")",
                SUITE_LANES.join(", ")
            ),
        ));
    }
    for (lane, env) in spec.env_maps() {
        for k in env.keys() {
            check_env_name(k).map_err(|m| err(lane, format!("`env`: {m}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Profile;
    use crate::error::BadInput;

    const GOOD: &str =
        "name: t\ncompose: app.yml\nservice: app\nready: { http: { port: 8080, path: /health } }\n";

    fn load(extra: &str) -> anyhow::Result<Profile> {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("app.yml"),
            "services:\n  app:\n    image: x\n",
        )
        .unwrap();
        let p = d.path().join("p.yaml");
        std::fs::write(&p, format!("{GOOD}{extra}")).unwrap();
        Profile::load(&p)
    }

    /// Exit 2 (BadInput) with `p.yaml:LINE`, the field and the words of the fix.
    fn refused(extra: &str, line: usize, says: &[&str]) {
        let e = load(extra).unwrap_err();
        let msg = format!("{e:#}");
        assert!(e.downcast_ref::<BadInput>().is_some(), "{msg}");
        assert!(msg.contains(&format!("p.yaml:{line}")), "{msg}");
        for s in says {
            assert!(msg.contains(s), "`{s}` not in: {msg}");
        }
    }

    #[test]
    fn suite_lanes_run_in_order_with_their_flags() {
        let p = load(
            "suite:\n  scaling: { entities: [10, 100], repeats: 2 }\n  footprint: { repeats: 5, max_duration: 30s, env: { A: \"1\" } }\n  heap: { no_overhead: true }\n",
        )
        .unwrap();
        let lanes = p.spec.suite.unwrap().lanes();
        let names: Vec<&str> = lanes.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["footprint", "scaling", "heap"]);
        let flag = |i: usize, f: &str| {
            lanes[i]
                .1
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(flag(0, "--repeats"), Some(Some("5".into())));
        assert_eq!(flag(0, "--max-duration"), Some(Some("30s".into())));
        assert_eq!(flag(0, "--env"), Some(Some("A=1".into())));
        assert_eq!(flag(1, "--entities"), Some(Some("10,100".into())));
        assert_eq!(flag(2, "--no-overhead"), Some(None));
    }

    #[test]
    fn the_lane_table_names_every_suite_lane_in_order() {
        let names: Vec<&str> = super::SuiteSpec::default()
            .entries()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names, super::SUITE_LANES);
    }

    #[test]
    fn unknown_lanes_and_arguments_are_refused_with_the_line() {
        refused(
            "suite:\n  footprint: { repeats: 2 }\n  weather: { repeats: 1 }\n",
            7,
            &["suite", "unknown field `weather`", "footprint", "memcheck"],
        );
        refused(
            "suite:\n  footprint:\n    repeat: 2\n",
            7,
            &["suite.footprint", "unknown field `repeat`", "`repeats`"],
        );
        refused("suite: {}\n", 5, &["field `suite`", "lists no lane"]);
        refused(
            "suite:\n  load:\n    rate: [100]\n    env: { \"A-B\": \"1\" }\n",
            6,
            &["suite.load", "`A-B` is not an environment variable name"],
        );
    }

    #[test]
    fn bad_env_keys_and_zero_steady_window_are_refused() {
        refused(
            "env:\n  GOOD: \"1\"\n  \"BAD=KEY\": \"1\"\n",
            7,
            &["field `env`", "`BAD=KEY`", "rename"],
        );
        refused("env:\n  \"1ST\": \"1\"\n", 6, &["field `env`", "`1ST`"]);
        refused(
            "steady:\n  window: 0s\n",
            6,
            &["field `steady.window`", "longer than 0s"],
        );
        assert!(load("steady:\n  window: 1s\n").is_ok());
    }
}
