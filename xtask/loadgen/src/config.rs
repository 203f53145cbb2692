//! Run configuration and its validation.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use hyper::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::mix::RequestMix;
use crate::tcp::{TcpConfig, TcpMix, MAX_PIPELINE};

/// Upper bound for the per-request timeout. Latencies are recorded up to one
/// hour; an open-loop sample can reach about twice the timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// Upper bound for a run's total duration.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Upper bound for the number of connections.
pub const MAX_CONNECTIONS: usize = 10_000;
/// Upper bound for the open-loop rate (requests per second).
pub const MAX_RATE_PER_S: f64 = 10_000_000.0;

/// How requests are issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// Constant-rate schedule: request `i` is due at `t0 + i / rate_per_s`
    /// whatever the server does; latency is measured from that intended start.
    Open { rate_per_s: f64 },
    /// Each connection sends its next request as soon as the previous one
    /// finished; latency is measured from the actual send. For maximum
    /// throughput only: its latencies suffer from coordinated omission.
    Closed,
}

/// One entry of the weighted request mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSpec {
    /// HTTP method, e.g. `"GET"`.
    pub method: String,
    /// Origin-form path (starts with `/`, may carry a query). `{rand}` is
    /// replaced by a random integer in `[0, Config::rand_max)` (a fresh draw
    /// per occurrence) and `{seq}` by the request's sequence number.
    pub path_template: String,
    /// Relative weight, > 0.
    pub weight: u32,
    /// Request body, sent with `content-length`; `None` sends no body.
    #[serde(default)]
    pub body: Option<String>,
}

impl RequestSpec {
    /// A body-less request with weight 1.
    pub fn get(path_template: impl Into<String>) -> Self {
        RequestSpec {
            method: "GET".into(),
            path_template: path_template.into(),
            weight: 1,
            body: None,
        }
    }
}

/// Everything a run needs. The target is `host:port` (127.0.0.1 unless the
/// engine publishes elsewhere).
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the target's port is published on (127.0.0.1 by default; a
    /// remote engine's address when the engine is not on this host).
    pub host: std::net::IpAddr,
    pub port: u16,
    /// Keep-alive HTTP/1.1 connections (one hyper client connection each).
    pub connections: usize,
    pub mode: Mode,
    /// Total run time, warm-up included: the measurement window is
    /// `duration - warmup`.
    pub duration: Duration,
    /// Leading part of `duration` whose traffic is sent but not recorded.
    pub warmup: Duration,
    /// Per-request timeout, from the actual send to the end of the response
    /// body. Also the connect timeout and, in open loop, the longest a due
    /// request may wait for a free connection before it is dropped.
    pub timeout: Duration,
    /// Weighted request mix (at least one entry).
    pub mix: Vec<RequestSpec>,
    /// Exclusive upper bound of `{rand}` (>= 1 when a template uses it).
    pub rand_max: u64,
    /// Seed of the mix: request `seq` is a pure function of `(seed, seq)`.
    pub seed: u64,
    /// Extra headers sent with every request (e.g. `content-type`). `host`
    /// is always set to `host:port`.
    pub headers: Vec<(String, String)>,
    /// Speak this TCP request/response protocol instead of HTTP; `mix` and
    /// `headers` are then unused.
    pub tcp: Option<TcpConfig>,
    /// Closed loop over TCP only: requests written back to back before their
    /// replies are read (1 = one in flight per connection, the default).
    /// Open loop always has one in flight per connection.
    pub pipeline: usize,
}

impl Config {
    /// Defaults: 8 connections, 10 s, no warm-up, 2 s timeout, `GET /`,
    /// `rand_max` 1000, seed 0, no extra headers.
    pub fn new(port: u16, mode: Mode) -> Self {
        Config {
            host: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port,
            connections: 8,
            mode,
            duration: Duration::from_secs(10),
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(2),
            mix: vec![RequestSpec::get("/")],
            rand_max: 1000,
            seed: 0,
            headers: Vec::new(),
            tcp: None,
            pipeline: 1,
        }
    }

    /// The intended rate, `None` in closed loop.
    pub fn intended_rate(&self) -> Option<f64> {
        match self.mode {
            Mode::Open { rate_per_s } => Some(rate_per_s),
            Mode::Closed => None,
        }
    }

    /// Checks every field; the error names the offending one.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.port != 0, "config.port must not be 0");
        ensure!(
            (1..=MAX_CONNECTIONS).contains(&self.connections),
            "config.connections must be in 1..={MAX_CONNECTIONS} (got {})",
            self.connections
        );
        ensure!(
            self.duration > self.warmup,
            "config.duration ({:?}) must be longer than config.warmup ({:?}): the measurement window is duration - warmup",
            self.duration,
            self.warmup
        );
        ensure!(
            self.duration <= MAX_DURATION,
            "config.duration must be at most {MAX_DURATION:?} (got {:?})",
            self.duration
        );
        ensure!(
            self.timeout >= Duration::from_millis(1) && self.timeout <= MAX_TIMEOUT,
            "config.timeout must be between 1ms and {MAX_TIMEOUT:?} (got {:?})",
            self.timeout
        );
        if let Mode::Open { rate_per_s } = self.mode {
            ensure!(
                rate_per_s.is_finite() && rate_per_s > 0.0,
                "config.mode.rate_per_s must be a finite number > 0 (got {rate_per_s})"
            );
            ensure!(
                rate_per_s <= MAX_RATE_PER_S,
                "config.mode.rate_per_s must be at most {MAX_RATE_PER_S} (got {rate_per_s})"
            );
            let window = (self.duration - self.warmup).as_secs_f64();
            ensure!(
                rate_per_s * window >= 1.0,
                "config.mode.rate_per_s ({rate_per_s}/s) schedules no request in the {window} s measurement window"
            );
        }
        for (name, value) in &self.headers {
            HeaderName::try_from(name.as_str())
                .with_context(|| format!("config.headers: invalid header name {name:?}"))?;
            HeaderValue::try_from(value.as_str()).with_context(|| {
                format!("config.headers: invalid value {value:?} for header {name:?}")
            })?;
            if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
                bail!("config.headers: {name:?} is set by the generator itself");
            }
        }
        ensure!(
            (1..=MAX_PIPELINE).contains(&self.pipeline),
            "config.pipeline must be in 1..={MAX_PIPELINE} (got {})",
            self.pipeline
        );
        match &self.tcp {
            Some(tcp) => {
                ensure!(
                    self.pipeline == 1 || self.mode == Mode::Closed,
                    "config.pipeline {} needs closed loop: open loop keeps one request in flight per connection",
                    self.pipeline
                );
                TcpMix::new(tcp, self.rand_max, self.seed).context("config.tcp")?;
            }
            None => {
                ensure!(
                    self.pipeline == 1,
                    "config.pipeline applies to TCP only (HTTP/1.1 keeps one request in flight)"
                );
                RequestMix::new(&self.mix, self.rand_max, self.seed).context("config.mix")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Config {
        let mut c = Config::new(8080, Mode::Open { rate_per_s: 100.0 });
        c.duration = Duration::from_secs(3);
        c
    }

    fn err(c: &Config) -> String {
        format!("{:#}", c.validate().unwrap_err())
    }

    #[test]
    fn accepts_defaults() {
        base().validate().unwrap();
        let mut c = base();
        c.mode = Mode::Closed;
        c.validate().unwrap();
    }

    #[test]
    fn rejects_bad_fields_with_clear_messages() {
        let mut c = base();
        c.mode = Mode::Open { rate_per_s: 0.0 };
        assert!(err(&c).contains("rate_per_s"), "{}", err(&c));
        c.mode = Mode::Open {
            rate_per_s: f64::NAN,
        };
        assert!(err(&c).contains("rate_per_s"));

        let mut c = base();
        c.connections = 0;
        assert!(err(&c).contains("connections"));

        let mut c = base();
        c.warmup = Duration::from_secs(3);
        assert!(err(&c).contains("warmup"));

        let mut c = base();
        c.timeout = Duration::ZERO;
        assert!(err(&c).contains("timeout"));

        let mut c = base();
        c.port = 0;
        assert!(err(&c).contains("port"));

        let mut c = base();
        c.mix.clear();
        assert!(err(&c).contains("mix"));

        let mut c = base();
        c.mix[0].weight = 0;
        assert!(err(&c).contains("weight"), "{}", err(&c));

        let mut c = base();
        c.mix[0].method = "GE T".into();
        assert!(err(&c).contains("method"), "{}", err(&c));

        let mut c = base();
        c.mix[0].path_template = "nope".into();
        assert!(err(&c).contains("path"), "{}", err(&c));

        let mut c = base();
        c.mix[0].path_template = "/x/{unknown}".into();
        assert!(err(&c).contains("path"), "{}", err(&c));

        let mut c = base();
        c.mix[0].path_template = "/x/{rand}".into();
        c.rand_max = 0;
        assert!(err(&c).contains("rand_max"), "{}", err(&c));

        let mut c = base();
        c.headers.push(("bad name".into(), "v".into()));
        assert!(err(&c).contains("header"));
        let mut c = base();
        c.headers.push(("Host".into(), "x".into()));
        assert!(err(&c).contains("Host"));

        let mut c = base();
        c.mode = Mode::Open { rate_per_s: 0.1 };
        assert!(err(&c).contains("schedules no request"));
    }
}
