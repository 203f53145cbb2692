//! `cargo xtask selfcheck load`: runcost's closed-loop generator against
//! wrk (Debian's package) on the same gateway, same connections, same
//! duration and path. Both generators run pinned to CPU 0, the target to
//! the last CPU. Prints both throughputs, their ratio, and each generator's
//! CPU per 1000 requests and runcost's peak RSS. A profile whose load is
//! `protocol: tcp` (redis) gets the redis round instead: runcost's TCP
//! generator against redis-benchmark (see `load/redis.rs`).
//!
//! Without a quota the rounds interleave (wrk, then runcost), so drift hits
//! both alike. With `--generator-cpu P` each generator gets P % of CPU 0 in
//! a quota of its own and, by default, the two of a round run *side by
//! side*: the same seconds of the same machine, so the round's ratio is the
//! ratio of their efficiency and not of two moments of a shared machine
//! (one after the other, rounds scattered ±12 % here: CPU per request
//! drifted by up to 30 % within two minutes, for both tools alike). Each round
//! also reports how much of its quota each generator used: a generator
//! under ~90 % was limited by the target, not by its quota, and the round
//! does not compare efficiency.

mod redis;

use crate::error::{BadInput, ExitCode};
use crate::events::Reporter;
use crate::lanes::cell::{Body, Cell};
use crate::lanes::window::pin_current_thread;
use crate::runner::Common;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::time::Duration;

/// One round. `wrk_*` is the reference tool's figures: wrk, or
/// redis-benchmark in the redis round.
#[derive(Debug, Serialize)]
struct Round {
    wrk_rps: f64,
    wrk_cpu_per_1000: f64,
    runcost_rps: f64,
    runcost_cpu_per_1000: f64,
    runcost_peak_rss_kib: Option<u64>,
    /// With a quota: the share of it each generator used (CPU seconds over
    /// quota × wall time).
    wrk_quota_used: Option<f64>,
    runcost_quota_used: Option<f64>,
    /// Each run's wall time: side by side, they cover the same seconds.
    wrk_wall_s: f64,
    runcost_wall_s: f64,
}

/// How the two generators of a round share the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pairing {
    /// The reference tool, then runcost.
    OneAfterTheOther,
    /// Both at once, each in its own CPU quota.
    SideBySide,
}

/// A generator's run: throughput, CPU seconds, requests answered, wall time.
#[derive(Debug, Clone, Copy)]
struct ToolRun {
    rps: f64,
    cpu_s: f64,
    requests: f64,
    wall_s: f64,
}

impl Round {
    fn new(tool: ToolRun, r: &runcost_loadgen::LoadResult, share: Option<f64>) -> Round {
        Round {
            wrk_rps: tool.rps,
            wrk_cpu_per_1000: tool.cpu_s / (tool.requests / 1000.0).max(1e-9),
            runcost_rps: r.throughput_ok_per_s,
            runcost_cpu_per_1000: r.generator_cpu_s / (r.ok as f64 / 1000.0).max(1e-9),
            runcost_peak_rss_kib: r.peak_rss_kib,
            wrk_quota_used: share.map(|f| quota_used(tool.cpu_s, tool.wall_s, f)),
            runcost_quota_used: share.map(|f| quota_used(r.generator_cpu_s, r.wall_s, f)),
            wrk_wall_s: tool.wall_s,
            runcost_wall_s: r.wall_s,
        }
    }
}

/// CPU seconds spent over the quota's allowance for `wall_s`.
fn quota_used(cpu_s: f64, wall_s: f64, share: f64) -> f64 {
    cpu_s / (share * wall_s).max(1e-9)
}

/// Below this share of its quota a generator waited for the target.
const QUOTA_BOUND: f64 = 0.9;

pub async fn run(
    common: &Common,
    rounds: u32,
    seconds: u64,
    connections: usize,
    path: &str,
    generator_cpu: Option<u32>,
    one_after_the_other: bool,
) -> Result<ExitCode> {
    let profile = common.profile()?;
    let pairing = if generator_cpu.is_some() && !one_after_the_other {
        Pairing::SideBySide
    } else {
        Pairing::OneAfterTheOther
    };
    let quota = generator_cpu
        .map(super::quota::CpuQuota::create)
        .transpose()?;
    // Side by side, each generator has a quota of its own.
    let second = match (pairing, generator_cpu) {
        (Pairing::SideBySide, Some(p)) => Some(super::quota::CpuQuota::create(p)?),
        _ => None,
    };
    let pins = Pins {
        tool: Pin {
            cpu: 0,
            quota: quota.as_ref().map(|q| q.dir().to_path_buf()),
        },
        runcost: Pin {
            cpu: 0,
            quota: second
                .as_ref()
                .or(quota.as_ref())
                .map(|q| q.dir().to_path_buf()),
        },
        pairing,
        share: generator_cpu.map(|p| f64::from(p) / 100.0),
    };
    let tcp = profile
        .spec
        .load
        .as_ref()
        .is_some_and(|l| l.protocol == crate::profile::load::LoadProtocol::Tcp);
    let tool = if tcp {
        redis::find_tool()?
    } else {
        which("wrk").ok_or_else(|| {
            BadInput("wrk is not installed: `apt-get install wrk` (or `cargo xtask setup`)".into())
        })?
    };
    let port = profile
        .spec
        .load
        .as_ref()
        .map(|l| l.port)
        .or(profile.spec.ready.port())
        .context("the load selfcheck needs `load.port` or a ready port in the profile")?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let reporter = Reporter::new(common.quiet);
    let cpuset = (cores >= 2).then(|| (cores - 1).to_string());
    let (run, rounds_out) = if tcp {
        let mut body = redis::Rounds {
            tool,
            pins,
            port,
            rounds,
            seconds,
            connections,
        };
        super::in_one_cell(common, "selfcheck-load", cpuset, &mut body, &reporter).await?
    } else {
        let mut body = Rounds {
            wrk: tool,
            pins,
            port,
            path: path.to_string(),
            rounds,
            seconds,
            connections,
        };
        super::in_one_cell(common, "selfcheck-load", cpuset, &mut body, &reporter).await?
    };
    drop(reporter);
    drop(second);
    drop(quota);
    let (name, what) = if tcp {
        (
            "redis-benchmark",
            "redis GET (same RESP bytes), no pipelining".to_string(),
        )
    } else {
        ("wrk", format!("GET {path}"))
    };
    let json = serde_json::to_string_pretty(&rounds_out)?;
    crate::fs::write_atomic(&run.path("selfcheck-load.json"), json.as_bytes())?;
    if common.json {
        println!("{json}");
        return Ok(ExitCode::Ok);
    }
    let share = match generator_cpu {
        Some(p) => format!(" with {p} % of it each (CPU quota: the generator is the limit)"),
        None => " (no quota: the faster side is the limit)".into(),
    };
    let order = match pairing {
        Pairing::SideBySide => "side by side",
        Pairing::OneAfterTheOther => "interleaved",
    };
    println!("{what}, {connections} connections, {seconds} s per run, {rounds} {order} round(s); generators on CPU 0{share}, target on CPU {}", cores.saturating_sub(1));
    let quota_cols = generator_cpu.is_some();
    let (qh, qs) = if quota_cols {
        (
            format!(" {name} quota used | runcost quota used |"),
            "---:|---:|",
        )
    } else {
        (String::new(), "")
    };
    println!("| round | {name} req/s | runcost req/s | runcost / {name} | {name} CPU ms/1000 req | runcost CPU ms/1000 req | runcost peak RSS |{qh}");
    println!("|---:|---:|---:|---:|---:|---:|---:|{qs}");
    let pct = |q: Option<f64>| {
        q.map(|q| format!(" {:.0} % |", q * 100.0))
            .unwrap_or_default()
    };
    for (i, r) in rounds_out.iter().enumerate() {
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} | {} |{}{}",
            i + 1,
            r.wrk_rps,
            r.runcost_rps,
            r.runcost_rps / r.wrk_rps,
            r.wrk_cpu_per_1000 * 1000.0,
            r.runcost_cpu_per_1000 * 1000.0,
            r.runcost_peak_rss_kib
                .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "—".into()),
            pct(r.wrk_quota_used),
            pct(r.runcost_quota_used),
        );
    }
    let sum = |f: fn(&Round) -> f64| rounds_out.iter().map(f).sum::<f64>();
    println!(
        "overall runcost / {name} throughput: {:.2}; CPU per request runcost / {name}: {:.2}",
        sum(|r| r.runcost_rps) / sum(|r| r.wrk_rps),
        sum(|r| r.runcost_cpu_per_1000) / sum(|r| r.wrk_cpu_per_1000)
    );
    let waited = rounds_out
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            [r.wrk_quota_used, r.runcost_quota_used]
                .iter()
                .flatten()
                .any(|&q| q < QUOTA_BOUND)
        })
        .map(|(i, _)| (i + 1).to_string())
        .collect::<Vec<_>>();
    if !waited.is_empty() {
        println!(
            "round(s) {}: a generator used under {:.0} % of its quota, so the target, not the quota, limited it; those ratios do not compare efficiency (try a smaller --generator-cpu)",
            waited.join(", "),
            QUOTA_BOUND * 100.0
        );
    }
    println!("saved: {}", run.path("selfcheck-load.json").display());
    Ok(ExitCode::Ok)
}

/// Rounds of wrk and runcost's generator against the target.
struct Rounds {
    wrk: String,
    pins: Pins,
    port: u16,
    path: String,
    rounds: u32,
    seconds: u64,
    connections: usize,
}

impl Body for Rounds {
    type Output = Vec<Round>;

    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<Vec<Round>> {
        let host_port = cell.published(self.port)?;
        let (path, connections, seconds) = (self.path.as_str(), self.connections, self.seconds);
        let pins = &self.pins;
        let mut out = Vec::new();
        for _ in 0..self.rounds {
            let wrk = run_wrk(&self.wrk, &pins.tool, host_port, path, connections, seconds);
            let runcost = run_runcost(&pins.runcost, host_port, path, connections, seconds);
            let (w, r) = match pins.pairing {
                Pairing::SideBySide => tokio::try_join!(wrk, runcost)?,
                Pairing::OneAfterTheOther => (wrk.await?, runcost.await?),
            };
            out.push(Round::new(w, &r, pins.share));
        }
        Ok(out)
    }
}

/// Where each generator runs and how their runs are paired.
#[derive(Clone, Debug)]
pub(super) struct Pins {
    pub(super) tool: Pin,
    pub(super) runcost: Pin,
    pub(super) pairing: Pairing,
    /// The quota as a share of a core.
    pub(super) share: Option<f64>,
}

/// Where a generator runs: its CPU and, with `--generator-cpu`, the quota
/// cgroup it joins. Entered by the thread that starts the generator, so
/// the generator's threads and child processes inherit both.
#[derive(Clone, Debug)]
pub(super) struct Pin {
    cpu: usize,
    quota: Option<std::path::PathBuf>,
}

impl Pin {
    fn enter(&self) -> Result<()> {
        pin_current_thread(self.cpu);
        match &self.quota {
            Some(dir) => super::quota::enter(dir),
            None => Ok(()),
        }
    }

    /// Runs `f` on a new thread in this pin (a thread of its own, so the
    /// runtime's blocking pool never carries the pinning or the quota).
    async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let pin = self.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::spawn(move || {
                pin.enter()?;
                f()
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the {what} thread panicked"))?
        })
        .await?
    }
}

/// Runs wrk from a thread pinned to CPU 0 (the child inherits the
/// pinning).
async fn run_wrk(
    wrk: &str,
    pin: &Pin,
    port: u16,
    path: &str,
    connections: usize,
    seconds: u64,
) -> Result<ToolRun> {
    let argv = [
        wrk.to_string(),
        "-t1".to_string(),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        format!("http://127.0.0.1:{port}{path}"),
    ];
    let (out, cpu_s, wall_s) = pin
        .run("wrk", move || run_child(&argv))
        .await
        .context("run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .context("wrk printed no Requests/sec")?;
    let total = text
        .lines()
        .find_map(|l| {
            l.split_once(" requests in ")
                .map(|(n, _)| n.trim().to_string())
        })
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(rps * seconds as f64);
    if text.contains("Non-2xx") {
        bail!("wrk saw non-2xx answers; pick a path that answers 200");
    }
    Ok(ToolRun {
        rps,
        cpu_s,
        requests: total,
        wall_s,
    })
}

async fn run_runcost(
    pin: &Pin,
    port: u16,
    path: &str,
    connections: usize,
    seconds: u64,
) -> Result<runcost_loadgen::LoadResult> {
    let mut config = runcost_loadgen::Config::new(port, runcost_loadgen::Mode::Closed);
    config.connections = connections;
    config.duration = Duration::from_secs(seconds);
    config.warmup = Duration::ZERO;
    config.mix = vec![runcost_loadgen::RequestSpec::get(path)];
    let r = run_pinned(pin, config).await?;
    if r.ok == 0 || r.error_count() > 0 {
        bail!("runcost's generator saw errors: {}", r.summary());
    }
    Ok(r)
}

/// The generator on its own one-thread runtime, on a thread pinned to CPU 0.
async fn run_pinned(
    pin: &Pin,
    config: runcost_loadgen::Config,
) -> Result<runcost_loadgen::LoadResult> {
    run_pinned_until(pin, config, std::future::pending()).await
}

/// Like [`run_pinned`], ending early when `stop` completes.
async fn run_pinned_until(
    pin: &Pin,
    config: runcost_loadgen::Config,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<runcost_loadgen::LoadResult> {
    pin.run("generator", move || {
        let rt = runcost_loadgen::runtime()?;
        rt.block_on(runcost_loadgen::run_until(config, stop))
    })
    .await
}

/// Runs `argv` to its end: its output, CPU seconds and wall seconds. The
/// CPU is what this process's reaped children gained meanwhile: the tool is
/// the only child the selfcheck starts while it measures.
fn run_child(argv: &[String]) -> Result<(std::process::Output, f64, f64)> {
    let t0 = std::time::Instant::now();
    let before = children_cpu();
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("start {}", argv[0]))?;
    Ok((out, children_cpu() - before, t0.elapsed().as_secs_f64()))
}

fn children_cpu() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .map(|u| tv(u.user_time()) + tv(u.system_time()))
        .unwrap_or(0.0)
}

fn which(tool: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}
