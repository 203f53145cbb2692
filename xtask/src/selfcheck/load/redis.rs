//! The redis round of `selfcheck load`: runcost's closed-loop TCP generator
//! against `redis-benchmark` (Debian's redis-tools) on the same redis, same
//! connections, no pipelining, interleaved. Both send the same bytes: the
//! RESP array of `GET key:__rand_int__` (redis-benchmark's key without
//! `-r`), set once before the rounds. redis-benchmark counts requests, not
//! seconds. One after the other, each of its runs sends as many as
//! runcost's run of the same round did, so the two take about as long.
//! Side by side, it sends what it managed in `seconds` last round (round 1:
//! at the rate of the SET run that writes the key) and runcost's run ends
//! when it exits, so both cover the same seconds.

use super::{run_child, which, Pairing, Pins, Round, ToolRun};
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
    pub(super) pins: Pins,
    pub(super) port: u16,
    pub(super) rounds: u32,
    pub(super) seconds: u64,
    pub(super) connections: usize,
}

impl Body for Rounds {
    type Output = Vec<Round>;

    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<Vec<Round>> {
        let port = cell.published(self.port)?;
        let (tool, pins, conns) = (self.tool.as_str(), &self.pins, self.connections);
        // The key both read: redis-benchmark's SET writes a 3-byte value (-d 3).
        let set = benchmark(tool, &pins.tool, port, "set", conns, 1000).await?;
        let mut rate = set.rps;
        let mut out = Vec::new();
        for _ in 0..self.rounds {
            let (b, r) = match pins.pairing {
                Pairing::OneAfterTheOther => {
                    let limit = Duration::from_secs(self.seconds);
                    let r = runcost(&pins.runcost, port, conns, limit, None).await?;
                    let n = r.ok.max(1000);
                    (benchmark(tool, &pins.tool, port, "get", conns, n).await?, r)
                }
                Pairing::SideBySide => {
                    let n = ((rate * self.seconds as f64) as u64).max(1000);
                    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
                    let bench = async {
                        let b = benchmark(tool, &pins.tool, port, "get", conns, n).await;
                        drop(done_tx);
                        b
                    };
                    // At most three times the planned seconds, should the
                    // tool stall; normally its exit ends the run.
                    let limit = Duration::from_secs(self.seconds * 3);
                    let ours = runcost(&pins.runcost, port, conns, limit, Some(done_rx));
                    let (b, r) = tokio::join!(bench, ours);
                    (b?, r?)
                }
            };
            rate = b.rps;
            out.push(Round::new(b, &r, pins.share));
        }
        Ok(out)
    }
}

/// Runs `redis-benchmark -t test` for `n` requests from a thread pinned to
/// CPU 0.
async fn benchmark(
    tool: &str,
    pin: &super::Pin,
    port: u16,
    test: &str,
    connections: usize,
    n: u64,
) -> Result<ToolRun> {
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
    let (out, cpu_s, wall_s) = pin
        .run("redis-benchmark", move || run_child(&argv))
        .await
        .context("run redis-benchmark")?;
    if !out.status.success() {
        bail!(
            "redis-benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = parse_csv_rps(&text)
        .with_context(|| format!("redis-benchmark printed no rate: {text:?}"))?;
    Ok(ToolRun {
        rps,
        cpu_s,
        requests: n as f64,
        wall_s,
    })
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

/// runcost's generator for `limit`, or until `done` resolves if sooner.
async fn runcost(
    pin: &super::Pin,
    port: u16,
    connections: usize,
    limit: Duration,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<LoadResult> {
    let mut config = Config::new(port, Mode::Closed);
    config.connections = connections;
    config.duration = limit;
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
    let r = match done {
        Some(done) => {
            super::run_pinned_until(pin, config, async {
                let _ = done.await;
            })
            .await?
        }
        None => super::run_pinned(pin, config).await?,
    };
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
