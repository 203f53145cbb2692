//! The run record. `schema_version` follows semver: a reader refuses another
//! major version. Types, not strings: units, directions, statuses and
//! verdicts are enums.

use super::sampling::{SamplerMode, TickerStats};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: &str = "1.0";

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RunRecord {
    pub schema_version: String,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
    /// Why the run is partial or failed.
    pub status_reason: Option<String>,
    pub tool: ToolInfo,
    pub host: HostFingerprint,
    pub profile: ProfileRef,
    /// The command line's settings, as typed options.
    pub settings: Settings,
    /// Seed of every RNG in the run (cell order, bootstraps).
    pub seed: u64,
    /// Image tag → image id of what ran.
    pub images: BTreeMap<String, String>,
    pub lanes: Vec<LaneRecord>,
    pub host_load: LoadSummary,
    /// A `suite` run: its planned lanes, their settings and outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<super::suite::SuiteRecord>,
    /// The engine and how it was reached (absent in runs before engines by URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<super::engine::EngineRef>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Written at start and kept if the run is killed: not complete.
    Partial,
    Complete,
    Failed,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub git_sha: Option<String>,
    pub git_dirty: Option<bool>,
}

/// What makes two runs comparable: the same machine shape and engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostFingerprint {
    pub hostname: String,
    pub cpu_model: String,
    pub cores: usize,
    pub mem_total_bytes: u64,
    pub kernel: String,
    pub cgroup_version: String,
    pub engine_version: String,
    pub engine_api: String,
    pub compose: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ProfileRef {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    pub lane: LaneKind,
    pub repeats: u32,
    pub rate_hz: f64,
    pub sampler: SamplerMode,
    /// Measurement window after warm-up, seconds (minimum when adaptive).
    pub window_s: f64,
    pub env: BTreeMap<String, String>,
    /// Lane-specific settings (sizes, knob values, metric), as given.
    #[serde(default)]
    pub lane_args: BTreeMap<String, String>,
    /// The command line that made the run (after `cargo xtask`), so it can
    /// be repeated (`compare --confirm`).
    #[serde(default)]
    pub command: Vec<String>,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LaneKind {
    Footprint,
    Scaling,
    Sweep,
    Load,
    Heap,
    Memcheck,
    Churn,
    Fault,
    BoxLifecycle,
    BoxExec,
    BoxDensity,
    BoxChurn,
    BoxSnapshot,
    BoxStability,
    BoxBurst,
    BoxResource,
    BoxThroughput,
}

impl std::fmt::Display for LaneKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self).ok();
        f.write_str(s.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct LaneRecord {
    pub lane: LaneKind,
    pub cells: Vec<CellRecord>,
    /// Across-repeat aggregates, one per (metric, parameters).
    pub aggregates: Vec<Aggregate>,
    /// Things the lane did not do, with the reason.
    pub skipped: Vec<String>,
    /// Fits and verdicts drawn from the cells.
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// What a lane concluded from its cells.
// A run holds a handful of findings, read once: their size is no cost,
// and boxing the scaling fit would only add noise to every reader.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// cost(n) = a + b·n^k over every (repeat, size) point.
    Scaling {
        metric: MetricKind,
        /// The varied parameter (e.g. `entities`).
        parameter: String,
        /// Points available (steady cells).
        points: usize,
        /// A fit with its exponent, NO GROWTH, no fit (b ≤ 0) or no verdict.
        outcome: runcost_stats::powerlaw::ScalingOutcome,
    },
    /// The target under heaptrack.
    Heap(Box<super::leaks::HeapFinding>),
    /// The target under valgrind memcheck.
    Memcheck(Box<super::leaks::MemcheckFinding>),
    /// Create/delete cycles against a static run.
    Churn(Box<super::leaks::ChurnFinding>),
    /// A fault burst: cost, recovery, harm to clients.
    Fault(Box<super::fault::FaultFinding>),
    /// A box lane: lifecycle, exec, density or churn of VM or container boxes.
    Box(Box<super::boxes::BoxFinding>),
    /// Where the cost goes: categories and thread groups across cells,
    /// and in scaling the exponent of each category.
    Attribution(Box<super::attrib::AttributionFinding>),
}

impl Finding {
    /// The leak verdict of a leak lane's finding.
    pub fn leak_verdict(&self) -> Option<runcost_stats::leak::LeakVerdict> {
        match self {
            Finding::Scaling { .. } => None,
            Finding::Heap(f) => Some(f.verdict),
            Finding::Memcheck(f) => Some(f.verdict),
            Finding::Churn(f) => Some(f.verdict),
            Finding::Fault(_) => None,
            Finding::Box(f) => f.churn.as_ref().map(|c| c.verdict),
            Finding::Attribution(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Warm-up settled and the window was measured.
    Ok,
    /// Never settled within the timeout: measured, but not summarised as steady.
    NotSteady,
    Failed,
}

/// One fresh target instance: one (parameters, repeat).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CellRecord {
    pub id: String,
    pub repeat: u32,
    /// Lane parameters of this cell (e.g. `entities=100`).
    pub params: BTreeMap<String, String>,
    pub status: CellStatus,
    pub error: Option<String>,
    pub container: Option<String>,
    /// Image name and id the target container ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<(String, String)>,
    /// Seconds from cell start until the target answered ready.
    pub ready_s: Option<f64>,
    /// Seconds from ready until warm-up ended (None: not steady).
    pub steady_after_s: Option<f64>,
    /// Measurement window [start, end] in seconds since cell start.
    pub window: Option<(f64, f64)>,
    pub sampler_mode: SamplerMode,
    pub sampler: Option<TickerStats>,
    /// Raw samples, relative to the run directory.
    pub samples_csv: Option<String>,
    pub metrics: Vec<CellMetric>,
    /// What the load generator saw during the window (load lane).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<runcost_loadgen::LoadResult>,
    /// Connections held open through the window (`load.hold`,
    /// `entities.hold`), counted at its start and end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hold: Vec<runcost_loadgen::HoldRecord>,
    /// Tool mode of the load lane: the service's own load tool's run and
    /// its figures (closed loop, the tool's, not runcost's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<super::tool::ToolRecord>,
    /// Where the cost went over the window: memory by mapping category,
    /// CPU by thread group (host sampler; `None` where not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<super::attrib::CellAttribution>,
}

/// One metric over one cell's measurement window.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CellMetric {
    pub metric: MetricKind,
    pub value: f64,
    /// Autocorrelation-corrected interval of the window mean.
    pub ci: Option<(f64, f64)>,
    pub n: usize,
    pub n_eff: f64,
    pub lag1: Option<f64>,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    Uss,
    Pss,
    PssAnon,
    Rss,
    Swap,
    Threads,
    Fds,
    CpuCores,
    CgroupMem,
    /// Resident memory no process outside the service maps (pagemap).
    GroupUnique,
    /// The container cgroup's memory by kind (memory.stat).
    CgroupAnon,
    CgroupShmem,
    CgroupFileActive,
    /// Reclaimable page cache.
    CgroupFileInactive,
    CgroupKernel,
    CgroupSock,
    CgroupSwap,
    /// Where a database's rows live: the cgroup's shared memory plus its
    /// page cache (active and inactive), which no process's PSS shows.
    CgroupShmemFile,
    /// The container cgroup's CPU (every process, forks included).
    CgroupCpuCores,
    /// Load lane: median latency of successful requests.
    LatencyP50,
    /// Load lane: 99th percentile latency (only with ≥ 500 requests).
    LatencyP99,
    /// Load lane: successful responses per second.
    Throughput,
    /// Load lane: share of requests that failed.
    ErrorRate,
}

impl MetricKind {
    pub const LOAD: [MetricKind; 4] = [
        MetricKind::LatencyP50,
        MetricKind::LatencyP99,
        MetricKind::Throughput,
        MetricKind::ErrorRate,
    ];

    /// Every metric the samplers read or derive: what any lane can judge.
    pub const SAMPLED: [MetricKind; 19] = MetricKind::FOOTPRINT;

    /// The sampled metrics in bytes (memory, per process or per cgroup).
    pub const MEMORY: [MetricKind; 15] = [
        MetricKind::Uss,
        MetricKind::Pss,
        MetricKind::PssAnon,
        MetricKind::Rss,
        MetricKind::Swap,
        MetricKind::CgroupMem,
        MetricKind::GroupUnique,
        MetricKind::CgroupAnon,
        MetricKind::CgroupShmem,
        MetricKind::CgroupFileActive,
        MetricKind::CgroupFileInactive,
        MetricKind::CgroupShmemFile,
        MetricKind::CgroupKernel,
        MetricKind::CgroupSock,
        MetricKind::CgroupSwap,
    ];

    pub const FOOTPRINT: [MetricKind; 19] = [
        MetricKind::Uss,
        MetricKind::Pss,
        MetricKind::PssAnon,
        MetricKind::Rss,
        MetricKind::Swap,
        MetricKind::Threads,
        MetricKind::Fds,
        MetricKind::CpuCores,
        MetricKind::CgroupMem,
        MetricKind::GroupUnique,
        MetricKind::CgroupAnon,
        MetricKind::CgroupShmem,
        MetricKind::CgroupFileActive,
        MetricKind::CgroupFileInactive,
        MetricKind::CgroupShmemFile,
        MetricKind::CgroupKernel,
        MetricKind::CgroupSock,
        MetricKind::CgroupSwap,
        MetricKind::CgroupCpuCores,
    ];

    /// The name in profiles and run.json (serde's snake_case).
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Uss => "uss",
            MetricKind::Pss => "pss",
            MetricKind::PssAnon => "pss_anon",
            MetricKind::Rss => "rss",
            MetricKind::Swap => "swap",
            MetricKind::Threads => "threads",
            MetricKind::Fds => "fds",
            MetricKind::CpuCores => "cpu_cores",
            MetricKind::CgroupMem => "cgroup_mem",
            MetricKind::GroupUnique => "group_unique",
            MetricKind::CgroupAnon => "cgroup_anon",
            MetricKind::CgroupShmem => "cgroup_shmem",
            MetricKind::CgroupFileActive => "cgroup_file_active",
            MetricKind::CgroupFileInactive => "cgroup_file_inactive",
            MetricKind::CgroupShmemFile => "cgroup_shmem_file",
            MetricKind::CgroupKernel => "cgroup_kernel",
            MetricKind::CgroupSock => "cgroup_sock",
            MetricKind::CgroupSwap => "cgroup_swap",
            MetricKind::CgroupCpuCores => "cgroup_cpu_cores",
            MetricKind::LatencyP50 => "latency_p50",
            MetricKind::LatencyP99 => "latency_p99",
            MetricKind::Throughput => "throughput",
            MetricKind::ErrorRate => "error_rate",
        }
    }

    /// The names of `kinds`, comma-separated, for error messages.
    pub fn names(kinds: &[MetricKind]) -> String {
        kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A rate between readings (CPU), not a level read at each one.
    pub fn is_rate(self) -> bool {
        self.unit() == Unit::Cores
    }

    pub fn unit(self) -> Unit {
        match self {
            MetricKind::Threads | MetricKind::Fds => Unit::Count,
            MetricKind::CpuCores | MetricKind::CgroupCpuCores => Unit::Cores,
            MetricKind::LatencyP50 | MetricKind::LatencyP99 => Unit::Seconds,
            MetricKind::Throughput => Unit::PerSecond,
            MetricKind::ErrorRate => Unit::Ratio,
            _ => Unit::Bytes,
        }
    }

    /// Costs are lower-is-better; throughput is higher-is-better.
    pub fn direction(self) -> Direction {
        match self {
            MetricKind::Throughput => Direction::HigherIsBetter,
            _ => Direction::LowerIsBetter,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MetricKind::Uss => "USS",
            MetricKind::Pss => "PSS",
            MetricKind::PssAnon => "PSS (anon)",
            MetricKind::Rss => "RSS",
            MetricKind::Swap => "swap",
            MetricKind::Threads => "threads",
            MetricKind::Fds => "fds",
            MetricKind::CpuCores => "CPU",
            MetricKind::CgroupMem => "cgroup memory",
            MetricKind::GroupUnique => "group-unique",
            MetricKind::CgroupAnon => "cgroup anon",
            MetricKind::CgroupShmem => "cgroup shmem",
            MetricKind::CgroupFileActive => "cgroup file (active)",
            MetricKind::CgroupFileInactive => "cgroup file (inactive)",
            MetricKind::CgroupKernel => "cgroup kernel",
            MetricKind::CgroupSock => "cgroup sockets",
            MetricKind::CgroupSwap => "cgroup swap",
            MetricKind::CgroupShmemFile => "cgroup shmem + file cache",
            MetricKind::CgroupCpuCores => "cgroup CPU",
            MetricKind::LatencyP50 => "latency p50",
            MetricKind::LatencyP99 => "latency p99",
            MetricKind::Throughput => "throughput",
            MetricKind::ErrorRate => "error rate",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Bytes,
    Count,
    Cores,
    Seconds,
    PerSecond,
    Ratio,
    /// Bytes per second (a data rate).
    BytesPerSecond,
}

impl Unit {
    /// A value formatted for people.
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Bytes => crate::units::ByteUnit::MiB.show(v, 2),
            Unit::Count => {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            }
            Unit::Cores => format!("{:.3} cores", v),
            Unit::Seconds if v < 1.0 => format!("{:.3} ms", v * 1e3),
            Unit::Seconds => format!("{:.3} s", v),
            Unit::PerSecond => format!("{v:.1}/s"),
            Unit::Ratio => format!("{:.3} %", v * 100.0),
            Unit::BytesPerSecond => format!("{}/s", crate::units::ByteUnit::MiB.show(v, 1)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

/// A metric across repeats: the per-repeat values are kept so compare can
/// test differences; the summary is the median and a t interval of the
/// repeat means.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Aggregate {
    pub metric: MetricKind,
    pub unit: Unit,
    pub direction: Direction,
    pub params: BTreeMap<String, String>,
    pub per_repeat: Vec<f64>,
    pub n: usize,
    pub tier: String,
    pub median: f64,
    pub mean: f64,
    pub iqr: Option<f64>,
    /// 95 % Student-t interval of the mean of repeat values (n ≥ 2).
    pub ci95: Option<(f64, f64)>,
}

/// Host load over the whole run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct LoadSummary {
    pub cores: usize,
    pub samples: usize,
    pub mean_load1: f64,
    pub max_load1: f64,
    pub max_cpu_psi: Option<f64>,
    /// load1 exceeded the core count for more than a tenth of the run.
    pub overloaded: bool,
}

impl LaneRecord {
    /// A lane with nothing in it yet.
    pub fn new(lane: LaneKind) -> LaneRecord {
        LaneRecord {
            lane,
            cells: Vec::new(),
            aggregates: Vec::new(),
            skipped: Vec::new(),
            findings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_the_serde_names() {
        for k in MetricKind::SAMPLED.iter().chain(&MetricKind::LOAD) {
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json.as_str(), Some(k.name()), "{k:?}");
        }
        assert!(MetricKind::MEMORY
            .iter()
            .all(|k| k.unit() == Unit::Bytes && MetricKind::SAMPLED.contains(k)));
        let bytes = MetricKind::SAMPLED
            .iter()
            .filter(|k| k.unit() == Unit::Bytes)
            .count();
        assert_eq!(
            bytes,
            MetricKind::MEMORY.len(),
            "every memory metric listed"
        );
    }
}
