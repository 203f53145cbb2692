//! What the box lanes record: the box environment (backend, accelerator,
//! qemu and kernel versions), raw per-sample timings, and each lane's
//! analysis. Raw samples stay in run.json so a report can be re-rendered
//! and re-analysed. The box vocabulary (backend, accelerator, transport,
//! size) is defined here because run.json carries it; `boxes/` uses it.

use runcost_stats::density::Breakpoint;
use runcost_stats::leak::ChurnLeakTest;
use runcost_stats::{percentiles_nearest_rank, LeakVerdict, Tier};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which kind of box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// qemu-system-x86_64 with a Debian kernel and the runcost initramfs.
    Qemu,
    /// A container of the base image through the Docker engine.
    Container,
    /// Any runtime driven through its command line (a box profile's argv
    /// templates).
    Command,
}

/// How a VM's CPU is provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
    /// qemu's software emulator (Tiny Code Generator).
    Tcg,
}

/// What the user asked for with `--accel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccelChoice {
    /// KVM when a boot probe shows it boots the guest, else TCG.
    Auto,
    /// KVM or a clear error.
    Kvm,
    /// Software emulation, no probe.
    Tcg,
}

/// How the host reaches a VM's agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// `-machine microvm` with virtio-console over virtio-mmio (the agent
    /// loads four modules): measured 20× faster for 1 MiB of output than
    /// the UART, and the smaller machine boots faster.
    Virtio,
    /// `-machine pc` with the agent on the second 16550 UART: no guest
    /// modules at all.
    Serial,
}

/// The size of one box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BoxSpec {
    pub memory_mib: u32,
    pub vcpus: u32,
}

/// What the accelerator probe found, recorded in every qemu result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccelProbe {
    pub accel: Accel,
    pub choice: AccelChoice,
    /// Why this accelerator (e.g. "KVM did not boot the guest within 20 s").
    pub reason: String,
    /// From the cache of an earlier probe.
    pub cached: bool,
}

/// Which box lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoxLane {
    Lifecycle,
    Exec,
    Density,
    Churn,
    Snapshot,
    Stability,
    Burst,
    Resource,
    Throughput,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BoxEnv {
    pub backend: BackendKind,
    pub spec: BoxSpec,
    /// qemu: the accelerator used and why.
    pub accel: Option<Accel>,
    pub accel_probe: Option<AccelProbe>,
    /// qemu: how the agent is reached (machine type follows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    pub qemu_version: Option<String>,
    pub kernel_version: Option<String>,
    pub kernel_format: Option<String>,
    /// container: the image.
    pub image: Option<String>,
    /// The box profile (`profiles/boxes/<name>.yaml`), when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The OCI runtime (engine runtime name or CLI binary and version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Which host processes the per-box memory counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<String>,
    /// Why this runtime was not measured (its one-box probe failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// One percentile of a sample, with whether its tier allows quoting it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Quantile {
    pub p: f64,
    pub value: f64,
    pub quotable: bool,
}

/// Nearest-rank p50/p90/p95/p99 of a sample (seconds), with its tier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Quantiles {
    pub n: usize,
    pub tier: Tier,
    pub min: f64,
    pub max: f64,
    pub q: Vec<Quantile>,
}

impl Quantiles {
    pub fn of(samples: &[f64]) -> Option<Quantiles> {
        const PS: [f64; 4] = [0.5, 0.9, 0.95, 0.99];
        let vals = percentiles_nearest_rank(samples, &PS).ok()?;
        let tier = Tier::from_n(samples.len());
        Some(Quantiles {
            n: samples.len(),
            tier,
            min: samples.iter().cloned().fold(f64::INFINITY, f64::min),
            max: samples.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            q: PS
                .iter()
                .zip(vals)
                .map(|(&p, value)| Quantile {
                    p,
                    value,
                    quotable: tier.may_quote(p),
                })
                .collect(),
        })
    }

    pub fn get(&self, p: f64) -> Option<&Quantile> {
        self.q.iter().find(|q| (q.p - p).abs() < 1e-9)
    }
}

/// One cold box: seconds from the start of `create`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct LifecycleSample {
    pub create_s: f64,
    /// create → ready (VM: the agent's hello; container: running).
    pub ready_s: f64,
    /// create → first successful exec: the cold start.
    pub first_exec_s: f64,
    /// Guest uptime at the agent's hello (VMs).
    pub guest_uptime_s: Option<f64>,
    pub stop_s: f64,
    pub remove_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct LifecycleResult {
    pub samples: Vec<LifecycleSample>,
    pub cold_start: Option<Quantiles>,
    pub ready: Option<Quantiles>,
    pub stop: Option<Quantiles>,
    pub remove: Option<Quantiles>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ExecResult {
    pub warmup: usize,
    /// Round trips of `true`, seconds.
    pub trivial: Vec<f64>,
    pub trivial_q: Option<Quantiles>,
    /// Round trips of a command writing `large_bytes` to stdout.
    pub large: Vec<f64>,
    pub large_q: Option<Quantiles>,
    pub large_bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DensityLevel {
    pub level: u32,
    /// Exec round trips at this level (all boxes, all rounds), seconds.
    pub exec: Vec<f64>,
    pub exec_q: Option<Quantiles>,
    /// Host PSS of all boxes' processes, idle, after the level settled.
    pub pss_total_bytes: u64,
    pub pss_per_box_bytes: f64,
    /// Boot (create → ready) of the boxes added at this level.
    pub boot_s: Vec<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DensityResult {
    pub levels: Vec<DensityLevel>,
    pub rounds_per_level: Vec<u32>,
    pub breakpoint: Option<Breakpoint>,
    /// Why there is no breakpoint (e.g. a level without samples).
    pub breakpoint_note: Option<String>,
    /// MemAvailable at the start of the lane.
    pub mem_available_bytes: u64,
    /// Boxes of the largest level's per-box PSS that fit in MemAvailable.
    pub capacity_by_memory: Option<u64>,
}

/// A host metric read after every cycle and in the static reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChurnMetric {
    /// MemTotal − MemAvailable, bytes.
    HostMemUsed,
    /// Unreclaimable kernel slab (SUnreclaim), bytes: sockets, namespaces,
    /// cgroups a box left in the kernel; far less noisy than MemAvailable.
    KernelSlab,
    /// Processes on the host.
    HostProcesses,
    /// Open file descriptors of runcost itself (the VMMs' parent).
    HarnessFds,
    /// runcost's own anonymous memory (Pss_Anon), bytes: box handles,
    /// buffers or connections the harness keeps.
    HarnessAnon,
}

impl ChurnMetric {
    pub const ALL: [ChurnMetric; 5] = [
        ChurnMetric::HostMemUsed,
        ChurnMetric::KernelSlab,
        ChurnMetric::HostProcesses,
        ChurnMetric::HarnessFds,
        ChurnMetric::HarnessAnon,
    ];
    pub fn label(self) -> &'static str {
        match self {
            ChurnMetric::HostMemUsed => "host memory used",
            ChurnMetric::KernelSlab => "kernel slab (unreclaimable)",
            ChurnMetric::HarnessAnon => "runcost anon memory",
            ChurnMetric::HostProcesses => "host processes",
            ChurnMetric::HarnessFds => "runcost fds",
        }
    }
    /// Growth per cycle below which nothing is called a leak.
    pub fn floor_per_cycle(self) -> f64 {
        match self {
            // 64 KiB a cycle: 6 MiB over 100 cycles.
            ChurnMetric::HostMemUsed => 65536.0,
            // 16 KiB a cycle: a socket plus its buffers, a namespace.
            ChurnMetric::KernelSlab | ChurnMetric::HarnessAnon => 16384.0,
            ChurnMetric::HostProcesses | ChurnMetric::HarnessFds => 0.05,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ChurnSeries {
    pub metric: ChurnMetric,
    /// After each cycle.
    pub churn: Vec<f64>,
    /// Static reference: the same readings with no box created.
    pub reference: Vec<f64>,
    pub test: Option<ChurnLeakTest>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BoxChurnResult {
    pub cycles: u32,
    pub cycle_s: Vec<f64>,
    pub series: Vec<ChurnSeries>,
    pub verdict: LeakVerdict,
    /// Tracked VMs or labelled containers of the run alive after the cycles.
    pub leftover_boxes: usize,
}

/// A box lane's finding.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BoxFinding {
    pub lane: BoxLane,
    pub env: BoxEnv,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub density: Option<DensityResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<BoxChurnResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<super::boxaxes::StabilityResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<super::boxaxes::BurstResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<super::boxaxes::ResourceResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<super::boxaxes::ThroughputResult>,
}

/// How a snapshot is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// Pre-copy migration to a file while the box runs; the pause is the
    /// final stop-and-copy (qemu's reported downtime) and the resume.
    Live,
    /// Stop, write everything, continue (qemu `stop`/`migrate`/`cont`;
    /// runsc `checkpoint` stops the box and `restore` brings it back).
    Full,
    /// qemu's `background-snapshot` migration capability: the guest runs
    /// on while memory is written as it was when the snapshot began
    /// (userfaultfd write-protect catches the pages it writes first).
    Background,
}

impl SnapshotMode {
    pub fn name(self) -> &'static str {
        match self {
            SnapshotMode::Live => "live",
            SnapshotMode::Full => "full",
            SnapshotMode::Background => "background",
        }
    }
}

/// One snapshot of one mode in one iteration (seconds, bytes).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotSample {
    pub iteration: u32,
    pub mode: SnapshotMode,
    /// The caller's round trip: the snapshot command(s) until the box runs again.
    pub caller_s: f64,
    /// The runtime's own figure of the pause (qemu's `downtime`; for a full
    /// snapshot the time from `stop` to `cont`).
    pub reported_pause_s: Option<f64>,
    /// The runtime's total time of the write (qemu's `total-time`).
    pub total_s: f64,
    /// Largest gap between two answers of the agent's ping loop around it.
    pub host_gap_s: Option<f64>,
    pub pings: usize,
    /// Largest gap between two stamps of the in-box ticker.
    pub guest_gap_s: Option<f64>,
    pub ticks: usize,
    pub bytes: u64,
    /// bytes / total_s.
    pub write_bytes_per_s: f64,
    /// When the snapshot began, seconds after the lane began measuring.
    #[serde(default)]
    pub at_s: f64,
    /// The ping loop's gaps over time: `[t, gap]`, seconds, t after the
    /// snapshot began (the largest gap per 5 ms bucket).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_gaps: Vec<[f64; 2]>,
    /// The in-box ticker's gaps over time, like `host_gaps`; the box clock
    /// is placed on the host's by the instant the ticker was started
    /// (good to the start exec's round trip).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guest_gaps: Vec<[f64; 2]>,
}

/// Per-mode percentiles over the iterations.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotModeSummary {
    pub mode: SnapshotMode,
    pub reported_pause: Option<Quantiles>,
    pub host_gap: Option<Quantiles>,
    pub guest_gap: Option<Quantiles>,
    pub caller: Option<Quantiles>,
    pub total: Option<Quantiles>,
    /// Median snapshot size.
    pub bytes: u64,
    pub write_bytes_per_s: f64,
}

/// One box restored from the fork snapshot.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ForkSample {
    /// Spawn of the restoring VMM until `true` ran in it.
    pub clone_s: f64,
    /// Host PSS of the clone's processes with every clone running.
    pub pss_bytes: u64,
}

/// The snapshot lane on one runtime.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotResult {
    /// Why this runtime cannot snapshot here (SKIP), the runtime's own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub iterations: u32,
    /// Memory made resident (non-zero pages) in the box before measuring.
    pub held_mib: u32,
    /// In-box ticker period, microseconds.
    pub tick_us: u32,
    pub samples: Vec<SnapshotSample>,
    pub modes: Vec<SnapshotModeSummary>,
    /// Restore from the snapshot file until the first successful exec.
    pub restore_s: Vec<f64>,
    pub restore: Option<Quantiles>,
    pub forks: Vec<ForkSample>,
    pub fork: Option<Quantiles>,
    /// Why the background mode was not measured: qemu's own error when
    /// the capability is refused here, or that the runtime has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_skipped: Option<String>,
    /// Why forks were not measured on this runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork_skipped: Option<String>,
    /// Host PSS of the source box before the forks.
    pub source_pss_bytes: u64,
    /// Size of the snapshot the restores and forks started from.
    pub fork_snapshot_bytes: u64,
    /// Every restored box and fork read back the value written before the
    /// snapshot (a wrong one fails the runtime instead).
    pub state_verified: usize,
    /// Snapshot files left on disk after the lane (must be 0).
    pub files_left: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_carry_their_tier() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        let q = Quantiles::of(&s).unwrap();
        assert_eq!(q.tier, Tier::P95);
        assert_eq!(q.get(0.5).unwrap().value, 50.0);
        assert_eq!(q.get(0.95).unwrap().value, 95.0);
        assert!(q.get(0.95).unwrap().quotable);
        assert!(!q.get(0.99).unwrap().quotable);
        let few = Quantiles::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(few.get(0.5).unwrap().value, 2.0);
        assert!(!few.get(0.5).unwrap().quotable);
        assert!(Quantiles::of(&[]).is_none());
    }
}
