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
    /// The container cgroup's memory: every process, forked or not, plus
    /// shared memory and page cache.
    #[serde(default)]
    pub cgroup_mem: Option<Recovery>,
    /// The container cgroup's CPU as 1 s rates, cores.
    #[serde(default)]
    pub cgroup_cpu: Option<Recovery>,
    /// Fewest and most processes summed in one sample over the window
    /// (a fork per fault shows as max > min).
    #[serde(default)]
    pub procs_min: Option<u32>,
    #[serde(default)]
    pub procs_max: Option<u32>,
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
    /// Every judged memory metric of every repeat came back into the band.
    Recovered,
    /// At least one repeat kept memory beyond the band to the window's end.
    Retained,
    /// At least one repeat's memory did not come back into the band and was
    /// not kept above it: it ended below its baseline (an engine restart
    /// that brought back fewer processes) or never settled.
    NotRecovered,
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

impl FaultRepeat {
    /// The memory metrics the verdict judges, as the table names them: USS
    /// and, where readable, the cgroup's memory.
    pub fn judged(&self) -> Vec<(&'static str, &Recovery)> {
        [("USS", &self.uss), ("cgroup memory", &self.cgroup_mem)]
            .into_iter()
            .filter_map(|(name, r)| r.as_ref().map(|r| (name, r)))
            .collect()
    }
}

/// The lane's verdict from the per-metric outcomes the table shows: any
/// metric kept beyond the band is RETAINED, else any that did not come back
/// is NOT_RECOVERED, else RECOVERED; UNKNOWN when nothing could be judged.
pub fn verdict(repeats: &[FaultRepeat]) -> RetainVerdict {
    let outcomes: Vec<RecoveryOutcome> = repeats
        .iter()
        .flat_map(|r| r.judged())
        .map(|(_, m)| m.outcome())
        .collect();
    if outcomes.is_empty() {
        RetainVerdict::Unknown
    } else if outcomes.contains(&RecoveryOutcome::Retained) {
        RetainVerdict::Retained
    } else if outcomes.contains(&RecoveryOutcome::NotRecovered) {
        RetainVerdict::NotRecovered
    } else {
        RetainVerdict::Recovered
    }
}

/// What one metric's recovery means; the table's cells and the verdict
/// both come from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryOutcome {
    /// Entered the band after the burst and stayed in it.
    Recovered,
    /// Not back in the band, and what the window's end kept is above it.
    Retained,
    /// Not back in the band without being kept above it: below the
    /// baseline at the end, or still moving in and out of the band.
    NotRecovered,
}

impl Recovery {
    pub fn outcome(&self) -> RecoveryOutcome {
        match self.recovered_after_s {
            Some(_) => RecoveryOutcome::Recovered,
            None if self.retained > self.band => RecoveryOutcome::Retained,
            None => RecoveryOutcome::NotRecovered,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(recovered_after_s: Option<f64>, retained: f64) -> Recovery {
        Recovery {
            baseline: 100.0,
            peak_delta: 50.0,
            peak_after_s: 1.0,
            recovered_after_s,
            left_band: true,
            retained,
            band: 5.0,
        }
    }

    #[test]
    fn outcome_reads_the_band_and_the_sign_of_what_was_kept() {
        assert_eq!(rec(Some(1.0), 0.0).outcome(), RecoveryOutcome::Recovered);
        assert_eq!(rec(None, 20.0).outcome(), RecoveryOutcome::Retained);
        // Ended below its baseline: not back, and not kept either.
        assert_eq!(rec(None, -20.0).outcome(), RecoveryOutcome::NotRecovered);
        // Tail mean inside the band but the last samples outside it.
        assert_eq!(rec(None, 2.0).outcome(), RecoveryOutcome::NotRecovered);
    }
}
