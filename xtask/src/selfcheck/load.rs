//! `cargo xtask selfcheck load`: runcost's closed-loop generator against
//! wrk (Debian's package) on the same gateway, same connections, same
//! duration and path, interleaved so drift hits both alike. Both generators
//! run pinned to CPU 0, the target to the last CPU. Prints both
//! throughputs, their ratio, and each generator's CPU per 1000 requests and
//! runcost's peak RSS. A profile whose load is `protocol: tcp` (redis) gets
//! the redis round instead: runcost's TCP generator against redis-benchmark
//! (see `load/redis.rs`).

mod redis;

use crate::error::{BadInput, ExitCode};
use crate::events::Reporter;
use crate::lanes::cell::{Body, Cell};
use crate::lanes::window::pin_current_thread;
use crate::runner::Common;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::time::Duration;

/// One interleaved round. `wrk_*` is the reference tool's figures: wrk, or
/// redis-benchmark in the redis round.
#[derive(Debug, Serialize)]
struct Round {
    wrk_rps: f64,
    wrk_cpu_per_1000: f64,
    runcost_rps: f64,
    runcost_cpu_per_1000: f64,
    runcost_peak_rss_kib: Option<u64>,
}

pub async fn run(
    common: &Common,
    rounds: u32,
    seconds: u64,
    connections: usize,
    path: &str,
    generator_cpu: Option<u32>,
) -> Result<ExitCode> {
    let profile = common.profile()?;
    let quota = generator_cpu
        .map(super::quota::CpuQuota::create)
        .transpose()?;
    let pin = Pin {
        cpu: 0,
        quota: quota.as_ref().map(|q| q.dir().to_path_buf()),
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
            pin,
            port,
            rounds,
            seconds,
            connections,
        };
        super::in_one_cell(common, "selfcheck-load", cpuset, &mut body, &reporter).await?
    } else {
        let mut body = Rounds {
            wrk: tool,
            pin,
            port,
            path: path.to_string(),
            rounds,
            seconds,
            connections,
        };
        super::in_one_cell(common, "selfcheck-load", cpuset, &mut body, &reporter).await?
    };
    drop(reporter);
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
    println!("{what}, {connections} connections, {seconds} s per run, {rounds} interleaved round(s); generators on CPU 0{share}, target on CPU {}", cores.saturating_sub(1));
    println!("| round | {name} req/s | runcost req/s | runcost / {name} | {name} CPU ms/1000 req | runcost CPU ms/1000 req | runcost peak RSS |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (i, r) in rounds_out.iter().enumerate() {
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} | {} |",
            i + 1,
            r.wrk_rps,
            r.runcost_rps,
            r.runcost_rps / r.wrk_rps,
            r.wrk_cpu_per_1000 * 1000.0,
            r.runcost_cpu_per_1000 * 1000.0,
            r.runcost_peak_rss_kib
                .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "—".into())
        );
    }
    let sum = |f: fn(&Round) -> f64| rounds_out.iter().map(f).sum::<f64>();
    println!(
        "overall runcost / {name} throughput: {:.2}; CPU per request runcost / {name}: {:.2}",
        sum(|r| r.runcost_rps) / sum(|r| r.wrk_rps),
        sum(|r| r.runcost_cpu_per_1000) / sum(|r| r.wrk_cpu_per_1000)
    );
    println!("saved: {}", run.path("selfcheck-load.json").display());
    Ok(ExitCode::Ok)
}

/// Interleaved rounds of wrk and runcost's generator against the target.
struct Rounds {
    wrk: String,
    pin: Pin,
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
        let mut out = Vec::new();
        for _ in 0..self.rounds {
            let (wrk_rps, wrk_cpu, wrk_n) =
                run_wrk(&self.wrk, &self.pin, host_port, path, connections, seconds).await?;
            let r = run_runcost(&self.pin, host_port, path, connections, seconds).await?;
            out.push(Round {
                wrk_rps,
                wrk_cpu_per_1000: wrk_cpu / (wrk_n / 1000.0).max(1e-9),
                runcost_rps: r.throughput_ok_per_s,
                runcost_cpu_per_1000: r.generator_cpu_s / (r.ok as f64 / 1000.0).max(1e-9),
                runcost_peak_rss_kib: r.peak_rss_kib,
            });
        }
        Ok(out)
    }
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
}

/// Runs wrk from a thread pinned to CPU 0 (the child inherits the
/// pinning). Returns requests/s, CPU seconds and the request count.
async fn run_wrk(
    wrk: &str,
    pin: &Pin,
    port: u16,
    path: &str,
    connections: usize,
    seconds: u64,
) -> Result<(f64, f64, f64)> {
    let argv = [
        wrk.to_string(),
        "-t1".to_string(),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        format!("http://127.0.0.1:{port}{path}"),
    ];
    let pin = pin.clone();
    tokio::task::spawn_blocking(move || -> Result<(f64, f64, f64)> {
        std::thread::spawn(move || -> Result<(f64, f64, f64)> {
            pin.enter()?;
            let before = children_cpu();
            let out = std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .context("run wrk")?;
            let cpu = children_cpu() - before;
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
            Ok((rps, cpu, total))
        })
        .join()
        .map_err(|_| anyhow::anyhow!("wrk thread panicked"))?
    })
    .await?
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
    let pin = pin.clone();
    tokio::task::spawn_blocking(move || {
        std::thread::spawn(move || {
            pin.enter()?;
            let rt = runcost_loadgen::runtime()?;
            rt.block_on(runcost_loadgen::run(config))
        })
        .join()
        .map_err(|_| anyhow::anyhow!("generator thread panicked"))?
    })
    .await?
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
