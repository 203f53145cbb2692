//! How a cell's series was sampled: the reader used and what the ticker
//! achieved. `probe/` does the sampling; this is what run.json keeps of it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a sampler reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SamplerMode {
    /// The host's /proc (needs root or CAP_SYS_PTRACE, and a local engine).
    Host,
    /// One long-lived `docker exec` shell loop inside the container.
    Exec,
    /// Host when the container's processes are visible in this host's
    /// /proc (its PID's cgroup names the container), exec otherwise: chosen
    /// per cell, and the cell records the one used.
    Auto,
}

/// What the ticker achieved, recorded with every series.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct TickerStats {
    pub target_hz: f64,
    pub achieved_hz: f64,
    pub samples: u64,
    pub missed_ticks: u64,
    pub failed_reads: u64,
    /// Processes that exited between a read's listing and their read:
    /// skipped, summed over the reads.
    #[serde(default)]
    pub vanished: u64,
    /// CPU time of the sampling thread, seconds.
    pub thread_cpu_s: f64,
    pub wall_s: f64,
    pub mean_read_s: f64,
    pub last_error: Option<String>,
    /// Metrics the probe could not read, each with the reason and how to
    /// make it readable (e.g. `group_unique`: no CAP_SYS_ADMIN in the
    /// container): the sampler's facts, never a silent zero.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unavailable: BTreeMap<String, String>,
}
