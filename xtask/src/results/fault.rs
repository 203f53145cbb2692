//! Results of the fault lane.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One repeat: a fresh target, a baseline window, the burst, an observation window.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FaultRepeat {
    pub cell: String,
    /// Burst start and end, seconds since the cell's start.
    pub burst: (f64, f64),
    pub uss: Option<Recovery>,
    pub rss: Option<Recovery>,
    /// CPU as 1 s rates, cores.
    pub cpu: Option<Recovery>,
    pub probe: ProbeStats,
    /// The target died at this time (seconds since the cell's start) and did not come back.
    pub died_at: Option<f64>,
    /// Longest time between two samples from the burst's start on, seconds:
    /// how long the target was unreadable (an engine restart replaces its
    /// processes; the sampler finds the new ones).
    #[serde(default)]
    pub sample_gap_s: Option<f64>,
    /// Each named process on its own, when the profile names more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessRecovery>,
}

/// One named process (all processes with that comm, summed) around the burst.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ProcessRecovery {
    pub name: String,
    pub uss: Option<Recovery>,
    pub cpu: Option<Recovery>,
    pub samples_csv: Option<String>,
}

/// What a client probing at a fixed rate saw.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProbeStats {
    pub rate_per_s: f64,
    pub sent: usize,
    pub ok: usize,
    pub errors: usize,
    /// Longest time between two successful answers, seconds, and when it began.
    pub longest_gap_s: Option<f64>,
    pub gap_started_at: Option<f64>,
    /// Median latency of successful answers before, during and after the burst, ms.
    pub p50_before_ms: Option<f64>,
    pub p50_during_ms: Option<f64>,
    pub p50_after_ms: Option<f64>,
    /// Probe answers: (sent at s since cell start, ok, latency ms).
    pub answers_csv: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetainVerdict {
    /// Every repeat's USS came back into the band.
    Recovered,
    /// At least one repeat kept memory beyond the band to the window's end.
    Retained,
    /// No repeat could be judged.
    Unknown,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FaultFinding {
    pub action: String,
    pub burst: u32,
    pub band_frac: f64,
    pub repeats: Vec<FaultRepeat>,
    pub verdict: RetainVerdict,
}

/// What a metric did around a burst.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Recovery {
    /// Mean over the pre-fault window.
    pub baseline: f64,
    /// Largest value from the burst's start on, minus the baseline.
    pub peak_delta: f64,
    /// Seconds after the burst's start at which the peak occurred.
    pub peak_after_s: f64,
    /// Seconds after the burst's end until the metric entered the band and
    /// stayed in it to the window's end; None: not recovered.
    pub recovered_after_s: Option<f64>,
    /// Whether the metric left the band at all after the burst started.
    pub left_band: bool,
    /// Mean over the last `tail_s` of the window minus the baseline.
    pub retained: f64,
    /// Half-width of the band (absolute).
    pub band: f64,
}
