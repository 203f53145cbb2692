//! HTTP/1.1 load generator for runcost's load lane.
//!
//! Two modes:
//!
//! * **Open loop** ([`Mode::Open`]): a constant-rate schedule, request `i` due
//!   at `t0 + i / rate`, dispatched to whichever of the `connections` is free.
//!   Latency runs from the *intended* start to the end of the response body,
//!   so a server stall shows in every request scheduled during it (no
//!   coordinated omission, like wrk2 and oha). A pacer thread releases each
//!   request at its intended time (microsecond precision) into a bounded
//!   queue that the connections take from; when every connection is busy the
//!   requests wait there. At most `ceil(rate × timeout)` (capped at 10^6) wait:
//!   a request that finds the queue full, or that has waited `timeout`, is
//!   dropped (counted in `dropped` and recorded at `timeout`).
//! * **Closed loop** ([`Mode::Closed`]): every connection sends its next request
//!   when the previous one ends; latency from the actual send. For maximum
//!   throughput; its latencies hide stalls (one slow sample per stall and
//!   connection).
//!
//! Memory is bounded whatever the rate and duration: one shared latency
//! histogram (HdrHistogram, microseconds, 3 significant figures, up to 1 h),
//! two lag histograms and the bounded queue (24 bytes an entry); no
//! per-request samples are kept.
//!
//! The target is always `127.0.0.1:port`. Everything runs on the caller's tokio
//! runtime; dropping the future of [`run`] aborts every task and connection.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use runcost_loadgen::{run, Config, Mode, RequestSpec};
//! let mut cfg = Config::new(8080, Mode::Open { rate_per_s: 500.0 });
//! cfg.duration = Duration::from_secs(30);
//! cfg.warmup = Duration::from_secs(5);
//! cfg.mix = vec![RequestSpec::get("/entities/{rand}")];
//! let res = run(cfg).await?;
//! if res.latency_valid() && res.kept_up {
//!     println!("p99 {} us", res.latency.p99_us);
//! }
//! # Ok(()) }
//! ```

mod config;
mod deadline;
mod engine;
pub mod hold;
mod http1;
mod mix;
mod result;
mod sys;
pub mod tcp;

pub use config::{
    Config, Mode, RequestSpec, MAX_CONNECTIONS, MAX_DURATION, MAX_RATE_PER_S, MAX_TIMEOUT,
};
pub use engine::{run, run_until, runtime};
pub use hdrhistogram::Histogram;
pub use hold::{HoldConfig, HoldCounts, HoldRecord, HoldRequest, Holder};
pub use mix::{PlannedRequest, RequestMix};
pub use result::{LagSummary, LatencySummary, LoadResult, PercentilePoint, ScheduleStats};
pub use tcp::{Expect, Framing, TcpConfig, TcpRequestSpec};
