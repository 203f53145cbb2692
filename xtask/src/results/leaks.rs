//! What the leak lanes (heap, memcheck, churn) record in `run.json`, as
//! `Finding::Heap`, `Finding::Memcheck` and `Finding::Churn`.

use super::MetricKind;
use runcost_leakparse::{KindCount, LeakSummary};
use runcost_stats::leak::{ChurnLeakTest, LeakVerdict};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One allocation site or error stack, as a tool reported it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SiteRow {
    /// The site: the innermost frame that is neither an allocator nor the
    /// standard library (tidied: Rust hashes and escapes removed).
    pub site: String,
    /// `file:line` of the site, when the tool knew it.
    pub location: Option<String>,
    /// Bytes (leaked, peak) at the site; None where the section has none.
    pub bytes: Option<u64>,
    /// heaptrack: calls to allocation functions (temporary allocations in
    /// the temporary section); memcheck: blocks or occurrences.
    pub count: Option<u64>,
    /// memcheck: the error or leak kind (`Leak_DefinitelyLost`, `InvalidRead`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Callers above the site, innermost first (a few, tidied).
    pub stack: Vec<String>,
}

/// How the target left the tool's run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetExit {
    /// The container's exit code (the tool passes the target's on).
    pub exit_code: i64,
    /// Seconds from SIGTERM until the container had exited.
    pub stop_s: f64,
    /// In words: "exited 0 after SIGTERM", "terminated by SIGTERM (no handler)".
    pub how: String,
}

/// heaptrack's cost: the target's RSS with and without it, same settings
/// and duration, each in a fresh container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HeapOverhead {
    /// Peak RSS (VmHWM) of the target's processes without heaptrack.
    pub plain_peak_rss: u64,
    /// Same under heaptrack (its preloaded library and buffers included).
    pub heaptrack_peak_rss: u64,
    /// Mean RSS over the run without and with heaptrack.
    pub plain_mean_rss: f64,
    pub heaptrack_mean_rss: f64,
}

/// The heap lane: the target under heaptrack, `heaptrack_print` parsed whole.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct HeapFinding {
    pub cell: String,
    /// LEAK when `leaked_bytes` exceeds `threshold_bytes`.
    pub verdict: LeakVerdict,
    pub threshold_bytes: u64,
    /// heaptrack's "total memory leaked": every block not freed at exit.
    pub leaked_bytes: Option<u64>,
    pub total_allocations: Option<u64>,
    pub temporary_allocations: Option<u64>,
    pub peak_heap_bytes: Option<u64>,
    /// heaptrack's own "peak RSS (including heaptrack overhead)".
    pub peak_rss_bytes: Option<u64>,
    pub runtime_s: Option<f64>,
    /// Top sites of each section, heaviest first.
    pub leaks: Vec<SiteRow>,
    pub peak: Vec<SiteRow>,
    pub allocations: Vec<SiteRow>,
    pub temporary: Vec<SiteRow>,
    pub overhead: Option<HeapOverhead>,
    pub exit: TargetExit,
    /// Files kept in the run directory (trace, heaptrack_print output, logs).
    pub files: Vec<String>,
    /// The parser's notes on lines it did not understand.
    pub warnings: Vec<String>,
}

/// The memcheck lane: the target under valgrind, its XML parsed.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MemcheckFinding {
    pub cell: String,
    /// LEAK when definitely lost bytes exceed `threshold_bytes`.
    pub verdict: LeakVerdict,
    pub threshold_bytes: u64,
    /// Bytes, blocks and loss records per leak kind (direct bytes, so the
    /// totals equal valgrind's LEAK SUMMARY).
    pub leaks: LeakSummary,
    /// Errors and leak records by kind.
    pub errors: BTreeMap<String, KindCount>,
    /// Largest loss records, definitely lost first.
    pub top_leaks: Vec<SiteRow>,
    /// Memory errors (invalid reads, uninitialised values), most frequent first.
    pub top_errors: Vec<SiteRow>,
    /// Suppression files applied, and how often each suppression matched.
    pub suppressions: Vec<String>,
    pub suppressions_used: BTreeMap<String, u64>,
    pub valgrind_version: Option<String>,
    pub exit: TargetExit,
    pub files: Vec<String>,
    pub warnings: Vec<String>,
}

/// One metric's growth per cycle under churn against a static run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ChurnMetric {
    pub metric: MetricKind,
    /// Slopes per cycle with autocorrelation-corrected 95 % intervals, and
    /// the verdict: LEAK only when the churn slope's lower bound exceeds
    /// the static slope's upper bound and the floor.
    pub test: ChurnLeakTest,
}

/// The churn lane: create/delete cycles against a static run of the same length.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ChurnFinding {
    /// LEAK if any metric leaks, else NO LEAK if every metric is clear,
    /// else INCONCLUSIVE.
    pub verdict: LeakVerdict,
    pub cycles: u32,
    /// Leading cycles left out of the fit (allocator and runtime warm-up).
    pub warmup_cycles: u32,
    /// Objects created and deleted per cycle.
    pub batch: u32,
    /// Mean seconds per cycle.
    pub cycle_s: f64,
    pub metrics: Vec<ChurnMetric>,
    /// The memory metric the two series below are of: the first judged
    /// memory metric (anonymous memory, `Pss_Anon`, when none is judged).
    #[serde(default = "default_memory_metric")]
    pub memory_metric: MetricKind,
    /// `memory_metric` (bytes) after each cycle, churn run and static run,
    /// for the chart and the summary.
    pub churn_memory: Vec<(f64, f64)>,
    pub static_memory: Vec<(f64, f64)>,
}

fn default_memory_metric() -> MetricKind {
    MetricKind::PssAnon
}

/// A verdict as people read it.
pub fn verdict_word(v: LeakVerdict) -> &'static str {
    match v {
        LeakVerdict::Leak => "LEAK",
        LeakVerdict::NoLeak => "NO LEAK",
        LeakVerdict::Inconclusive => "INCONCLUSIVE",
    }
}
