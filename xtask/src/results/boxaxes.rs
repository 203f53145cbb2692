//! What the box axes lanes record (stability, burst): raw samples, their
//! percentiles with tiers, the drift test, and every box that died on the
//! way with its cause. A section that could not run on a backend carries
//! the reason instead of numbers, never a zero.

use super::boxes::Quantiles;
use runcost_stats::DriftTest;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A box that failed mid-lane: where, which operation, and why. The lane
/// goes on with a fresh box (or the remaining boxes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BoxDeath {
    pub section: AxisSection,
    /// 0-based index of the operation (exec, restart, box) that failed.
    pub index: u32,
    pub cause: String,
}

/// The sections of the axes lanes, for deaths and skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AxisSection {
    ExecLoop,
    ParallelExec,
    RestartLoop,
    BurstSingle,
    Burst,
    /// The resource lane's N idle boxes side by side.
    IdleBoxes,
    /// The resource lane's memory-pressure box.
    Pressure,
    /// The stability soak (index: the exec of the steady stream that failed).
    Soak,
}

/// How a backend ran "N execs at once" in one box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParallelMode {
    /// The N execs ran concurrently (engine exec API, one CLI process each).
    Concurrent,
    /// Issued together but the box has one command channel (the VM agent's
    /// stream): they queue, and each latency includes the wait.
    Queued,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct StabilityResult {
    /// Sequential round trips of `true`, seconds, in order.
    pub exec_loop: Vec<f64>,
    pub exec_q: Option<Quantiles>,
    /// Slope test over `exec_loop` (x = exec index).
    pub drift: Option<DriftTest>,
    /// Why there is no drift test (too few execs, the box died).
    pub drift_note: Option<String>,
    /// The relative rise over the loop below which drift is not named.
    pub drift_rel_floor: f64,
    /// Execs issued at the same moment per round.
    pub parallel: u32,
    pub parallel_rounds: u32,
    pub parallel_mode: ParallelMode,
    /// Issue → completion of each parallel exec, seconds.
    pub parallel_s: Vec<f64>,
    pub parallel_q: Option<Quantiles>,
    /// Stop → start → first exec of the same box, seconds.
    pub restarts: u32,
    pub restart_s: Vec<f64>,
    pub restart_q: Option<Quantiles>,
    /// Why the restart loop did not run on this backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_skipped: Option<String>,
    pub deaths: Vec<BoxDeath>,
    /// One box under a steady exec stream, its host PSS over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<SoakResult>,
    /// Why there is no soak (`--soak 0s`, no box came up for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_skipped: Option<String>,
}

/// One reading of the soaked box's host PSS.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PssSample {
    /// Seconds since the soak began.
    pub t_s: f64,
    /// PSS of the box's host processes (`host_pids`), bytes.
    pub pss_bytes: u64,
}

/// The leak test (`runcost_stats::leak_test`) over the soak's samples
/// after the warm-up: host PSS in bytes against time in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakTest {
    /// Samples in the fit.
    pub n: usize,
    /// The first fitted sample's time and the fit's span, seconds.
    pub fit_from_s: f64,
    pub fit_span_s: f64,
    /// OLS slope, bytes/s, and its autocorrelation-corrected interval.
    pub slope: f64,
    pub slope_lower: f64,
    pub slope_upper: f64,
    pub level: f64,
    /// Effective sample size of the interval.
    pub n_eff: f64,
    /// Theil–Sen slope, bytes/s (the rank test's estimate).
    pub theil_sen_slope: f64,
    /// Two-sided Mann–Kendall p-value (serial-correlation corrected).
    pub mk_p_value: f64,
    /// Growth below it is not named a leak, bytes/s.
    pub slope_floor: f64,
    pub verdict: runcost_stats::LeakVerdict,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SoakResult {
    /// The soak asked for and how long it ran (less when the box died).
    pub duration_s: f64,
    pub ran_s: f64,
    /// One exec of `command` is issued every `exec_period_s`.
    pub exec_period_s: f64,
    pub command: Vec<String>,
    pub sample_period_s: f64,
    /// Samples before it are recorded but left out of the fit.
    pub warmup_s: f64,
    /// A calibration leak planted in the box (`--soak-plant-leak-kib`):
    /// a process in it grows its memory by this many bytes/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planted_leak_bytes_per_s: Option<u64>,
    /// Host processes of the box at the soak's start.
    pub host_processes: u32,
    /// Every reading, in order; it ends where the box died.
    pub samples: Vec<PssSample>,
    /// Round trip of each exec of the stream, seconds, in order.
    pub exec_s: Vec<f64>,
    pub exec_q: Option<Quantiles>,
    pub test: Option<SoakTest>,
    /// Why there is no test (too few samples after the warm-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl SoakResult {
    pub fn verdict(&self) -> Option<runcost_stats::LeakVerdict> {
        self.test.as_ref().map(|t| t.verdict)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BurstResult {
    /// Boxes created at the same moment.
    pub boxes: u32,
    /// Cold starts (create → first exec) of one box alone, seconds.
    pub single_s: Vec<f64>,
    pub single_q: Option<Quantiles>,
    /// Create → first exec of each box of the burst that came up, seconds.
    pub burst_s: Vec<f64>,
    pub burst_q: Option<Quantiles>,
    pub burst_max_s: Option<f64>,
    pub burst_mean_s: Option<f64>,
    /// Burst max / single-box median and burst mean / single-box median.
    pub ratio_max: Option<f64>,
    pub ratio_mean: Option<f64>,
    pub deaths: Vec<BoxDeath>,
}

/// One box's host cost idle and with one vCPU busy.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ResourceResult {
    pub settle_s: f64,
    /// Length of each CPU window, seconds.
    pub window_s: f64,
    /// Host processes counted for the box when idle.
    pub host_processes: u32,
    pub idle_pss_bytes: u64,
    pub idle_rss_bytes: u64,
    /// Host cores the idle box's processes used.
    pub idle_cores: f64,
    /// Host CPU seconds per second of one busy box vCPU (None: why in
    /// `busy_note`).
    pub host_cpu_per_box_cpu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_note: Option<String>,
    pub busy_pss_bytes: u64,
    /// N idle boxes side by side (None: `--idle-boxes 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_boxes: Option<IdleBoxesResult>,
    /// A box under a memory limit asked for more (None: `--pressure-mib 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<PressureResult>,
}

/// N boxes started one after the other, then read together after `settle`:
/// what each costs the host when it has neighbours (shared pages of the
/// image and the VMM binary are split between them by PSS).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct IdleBoxesResult {
    /// Boxes asked for.
    pub boxes: u32,
    /// Host PSS and RSS of each box that came up, in start order.
    pub pss_bytes: Vec<u64>,
    pub rss_bytes: Vec<u64>,
    pub sum_pss_bytes: u64,
    pub sum_rss_bytes: u64,
    /// Mean and max PSS per box (None: no box came up).
    pub mean_pss_bytes: Option<f64>,
    pub max_pss_bytes: Option<u64>,
    /// Mean PSS per box / the single idle box's PSS (`idle_pss_bytes`).
    pub mean_to_single: Option<f64>,
    pub deaths: Vec<BoxDeath>,
}

/// A box under a memory limit asked to allocate a fraction of it, step by
/// step (below the limit, then beyond it).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PressureResult {
    pub limit_bytes: u64,
    /// How the limit is set on this backend (the engine's cgroup limit
    /// with swap equal to it; a VM's RAM).
    pub how: String,
    /// Host PSS sampling period during each step, milliseconds.
    pub sample_ms: u32,
    pub steps: Vec<PressureStep>,
    /// MemAvailable of a VM guest's own /proc/meminfo before the ladder
    /// (what its kernel and agent leave of the RAM); None for containers,
    /// whose /proc/meminfo is the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_available_bytes: Option<u64>,
    /// Why the section could not run on this backend (no steps then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The box itself died (not only the allocator): the ladder ends there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub death: Option<BoxDeath>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PressureStep {
    /// Requested bytes / the limit.
    pub fraction: f64,
    pub requested_bytes: u64,
    /// The allocating command's exit status as the box reports it
    /// (128 + signal when killed).
    pub exit_code: i32,
    /// Killed by SIGKILL (exit 137: the cgroup's or the guest's OOM killer).
    pub killed: bool,
    /// OOM kills the box's own counter gained over the step (a container's
    /// cgroup `memory.events`, a CLI box's cgroup on the host, the guest
    /// kernel's `/proc/vmstat`); None
    /// where it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kills: Option<u64>,
    /// Highest host PSS of the box's processes sampled during the step.
    pub peak_pss_bytes: u64,
    pub seconds: f64,
}

/// One box's data rates: sequential disk write and read inside the box,
/// copies into and out of it through the runtime's file path, host → box
/// TCP. Each rate is bytes per second per repeat; a part that cannot run
/// on a backend carries the reason instead, never a zero.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ThroughputResult {
    /// Bytes each write, read and copy moves.
    pub size_bytes: u64,
    pub repeats: u32,
    /// Where dd wrote in the box (a VM's scratch block device, a file in
    /// the container's writable layer) and how (O_DIRECT, fsync).
    pub disk_target: String,
    pub disk_method: String,
    /// The disk limit the box ran under (a profile's `disk_bps`), bytes/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_limit_bps: Option<u64>,
    pub write_bps: Vec<f64>,
    pub read_bps: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_skipped: Option<String>,
    /// The runtime's file path the copies took.
    pub copy_path: String,
    pub copy_in_bps: Vec<f64>,
    pub copy_out_bps: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_skipped: Option<String>,
    /// Host → box TCP: bytes the box's sink counted / (first byte written
    /// → its count read back), per repeat.
    pub tcp_bps: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_skipped: Option<String>,
    /// What carried the TCP bytes (host network namespace; qemu's user-mode
    /// network and its forwarded port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_path: Option<String>,
}
