//! The outcome of a run.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latency statistics in **microseconds**.
///
/// Computed from the run's histogram, which holds successes (2xx) plus
/// timeouts and open-loop drops at their give-up values (see [`LoadResult`]).
/// All zero when the histogram is empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LatencySummary {
    /// Samples in the histogram.
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub stdev_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl LatencySummary {
    pub(crate) fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min_us: h.min(),
            mean_us: h.mean(),
            stdev_us: h.stdev(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Percentiles of a lag histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LagSummary {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl LagSummary {
    pub(crate) fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LagSummary::default();
        }
        LagSummary {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        }
    }
}

/// One point of a latency-by-percentile curve (HdrHistogram style): a
/// fraction `percentile`/100 of the samples took at most `value_us`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PercentilePoint {
    /// 0..=100.
    pub percentile: f64,
    pub value_us: u64,
    /// Samples between the previous point and this one.
    pub count: u64,
}

/// Points from `iter_quantiles(ticks_per_half_distance)`: denser towards the
/// tail, about `ticks * log2(samples)` of them, ending at 100.
pub(crate) fn percentile_points(h: &Histogram<u64>, ticks: u32) -> Vec<PercentilePoint> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<PercentilePoint> = Vec::new();
    for v in h.iter_quantiles(ticks) {
        let p = PercentilePoint {
            percentile: v.quantile_iterated_to() * 100.0,
            value_us: v.value_iterated_to(),
            count: v.count_since_last_iteration(),
        };
        if let Some(last) = out.last() {
            if last.percentile == p.percentile && last.value_us == p.value_us {
                continue;
            }
        }
        out.push(p);
    }
    out
}

/// How well the open-loop schedule was kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScheduleStats {
    /// Actual send − intended start over every sent request of the window.
    /// Includes time spent waiting for a free connection, so a server stall
    /// shows here too; it is part of every latency sample by construction.
    pub send_lag: LagSummary,
    /// For requests that a waiting (idle) connection took as soon as they
    /// were released: time from intended start to being taken. This is the
    /// generator's own timing error (pacer wake-up, task scheduling, CPU
    /// starvation) and, not `send_lag`, decides `kept_up`.
    pub timer_lag: LagSummary,
    /// Window requests that were already waiting in the queue when a
    /// connection came for one, i.e. had waited because all were busy.
    pub queued: u64,
    /// Largest queue length seen by the pacer.
    pub peak_backlog: u64,
    /// The queue's capacity: `ceil(rate × timeout)`, at least 1, at most
    /// 10^6. A request that finds it full, or that has waited `timeout` in it,
    /// is dropped instead of sent.
    pub backlog_limit: u64,
    /// `timer_lag.p99_us` must stay at or below this for `kept_up`:
    /// the period clamped to [2 ms, 10 ms].
    pub lag_limit_us: u64,
}

/// Result of one run. Serializable; counts cover the measurement window
/// (requests whose intended start, or in closed loop actual send, is at or
/// after the end of the warm-up) unless named `warmup_*` or said otherwise.
///
/// Latency histogram contents: every 2xx response (intended start → end of
/// body in open loop, send → end of body in closed loop), every timeout at the
/// value where the generator gave up (closed loop: `timeout`; open loop:
/// send lag + `timeout`), and every open-loop drop at `timeout` (a lower
/// bound of what it would have taken). Non-2xx responses and I/O or connect
/// errors are counted but not recorded.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadResult {
    /// `"open"` or `"closed"`.
    pub mode: String,
    /// `"http"` or `"tcp"` (older records: HTTP).
    #[serde(default = "http")]
    pub protocol: String,
    /// Closed loop over TCP: requests written back to back per connection
    /// before their replies were read (1: one in flight).
    #[serde(default = "one")]
    pub pipeline: usize,
    pub connections: usize,
    /// `None` in closed loop.
    pub intended_rate_per_s: Option<f64>,
    /// `requests_sent / duration_s`.
    pub achieved_rate_per_s: f64,
    /// Length of the measurement window in seconds (shorter than configured
    /// when the run was stopped early). In open loop the window is the span
    /// of intended start times; requests due in it but sent late (after a
    /// stall) still count in it.
    pub duration_s: f64,
    pub warmup_s: f64,
    pub timeout_s: f64,
    /// Whole run, connecting, warm-up and draining included.
    pub wall_s: f64,
    /// Requests written to a connection.
    pub requests_sent: u64,
    /// Requests answered with a full response, any status.
    pub requests_completed: u64,
    /// 2xx responses.
    pub ok: u64,
    /// Completed responses whose status was not 2xx.
    pub non_2xx: u64,
    /// TCP: replies framed in full that failed the expected-reply check (or
    /// were the protocol's error reply). Counted, not recorded.
    #[serde(default)]
    pub mismatches: u64,
    /// TCP: replies over the size limit or that could not be framed (binary
    /// junk, bad lengths, unsolicited bytes). The connection is re-opened.
    #[serde(default)]
    pub protocol_errors: u64,
    /// Responses by status code, 2xx included.
    pub status_counts: BTreeMap<u16, u64>,
    /// Requests that got no full response within `timeout`.
    pub timeouts: u64,
    /// Sent requests that failed on the connection (reset, closed, protocol
    /// error). The connection is re-established.
    pub io_errors: u64,
    /// Failed connection attempts over the whole run (they are not tied to a
    /// request). Each is followed by a retry with back-off (5 ms to 200 ms).
    pub connect_errors: u64,
    /// Open loop: due requests never sent because they had waited longer than
    /// `timeout` for a free connection (the backlog bound).
    pub dropped: u64,
    /// Requests sent during the warm-up (not recorded anywhere else).
    pub warmup_requests: u64,
    /// Warm-up requests that failed in any way, drops included.
    pub warmup_errors: u64,
    /// Response body bytes received in the window.
    pub bytes_received: u64,
    /// `ok / duration_s`.
    pub throughput_ok_per_s: f64,
    /// `ok > 0`: the latency figures describe at least one success. When
    /// false they must not be presented as a service latency.
    pub latency_valid: bool,
    /// Microseconds; see the type's doc for what the histogram holds.
    pub latency: LatencySummary,
    /// Latency-by-percentile curve for charts.
    pub latency_percentiles: Vec<PercentilePoint>,
    /// Open loop only.
    pub schedule: Option<ScheduleStats>,
    /// Open loop: achieved rate within 5 % of the intended one and
    /// `schedule.timer_lag.p99_us <= schedule.lag_limit_us`. Closed loop: always
    /// true (there is no schedule to keep).
    pub kept_up: bool,
    /// User + system CPU of the whole process during the run (getrusage): in
    /// a process that does other work at the same time this includes it.
    pub generator_cpu_s: f64,
    /// Peak resident set of the process (VmHWM) at the end, KiB; Linux only.
    pub peak_rss_kib: Option<u64>,
    /// The latency histogram itself (µs, 3 significant figures, up to 1 h),
    /// for merging runs or custom quantiles. Not serialized.
    #[serde(skip)]
    pub histogram: Option<Histogram<u64>>,
}

impl LoadResult {
    /// True when at least one request succeeded; see [`Self::latency_valid`].
    pub fn latency_valid(&self) -> bool {
        self.ok > 0
    }

    /// Every failed request of the window: non-2xx, mismatches, protocol
    /// errors, timeouts, I/O errors and drops (connect errors are not per request and are not included).
    pub fn error_count(&self) -> u64 {
        self.non_2xx
            + self.mismatches
            + self.protocol_errors
            + self.timeouts
            + self.io_errors
            + self.dropped
    }

    /// `error_count / (requests_sent + dropped)`, 0 when nothing was due.
    pub fn error_rate(&self) -> f64 {
        let n = self.requests_sent + self.dropped;
        if n == 0 {
            0.0
        } else {
            self.error_count() as f64 / n as f64
        }
    }

    /// One human-readable line.
    pub fn summary(&self) -> String {
        let rate = match self.intended_rate_per_s {
            Some(r) => format!("{r:.1}/s intended, "),
            None => String::new(),
        };
        let lat = if self.latency_valid {
            let l = &self.latency;
            format!(
                "latency ms p50 {:.3} p90 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}",
                l.p50_us as f64 / 1e3,
                l.p90_us as f64 / 1e3,
                l.p99_us as f64 / 1e3,
                l.p999_us as f64 / 1e3,
                l.max_us as f64 / 1e3
            )
        } else {
            "latency INVALID (no successful response)".to_string()
        };
        let (proto, bad) = if self.protocol == "tcp" {
            let depth = if self.pipeline > 1 {
                format!(" pipeline {}", self.pipeline)
            } else {
                String::new()
            };
            (
                format!(" tcp{depth}"),
                format!(
                    "mismatch {} protocol {}",
                    self.mismatches, self.protocol_errors
                ),
            )
        } else {
            (String::new(), format!("non-2xx {}", self.non_2xx))
        };
        format!(
            "{}{proto} x{}: {rate}{:.1}/s achieved over {:.2} s, sent {} ok {} {bad} timeouts {} io {} connect {} dropped {}, {:.1} ok/s, kept_up {}; {lat}",
            self.mode,
            self.connections,
            self.achieved_rate_per_s,
            self.duration_s,
            self.requests_sent,
            self.ok,
            self.timeouts,
            self.io_errors,
            self.connect_errors,
            self.dropped,
            self.throughput_ok_per_s,
            self.kept_up,
        )
    }
}

fn http() -> String {
    "http".into()
}

fn one() -> usize {
    1
}
