//! Flags live here and become typed options here; nothing deeper sees a
//! flag name.

use crate::probe::SamplerMode;
use crate::units::HumanDuration;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    version,
    about = "runcost: what a containerized service costs to run"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Profile name (profiles/<NAME>.yaml) or path to a profile file
    /// (default: gateway; `setup` and `list` without it: every bundled profile).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Where runs are written.
    #[arg(long, global = true, default_value = "results")]
    pub results: PathBuf,
    /// No progress output.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seed for every random choice (recorded in run.json); random if unset.
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// The engine: unix:///path.sock, tcp://HOST:PORT or
    /// ssh://[USER@]HOST[:PORT][/socket] (default: DOCKER_HOST, else the
    /// local socket). Ports are reached on its address.
    #[arg(long, global = true, value_name = "URL")]
    pub engine: Option<String>,
    /// Warm-up's trailing window for this run, in place of the profile's
    /// `steady.window` (e.g. 1500ms for a quick pull-request job); 500ms
    /// to 10m. Recorded with the command line.
    #[arg(long, global = true, value_name = "DURATION")]
    pub steady_window: Option<HumanDuration>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Install/start the engine if missing, build the base and target images
    /// (with --profile: that profile's images only).
    Setup,
    /// Preflight checks, one line each; exit 2 if a required one fails.
    Doctor,
    /// Profiles, lanes, and what each lane needs (with --profile: validate and list that one).
    List,
    /// Steady-state memory/CPU/threads/fds of the target at one configuration.
    Footprint(FootprintArgs),
    /// Cost vs entity count: fitted exponent with a CI, verdict when the CI allows.
    Scaling(ScalingArgs),
    /// Cost vs a profile knob, each value verified applied.
    Sweep(SweepArgs),
    /// Latency percentiles and throughput under open-loop (or closed-loop) HTTP load.
    Load(LoadArgs),
    /// Cost of a fault burst, time to recover, and the harm a client sees.
    Fault(FaultArgs),
    /// The target under heaptrack: allocations, peak heap, leaked bytes, top sites; exit 1 on LEAK.
    Heap(HeapArgs),
    /// The target under valgrind memcheck: lost bytes per kind, errors, top stacks; exit 1 on LEAK.
    Memcheck(MemcheckArgs),
    /// Create/delete cycles against a static run: growth per cycle; exit 1 on LEAK.
    Churn(ChurnArgs),
    /// Every lane of the profile's `suite:` into one run: exit 0 ok, 1 a LEAK, 2 a lane failed.
    Suite(SuiteArgs),
    /// VM-backed (qemu) or container boxes: lifecycle, exec latency, density, churn.
    #[command(name = "box")]
    Box {
        #[command(subcommand)]
        what: BoxCmd,
    },
    /// Re-render report.md and charts from a run's JSON and samples.
    Report {
        /// Run id (default: latest).
        run: Option<String>,
    },
    /// Judge a run against a baseline: exit 0 ok, 1 regression, 2 refused.
    Compare {
        /// Baseline to judge against (without one: the profile's budgets only).
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Run id (default: latest).
        #[arg(long)]
        run: Option<String>,
        /// Judge even if the run's host differs from the baseline's.
        #[arg(long)]
        allow_host_mismatch: bool,
        /// Judge even if the host was overloaded during the run.
        #[arg(long)]
        allow_overloaded: bool,
        /// On a regression, rerun the run's command up to N times and judge the pooled repeats.
        #[arg(long, default_value_t = 0)]
        confirm: u32,
    },
    /// Write baselines/<NAME>.json from a clean, complete run.
    UpdateBaseline {
        #[arg(long)]
        run: String,
        #[arg(long)]
        name: String,
        /// Accept a run recorded on an overloaded host.
        #[arg(long)]
        allow_overloaded: bool,
    },
    /// Metric medians over the stored runs of the profile, with change points.
    History,
    /// A run's aggregates as Bencher Metric Format or github-action-benchmark JSON.
    Export {
        #[arg(long, value_enum)]
        format: crate::cmd::export::Format,
        /// Run id (default: latest).
        #[arg(long)]
        run: Option<String>,
    },
    /// Write results/index.html: every run with its verdicts, linking each report as HTML.
    Index,
    /// Remove every container, network and volume runcost started.
    Clean {
        /// Only what this run left (default: every run's).
        #[arg(long)]
        run: Option<String>,
    },
    /// Measurements of runcost itself.
    Selfcheck {
        #[command(subcommand)]
        what: SelfcheckCmd,
    },
}

#[derive(Args, Debug, Clone)]
pub struct MeasureArgs {
    /// Fresh target instances per configuration.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeats: u32,
    /// Minimum measurement window after warm-up (e.g. 10s, 1m).
    #[arg(long, default_value = "10s")]
    pub duration: HumanDuration,
    /// Longest window when the CI target is not met earlier.
    #[arg(long, default_value = "30s")]
    pub max_duration: HumanDuration,
    /// Stop measuring when the USS mean's 95 % CI half-width is within this fraction of it.
    #[arg(long, default_value_t = 0.005)]
    pub ci_target: f64,
    /// Samples per second.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// How to read the target's /proc.
    #[arg(long, value_enum, default_value_t = SamplerMode::Auto)]
    pub sampler: SamplerMode,
    /// Extra environment for the service under test (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

#[derive(Args, Debug, Clone)]
pub struct FootprintArgs {
    #[command(flatten)]
    pub measure: MeasureArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ScalingArgs {
    /// Entity counts, comma-separated positive integers (at least 3 spanning a decade for a verdict).
    #[arg(long, value_delimiter = ',', required = true)]
    pub entities: Vec<String>,
    /// Metric(s) to fit (default: the profile's `entities.metric`, else uss).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub metric: Vec<MetricArg>,
    #[command(flatten)]
    pub measure: MeasureArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// The knob and its values: NAME=v1,v2,... (NAME declared under `knobs:` in the profile).
    #[arg(long)]
    pub knob: String,
    #[command(flatten)]
    pub measure: MeasureArgs,
}

#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Intended request rates per second, comma-separated (open loop).
    #[arg(long, value_delimiter = ',')]
    pub rate: Vec<String>,
    /// Open loop (latency from intended start) or closed loop (maximum throughput).
    #[arg(long, value_enum, default_value_t = crate::lanes::load::LoadMode::Open)]
    pub mode: crate::lanes::load::LoadMode,
    /// Generator run per rate, warm-up included.
    #[arg(long, default_value = "15s")]
    pub duration: HumanDuration,
    /// Traffic at the start of each run that is sent but not recorded.
    #[arg(long, default_value = "3s")]
    pub warmup: HumanDuration,
    /// Keep-alive connections (default: the profile's `load.connections`).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Fresh targets per rate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeats: u32,
    /// Samples per second of the target's memory/CPU.
    #[arg(long, default_value_t = 10.0)]
    pub sample_rate: f64,
    /// How to read the target's /proc.
    #[arg(long, value_enum, default_value_t = SamplerMode::Auto)]
    pub sampler: SamplerMode,
    /// Extra environment for the service under test (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

#[derive(Args, Debug, Clone)]
pub struct SuiteArgs {
    /// Only these lanes of the suite, comma-separated (e.g. footprint,scaling).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Override one lane argument of the profile's suite (repeatable), e.g. footprint.repeats=1.
    #[arg(long = "set", value_name = "LANE.FIELD=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, String)>,
    /// Extra environment for the service under test in every lane (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not LANE.FIELD=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

/// What the heap and memcheck lanes share.
#[derive(Args, Debug, Clone)]
pub struct ToolArgs {
    /// How long the target runs under the tool after it is ready (then SIGTERM).
    #[arg(long, default_value = "10s")]
    pub duration: HumanDuration,
    /// Churn cycles (the profile's `churn:` actions) at the start of the run,
    /// so create/delete paths run under the tool.
    #[arg(long, default_value_t = 0)]
    pub cycles: u32,
    /// Samples per second of the target's memory.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// How to read the target's /proc.
    #[arg(long, value_enum, default_value_t = SamplerMode::Auto)]
    pub sampler: SamplerMode,
    /// Extra environment for the service under test (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

#[derive(Args, Debug, Clone)]
pub struct HeapArgs {
    #[command(flatten)]
    pub tool: ToolArgs,
    /// Skip the plain run that measures heaptrack's overhead.
    #[arg(long)]
    pub no_overhead: bool,
}

#[derive(Args, Debug, Clone)]
pub struct MemcheckArgs {
    #[command(flatten)]
    pub tool: ToolArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ChurnArgs {
    /// Create/delete cycles (each creates the profile's `churn.batch` objects, then deletes them).
    #[arg(long, default_value_t = 200)]
    pub cycles: u32,
    /// Leading cycles left out of the fit (allocator and runtime warm-up).
    #[arg(long, default_value_t = 10)]
    pub warmup_cycles: u32,
    /// Metrics judged per cycle, comma-separated (default: the profile's
    /// `churn.metrics`, else pss-anon,fds,threads).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub metrics: Vec<MetricArg>,
    /// Idle time after readiness before the first reading, in both runs.
    #[arg(long, default_value = "2s")]
    pub settle: HumanDuration,
    /// How to read the target's /proc.
    #[arg(long, value_enum, default_value_t = SamplerMode::Auto)]
    pub sampler: SamplerMode,
    /// Extra environment for the service under test (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

#[derive(Args, Debug, Clone)]
pub struct FaultArgs {
    /// Faults in the burst.
    #[arg(long, default_value_t = 1)]
    pub burst: u32,
    /// Fresh targets, one burst each.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeats: u32,
    /// Baseline window before the burst.
    #[arg(long, default_value = "5s")]
    pub before: HumanDuration,
    /// Observation window after the burst.
    #[arg(long, default_value = "20s")]
    pub after: HumanDuration,
    /// Samples per second of the target (at least 20).
    #[arg(long, default_value_t = 20.0)]
    pub sample_rate: f64,
    /// Requests per second of the client probe.
    #[arg(long, default_value_t = 20.0)]
    pub probe_rate: f64,
    /// Half-width of the recovery band, as a fraction of the baseline.
    #[arg(long, default_value_t = 0.05)]
    pub band: f64,
    /// How to read the target's /proc.
    #[arg(long, value_enum, default_value_t = SamplerMode::Auto)]
    pub sampler: SamplerMode,
    /// Extra environment for the service under test (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

/// A sampled metric a lane can be asked to judge: every kind in
/// `MetricKind::SAMPLED`, named as in profiles with `-` for `_`
/// (`pss-anon`, `cgroup-shmem-file`); the profile spelling and `cpu` for
/// `cpu-cores` are accepted too. clap lists the names on a bad one (exit 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricArg(pub crate::results::MetricKind);

impl MetricArg {
    pub fn kind(self) -> crate::results::MetricKind {
        self.0
    }
}

impl clap::ValueEnum for MetricArg {
    fn value_variants<'a>() -> &'a [Self] {
        use crate::results::MetricKind;
        const ALL: [MetricArg; MetricKind::SAMPLED.len()] = {
            let mut out = [MetricArg(MetricKind::Uss); MetricKind::SAMPLED.len()];
            let mut i = 0;
            while i < out.len() {
                out[i] = MetricArg(MetricKind::SAMPLED[i]);
                i += 1;
            }
            out
        };
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        use crate::results::MetricKind;
        // clap takes &'static str here: the dashed names, made once.
        static KEBAB: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        let kebabs = KEBAB.get_or_init(|| {
            MetricKind::SAMPLED
                .iter()
                .map(|k| k.name().replace('_', "-"))
                .collect()
        });
        let snake = self.0.name();
        let at = MetricKind::SAMPLED.iter().position(|k| *k == self.0)?;
        let kebab = kebabs[at].as_str();
        let mut v = clap::builder::PossibleValue::new(kebab);
        if kebab != snake {
            v = v.alias(snake);
        }
        v = match self.0 {
            MetricKind::CpuCores => v.alias("cpu"),
            MetricKind::CgroupMem => v.alias("cgroup-memory"),
            MetricKind::CgroupCpuCores => v.alias("cgroup-cpu"),
            _ => v,
        };
        Some(v)
    }
}

#[derive(Subcommand, Debug)]
pub enum SelfcheckCmd {
    /// Per-sample cost of host mode, exec-stream mode and three `docker exec cat` per sample.
    Sampling {
        /// Samples per mode.
        #[arg(long, default_value_t = 200)]
        samples: u32,
    },
    /// runcost's closed-loop generator against wrk on the same gateway (against redis-benchmark with --profile redis), interleaved.
    Load {
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Seconds per generator run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Path both generators request.
        #[arg(long, default_value = "/entities/1")]
        path: String,
        /// Give each generator only this share of its core (percent, 5–100;
        /// a cgroup v1 CPU quota), so the generator, not the target, limits
        /// each round and the throughput ratio compares the generators.
        #[arg(long)]
        generator_cpu: Option<u32>,
        /// With --generator-cpu: run a round's two generators one after the
        /// other instead of side by side (each in its own quota, the default).
        #[arg(long, requires = "generator_cpu")]
        one_after_the_other: bool,
    },
    /// Scaling lane on the gateway with known exponents: true k vs estimate.
    Scaling {
        /// Exponents to plant through GROWTH_K.
        #[arg(long, value_delimiter = ',', default_value = "0.5,1,1.5")]
        k: Vec<f64>,
        /// Entity counts.
        #[arg(long, value_delimiter = ',', default_value = "10,30,100,300,1000")]
        entities: Vec<u64>,
        #[arg(long, default_value_t = 2)]
        repeats: u32,
        /// Constant allocation that a log-log fit would mistake for sublinearity.
        #[arg(long, default_value_t = 256)]
        base_mib: u64,
        /// Memory the n^k part reaches at the largest size.
        #[arg(long, default_value_t = 128)]
        top_mib: u64,
    },
}

/// What every box lane shares.
#[derive(Args, Debug, Clone)]
pub struct BoxArgs {
    /// Box profiles (profiles/boxes/<name>.yaml or paths), compared side by
    /// side in one run, e.g. --profile runc,runsc,qemu; overrides --backend.
    #[arg(long, value_delimiter = ',')]
    pub profile: Vec<String>,
    /// Which kind of box.
    #[arg(long, value_enum, default_value_t = crate::boxes::BackendKind::Qemu)]
    pub backend: crate::boxes::BackendKind,
    /// qemu accelerator: auto probes KVM with a boot and falls back to TCG.
    #[arg(long, value_enum, default_value_t = crate::boxes::AccelChoice::Auto)]
    pub accel: crate::boxes::AccelChoice,
    /// qemu: virtio (microvm, virtio-console) or serial (pc, second UART, no guest modules).
    #[arg(long, value_enum, default_value_t = crate::boxes::Transport::Virtio)]
    pub transport: crate::boxes::Transport,
    /// Memory of one box, MiB (VM RAM; container memory limit).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(64..=65536))]
    pub memory_mib: u32,
    /// vCPUs of one VM.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub vcpus: u32,
    /// Guest kernel (default: the one `cargo xtask setup` prepared).
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Guest initramfs (default: the one `cargo xtask setup` built).
    #[arg(long)]
    pub initramfs: Option<PathBuf>,
    /// Longest a VM may take from spawn to its agent's hello.
    #[arg(long, default_value = "60s")]
    pub boot_timeout: HumanDuration,
    /// Longest the KVM boot probe waits before falling back to TCG.
    #[arg(long, default_value = "20s")]
    pub probe_timeout: HumanDuration,
}

#[derive(Subcommand, Debug)]
pub enum BoxCmd {
    /// Cold create → first successful exec, stop, remove: percentiles with tiers.
    Lifecycle {
        #[command(flatten)]
        common: BoxArgs,
        /// Boxes created one after another (after one unrecorded warm-up box).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10000))]
        repeats: u32,
    },
    /// Round trip of `true` and of a command writing 1 MiB, in a running box.
    Exec {
        #[command(flatten)]
        common: BoxArgs,
        /// Round trips of `true`.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1000000))]
        samples: u32,
        /// Round trips of the large-output command.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=100000))]
        large_samples: u32,
        /// Bytes the large-output command writes.
        #[arg(long, default_value_t = 1 << 20)]
        large_bytes: u64,
        /// Unrecorded execs before measuring.
        #[arg(long, default_value_t = 10)]
        warmup: u32,
    },
    /// Boxes running side by side: exec p95 per level, PSS per box, breakpoint.
    Density {
        #[command(flatten)]
        common: BoxArgs,
        /// Concurrency levels, strictly increasing, starting at 1.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
        levels: Vec<String>,
        /// Exec round trips per level (at least; rounded up to whole rounds).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000000))]
        samples: u32,
    },
    /// Snapshot (live and full), restore and fork of a running box: pause
    /// reported and observed, restore time, clone latency and PSS; a runtime
    /// that cannot snapshot here is a SKIP with the reason.
    Snapshot {
        #[command(flatten)]
        common: BoxArgs,
        /// Iterations; each takes one live and one full snapshot (order alternating) and one restore.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10000))]
        iterations: u32,
        /// Boxes restored from one snapshot, running at once.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=64))]
        forks: u32,
        /// MiB of non-zero memory made resident in the box before measuring (more pages to copy).
        #[arg(long, default_value_t = 0)]
        hold_mib: u32,
        /// Period of the in-box ticker that observes the pause from inside, microseconds.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(100..=1000000))]
        tick_us: u32,
    },
    /// Create/destroy cycles against a static reference: host growth per cycle; exit 1 on LEAK.
    Churn {
        #[command(flatten)]
        common: BoxArgs,
        /// Create/destroy cycles (at least 10).
        #[arg(long, default_value_t = 30)]
        cycles: u32,
    },
    /// Exec loop (p50/p99, drift verdict), execs at once, restart loop of one box.
    Stability {
        #[command(flatten)]
        common: BoxArgs,
        /// Sequential execs of `true` (at least 10 for the drift test).
        #[arg(long, default_value_t = 500)]
        execs: u32,
        /// Execs issued at the same moment per round.
        #[arg(long, default_value_t = 20)]
        parallel: u32,
        /// Rounds of parallel execs.
        #[arg(long, default_value_t = 5)]
        parallel_rounds: u32,
        /// Stop → start → first exec of the same box.
        #[arg(long, default_value_t = 20)]
        restarts: u32,
        /// The soak: one box under a steady exec stream (one `true` every
        /// 100 ms) this long, its host PSS slope by the leak test; 0s skips it.
        #[arg(long, default_value = "2m")]
        soak: HumanDuration,
        /// Calibration: plant a leak of this many KiB/s in the soaked box
        /// (a process in it grows its memory); the record says so.
        #[arg(long, default_value_t = 0)]
        soak_plant_leak_kib: u32,
    },
    /// N boxes created at the same moment: per-box start max/mean against one box alone.
    Burst {
        #[command(flatten)]
        common: BoxArgs,
        /// Boxes created at once (at least 2).
        #[arg(long, default_value_t = 10)]
        boxes: u32,
        /// Single-box cold starts to compare against.
        #[arg(long, default_value_t = 3)]
        singles: u32,
    },
    /// One box's host PSS/RSS and CPU idle, and host CPU per busy box vCPU second.
    Resource {
        #[command(flatten)]
        common: BoxArgs,
        /// Idle time after the box is up, before reading.
        #[arg(long, default_value = "5s")]
        settle: HumanDuration,
        /// Each CPU reading's window (idle, then busy).
        #[arg(long, default_value = "5s")]
        window: HumanDuration,
        /// Idle boxes side by side: host PSS per box against one alone (0: skip).
        #[arg(long, default_value_t = 4)]
        idle_boxes: u32,
        /// Memory limit of the pressure box, MiB: it allocates 50 %, then 150 % of it (0: skip).
        #[arg(long, default_value_t = 256)]
        pressure_mib: u32,
    },
    /// Disk write/read in the box (O_DIRECT), copy in/out through the runtime's file path, host→box TCP: bytes/s.
    Throughput {
        #[command(flatten)]
        common: BoxArgs,
        /// MiB each write, read and copy moves.
        #[arg(long, default_value_t = 64)]
        size_mib: u32,
        /// Repeats of each measurement (on one box).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeats: u32,
        /// qemu: size of each VM's scratch disk, MiB (a sparse file, removed with the VM).
        #[arg(long, default_value_t = 256)]
        disk_mib: u32,
    },
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    let ok = !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        return Err(format!("`{k}` is not an environment variable name"));
    }
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Every `cargo xtask` command of the weekly workflow parses with the
    /// real CLI, so a renamed flag breaks this test, not the Monday job.
    #[test]
    fn workflow_commands_parse() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../.github/workflows/benchmark.yml");
        let text = std::fs::read_to_string(&path).expect("workflow file");
        let mut seen = 0;
        for line in text.lines() {
            let Some(at) = line.find("cargo xtask ") else {
                continue;
            };
            let cmd = &line[at + "cargo xtask ".len()..];
            let cmd = cmd.split(['>', '|', ';', '&']).next().unwrap_or("");
            let argv = std::iter::once("cargo xtask").chain(cmd.split_whitespace());
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!("workflow command `cargo xtask {cmd}` does not parse:\n{e}");
            }
            seen += 1;
        }
        assert!(
            seen >= 6,
            "found only {seen} cargo xtask commands in the workflow"
        );
    }

    #[test]
    fn env_flags_parse() {
        let cli =
            Cli::try_parse_from(["x", "footprint", "--env", "A=1", "--env", "B=x=y"]).unwrap();
        let Cmd::Footprint(f) = cli.cmd else {
            panic!("footprint")
        };
        assert_eq!(
            f.measure.env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert!(Cli::try_parse_from(["x", "footprint", "--env", "noequals"]).is_err());
        assert!(Cli::try_parse_from(["x", "footprint", "--repeats", "0"]).is_err());
        assert!(Cli::try_parse_from(["x", "footprint", "--duration", "10q"]).is_err());
    }

    #[test]
    fn leak_lane_flags_parse() {
        let cli = Cli::try_parse_from(["x", "heap", "--duration", "5s", "--env", "A=1"]).unwrap();
        let Cmd::Heap(h) = cli.cmd else {
            panic!("heap")
        };
        assert_eq!(h.tool.duration.0, std::time::Duration::from_secs(5));
        assert!(!h.no_overhead);
        let cli = Cli::try_parse_from(["x", "churn", "--cycles", "50"]).unwrap();
        let Cmd::Churn(c) = cli.cmd else {
            panic!("churn")
        };
        assert_eq!((c.cycles, c.warmup_cycles), (50, 10));
        assert!(c.metrics.is_empty(), "the profile or the default decides");
        assert!(Cli::try_parse_from(["x", "memcheck", "--cycles", "-1"]).is_err());
    }

    #[test]
    fn every_sampled_metric_is_a_metric_value() {
        use crate::results::MetricKind;
        for k in MetricKind::SAMPLED {
            for name in [k.name().to_string(), k.name().replace('_', "-")] {
                let cli = Cli::try_parse_from(["x", "churn", "--metrics", &name]).unwrap();
                let Cmd::Churn(c) = cli.cmd else {
                    panic!("churn")
                };
                assert_eq!(c.metrics, vec![MetricArg(k)], "{name}");
            }
        }
        let cli = Cli::try_parse_from([
            "x",
            "scaling",
            "--entities",
            "1,10,100",
            "--metric",
            "cpu,cgroup-memory,cgroup-shmem-file",
        ])
        .unwrap();
        let Cmd::Scaling(s) = cli.cmd else {
            panic!("scaling")
        };
        let kinds: Vec<_> = s.metric.iter().map(|m| m.kind()).collect();
        assert_eq!(
            kinds,
            [
                MetricKind::CpuCores,
                MetricKind::CgroupMem,
                MetricKind::CgroupShmemFile
            ]
        );
        let e = Cli::try_parse_from(["x", "scaling", "--entities", "1", "--metric", "nope"])
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(
            text.contains("cgroup-shmem-file") && text.contains("group-unique"),
            "{text}"
        );
        assert!(Cli::try_parse_from(["x", "churn", "--metrics", "throughput"]).is_err());
    }
}
