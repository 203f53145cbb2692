//! The redis round of `selfcheck load`: runcost's closed-loop TCP generator
//! against `redis-benchmark` (Debian's redis-tools) on the same redis, same
//! connections, no pipelining, interleaved. Both send the same bytes: the
//! RESP array of `GET key:__rand_int__` (redis-benchmark's key without
//! `-r`), set once before the rounds. redis-benchmark counts requests, not
//! seconds: each of its runs sends as many as runcost's run of the same
//! round did, so the two take about as long.

use super::{children_cpu, which, Round};
use crate::error::BadInput;
use crate::lanes::cell::{Body, Cell};
use anyhow::{bail, Context, Result};
use runcost_loadgen::{Config, Expect, Framing, LoadResult, Mode, TcpConfig, TcpRequestSpec};
use std::time::Duration;

/// What both generators send, byte for byte.
const GET: &str = "*2\r\n$3\r\nGET\r\n$16\r\nkey:__rand_int__\r\n";

pub(super) fn find_tool() -> Result<String> {
    which("redis-benchmark").ok_or_else(|| {
        BadInput(
            "redis-benchmark is not installed: `apt-get install redis-tools` (or `cargo xtask setup`)"
                .into(),
        )
        .into()
    })
}

pub(super) struct Rounds {
    pub(super) tool: String,
    pub(super) pin: super::Pin,
    pub(super) port: u16,
    pub(super) rounds: u32,
    pub(super) seconds: u64,
    pub(super) connections: usize,
}

impl Body for Rounds {
    type Output = Vec<Round>;

    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<Vec<Round>> {
        let port = cell.published(self.port)?;
        // The key both read: redis-benchmark's SET writes a 3-byte value (-d 3).
        benchmark(&self.tool, &self.pin, port, "set", self.connections, 1000).await?;
        let mut out = Vec::new();
        for _ in 0..self.rounds {
            let r = runcost(&self.pin, port, self.connections, self.seconds).await?;
            let n = (r.ok as u64).max(1000);
            let (rps, cpu) =
                benchmark(&self.tool, &self.pin, port, "get", self.connections, n).await?;
            out.push(Round {
                wrk_rps: rps,
                wrk_cpu_per_1000: cpu / (n as f64 / 1000.0),
                runcost_rps: r.throughput_ok_per_s,
                runcost_cpu_per_1000: r.generator_cpu_s / (r.ok as f64 / 1000.0).max(1e-9),
                runcost_peak_rss_kib: r.peak_rss_kib,
            });
        }
        Ok(out)
    }
}

/// Runs `redis-benchmark -t test` for `n` requests from a thread pinned to
/// CPU 0; returns its requests/s and its CPU seconds.
async fn benchmark(
    tool: &str,
    pin: &super::Pin,
    port: u16,
    test: &str,
    connections: usize,
    n: u64,
) -> Result<(f64, f64)> {
    let argv: Vec<String> = [
        tool,
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-c",
        &connections.to_string(),
        "-n",
        &n.to_string(),
        "-t",
        test,
        "-P",
        "1",
        "--csv",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let pin = pin.clone();
    tokio::task::spawn_blocking(move || -> Result<(f64, f64)> {
        std::thread::spawn(move || -> Result<(f64, f64)> {
            pin.enter()?;
            let before = children_cpu();
            let out = std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .context("run redis-benchmark")?;
            let cpu = children_cpu() - before;
            if !out.status.success() {
                bail!(
                    "redis-benchmark failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let rps = parse_csv_rps(&text)
                .with_context(|| format!("redis-benchmark printed no rate: {text:?}"))?;
            Ok((rps, cpu))
        })
        .join()
        .map_err(|_| anyhow::anyhow!("redis-benchmark thread panicked"))?
    })
    .await?
}

/// `"GET","123456.79",...` (after a header line in redis 7) → 123456.79.
fn parse_csv_rps(text: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let mut f = l.split(',').map(|s| s.trim().trim_matches('"'));
        let name = f.next()?;
        if name == "test" {
            return None;
        }
        f.next()?.parse::<f64>().ok()
    })
}

async fn runcost(
    pin: &super::Pin,
    port: u16,
    connections: usize,
    seconds: u64,
) -> Result<LoadResult> {
    let mut config = Config::new(port, Mode::Closed);
    config.connections = connections;
    config.duration = Duration::from_secs(seconds);
    config.warmup = Duration::ZERO;
    config.tcp = Some(TcpConfig {
        requests: vec![TcpRequestSpec {
            send: GET.into(),
            framing: Framing::Resp,
            // redis-benchmark's SET writes 3 bytes (-d 3) of its own
            // choosing (redis 7: random letters), so only the length is known.
            expect: Expect {
                prefix: Some("$3\r\n".into()),
                ..Expect::default()
            },
            weight: 1,
        }],
        max_reply_bytes: 4096,
    });
    let r = super::run_pinned(pin, config).await?;
    if r.ok == 0 || r.error_count() > 0 {
        bail!("runcost's generator saw errors: {}", r.summary());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_rate() {
        let t = "\"test\",\"rps\",\"avg_latency_ms\"\n\"GET\",\"81234.57\",\"0.180\"\n";
        assert_eq!(super::parse_csv_rps(t), Some(81234.57));
        assert_eq!(super::parse_csv_rps("\"GET\",\"10.5\"\n"), Some(10.5));
        assert_eq!(super::parse_csv_rps("garbage"), None);
    }
}
