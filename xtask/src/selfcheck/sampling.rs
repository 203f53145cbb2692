//! `cargo xtask selfcheck sampling`: what one sample costs in host mode, in
//! exec-stream mode, and the peers' way (three `docker exec cat` per
//! sample), against the same running gateway, in one run.
//!
//! Cost counts every process involved, not just ours: this process (all
//! threads, and its children such as the docker CLI), the engine daemons
//! (dockerd, containerd, shims) and whatever runs inside the container's
//! cgroup on our behalf (the target's own CPU is subtracted).

use crate::error::ExitCode;
use crate::events::Reporter;
use crate::lanes::cell::{Body, Cell};
use crate::probe::exec::ExecProbe;
use crate::probe::host::HostProbe;
use crate::probe::parse::parse_stat;
use crate::probe::sampler::spawn_probe;
use crate::probe::{clock_ticks, Probe};
use crate::runner::Common;
use anyhow::{Context, Result};
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
struct ModeCost {
    mode: &'static str,
    samples: u32,
    wall_ms_per_sample: f64,
    cpu_ms_per_sample: f64,
    max_rate_hz: f64,
    /// CPU per sample over the bare read's: the distance from the limit.
    cpu_vs_bare: f64,
    /// Why the mode could not be measured here (then its figures are NaN).
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    /// The first mode is the bare read, the physical limit on this host.
    modes: Vec<ModeCost>,
    /// The ticker's own thread CPU per tick, over the bare read's CPU.
    ticker_per_tick_vs_bare: f64,
    ticker_cpu_ms_per_tick: f64,
    /// The bare read on the same 100 Hz ticker: the limit at that spacing.
    bare_ticked_cpu_ms_per_tick: f64,
    /// runcost's ticked read over the ticked bare read.
    ticker_vs_bare_ticked: f64,
    host_vs_three_execs_cpu: f64,
    host_vs_three_execs_wall: f64,
    exec_stream_vs_three_execs_cpu: f64,
    ticker_100hz_achieved_hz: f64,
    ticker_100hz_missed: u64,
    ticker_100hz_cpu_fraction: f64,
    /// The attribution read's CPU over the host sample's, and the share of
    /// one core it takes at its own rate (`ATTRIB_HZ`).
    attribution_vs_host_cpu: f64,
    attribution_core_fraction: f64,
    /// The exec-stream attribution read (the fallback where host /proc is
    /// out of reach) against the host one, and its share of one core.
    exec_attribution_vs_host_attribution_cpu: f64,
    exec_attribution_core_fraction: f64,
}

pub async fn run(common: &Common, samples: u32) -> Result<ExitCode> {
    let reporter = Reporter::new(common.quiet);
    let mut body = Costs { samples };
    let (run, report) = super::in_one_cell(common, "selfcheck", None, &mut body, &reporter).await?;
    drop(reporter);
    let json = serde_json::to_string_pretty(&report)?;
    crate::fs::write_atomic(&run.path("selfcheck-sampling.json"), json.as_bytes())?;
    if common.json {
        println!("{json}");
    } else {
        print_table(&report);
        println!("saved: {}", run.path("selfcheck-sampling.json").display());
    }
    Ok(ExitCode::Ok)
}

/// The measurement, in a cell of the target.
struct Costs {
    samples: u32,
}

impl Body for Costs {
    type Output = Report;

    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<Report> {
        measure(cell, self.samples).await
    }
}

async fn measure(cell: &Cell<'_, '_>, samples: u32) -> Result<Report> {
    let ctx = cell.ctx;
    let target = cell.target(ctx.profile.process_names())?;
    let host_pid = target.host_pid;
    let cg = container_cpu_file(host_pid);
    let target_pids = crate::probe::host::find_processes(host_pid, &target.processes)?;
    // Let the target settle so its own CPU does not blur the figures.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The limit: the same files read into a buffer, nothing parsed.
    let n_host = samples.max(1) * 5;
    let mut modes = Vec::new();
    let mut buf = Vec::with_capacity(8192);
    modes.push(cost(
        "bare read (the limit)",
        n_host,
        &cg,
        &target_pids,
        || bare_read(&target_pids, &mut buf, None),
    )?);
    let memory_stat = memory_stat_file(host_pid);
    modes.push(cost(
        "bare read + cgroup memory.stat",
        n_host,
        &cg,
        &target_pids,
        || bare_read(&target_pids, &mut buf, memory_stat.as_deref()),
    )?);
    let mut host = HostProbe::new(target.clone())?.without_group();
    modes.push(cost(
        "host /proc (runcost's read, cgroup re-listed)",
        n_host,
        &cg,
        &target_pids,
        || host.read().map(|_| ()),
    )?);
    // The attribution breakdown (1 Hz beside the main sampler): the whole
    // read, and its thread part alone (the smaps part is the difference).
    let sink: crate::probe::attrib::PidSink =
        std::sync::Arc::new(std::sync::Mutex::new(target_pids.clone()));
    let mut attrib = crate::probe::attrib::HostAttrib::new(sink, Instant::now());
    let n_attrib = (samples / 5).clamp(10, 100);
    modes.push(cost(
        "attribution read (smaps + threads + status)",
        n_attrib,
        &cg,
        &target_pids,
        || attrib.read().map(|_| ()),
    )?);
    modes.push(cost(
        "attribution threads only (task/*/stat + syscall)",
        n_attrib,
        &cg,
        &target_pids,
        || {
            let mut out = crate::probe::attrib::AttribRead::default();
            for &pid in &target_pids {
                attrib.read_threads(pid, "", &mut out);
            }
            Ok(())
        },
    )?);
    let pids = target_pids.clone();
    modes.push(cost(
        "group-unique (pagemap + kpagecount)",
        (samples / 20).clamp(3, 20),
        &cg,
        &target_pids,
        || Ok(crate::probe::pagemap::read_group(&pids).map(|_| ())?),
    )?);

    // The exec probe blocks on the runtime from its caller's thread, as the
    // sampler thread does: run it on a plain thread.
    let mut probe = ExecProbe::start(ctx.engine, &target).await?;
    // Its attribution reader is a second loop in the container, fed the
    // PIDs the main loop reads (so it is taken before the probe runs).
    let mut exec_attrib = probe
        .attrib_reader(Instant::now())
        .context("the exec probe offers no attribution reader")?;
    let n_exec = samples.max(1);
    let (cg2, pids2) = (cg.clone(), target_pids.clone());
    let exec_cost = std::thread::spawn(move || {
        cost("exec stream (1 exec)", n_exec, &cg2, &pids2, || {
            probe.read().map(|_| ())
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("exec-stream measurement panicked"))??;
    modes.push(exec_cost);
    let (cg3, pids3) = (cg.clone(), target_pids.clone());
    let exec_attrib_cost = std::thread::spawn(move || {
        cost(
            "exec attribution read (second loop: smaps + threads)",
            n_attrib,
            &cg3,
            &pids3,
            || exec_attrib.read().map(|_| ()),
        )
    })
    .join()
    .map_err(|_| anyhow::anyhow!("exec attribution measurement panicked"))??;
    modes.push(exec_attrib_cost);

    let id = cell.container.clone();
    let n_cat = (samples / 10).clamp(5, 30);
    modes.push(cost(
        "3 × docker exec cat",
        n_cat,
        &cg,
        &target_pids,
        || {
            for f in ["smaps_rollup", "status", "stat"] {
                let out = std::process::Command::new("docker")
                    .args(["exec", &id, "cat", &format!("/proc/1/{f}")])
                    .output()
                    .context("docker exec cat")?;
                anyhow::ensure!(out.status.success(), "docker exec cat failed");
            }
            Ok(())
        },
    )?);

    modes.push(exec_group_cost(cell, (samples / 20).clamp(3, 20), &cg, &target_pids).await?);

    // Sustained 100 Hz in host mode, through the real ticker (the group
    // reader, a thread of its own, is measured above).
    let ticker = spawn_probe(
        Box::new(HostProbe::new(target.clone())?.without_group()),
        100.0,
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, stats) = ticker.stop();
    // The bare read spaced the same way: a read after a 10 ms sleep finds
    // cold caches, so the fair limit for a ticker is the bare read ticked.
    let bare_pids = target_pids.clone();
    let mut bare_buf = Vec::with_capacity(8192);
    let bare_ticker =
        crate::probe::sampler::Ticker::spawn("runcost-bare", 100.0, Instant::now(), move || {
            bare_read(&bare_pids, &mut bare_buf, None)
        });
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, bare_stats) = bare_ticker.stop();
    let bare_tick = bare_stats.thread_cpu_s * 1e3 / (bare_stats.samples.max(1) as f64);

    let ratio = |a: f64, b: f64| if a > 0.0 { b / a } else { f64::INFINITY };
    let bare = modes[0].cpu_ms_per_sample;
    for m in &mut modes {
        m.cpu_vs_bare = ratio(bare, m.cpu_ms_per_sample);
    }
    let (host_i, attrib_i, exec_i, exec_attrib_i, cat_i) = (2, 3, 6, 7, 8);
    let per_tick = stats.thread_cpu_s * 1e3 / (stats.samples.max(1) as f64);
    Ok(Report {
        ticker_per_tick_vs_bare: ratio(bare, per_tick),
        ticker_cpu_ms_per_tick: per_tick,
        bare_ticked_cpu_ms_per_tick: bare_tick,
        ticker_vs_bare_ticked: ratio(bare_tick, per_tick),
        host_vs_three_execs_cpu: ratio(
            modes[host_i].cpu_ms_per_sample,
            modes[cat_i].cpu_ms_per_sample,
        ),
        host_vs_three_execs_wall: ratio(
            modes[host_i].wall_ms_per_sample,
            modes[cat_i].wall_ms_per_sample,
        ),
        exec_stream_vs_three_execs_cpu: ratio(
            modes[exec_i].cpu_ms_per_sample,
            modes[cat_i].cpu_ms_per_sample,
        ),
        ticker_100hz_achieved_hz: stats.achieved_hz,
        ticker_100hz_missed: stats.missed_ticks,
        ticker_100hz_cpu_fraction: stats.cpu_fraction(),
        attribution_vs_host_cpu: ratio(
            modes[host_i].cpu_ms_per_sample,
            modes[attrib_i].cpu_ms_per_sample,
        ),
        attribution_core_fraction: modes[attrib_i].cpu_ms_per_sample
            * crate::probe::attrib::ATTRIB_HZ
            / 1e3,
        exec_attribution_vs_host_attribution_cpu: ratio(
            modes[attrib_i].cpu_ms_per_sample,
            modes[exec_attrib_i].cpu_ms_per_sample,
        ),
        exec_attribution_core_fraction: modes[exec_attrib_i].cpu_ms_per_sample
            * crate::probe::attrib::ATTRIB_HZ
            / 1e3,
        modes,
    })
}

/// Runs `read` n times back to back; wall and all-process CPU per sample.
fn cost<F: FnMut() -> Result<()>>(
    mode: &'static str,
    n: u32,
    cg: &Option<String>,
    target_pids: &[i32],
    mut read: F,
) -> Result<ModeCost> {
    let cpu0 = involved_cpu(cg, target_pids);
    let t0 = Instant::now();
    for _ in 0..n {
        read()?;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = involved_cpu(cg, target_pids) - cpu0;
    Ok(ModeCost {
        mode,
        samples: n,
        wall_ms_per_sample: wall * 1e3 / n as f64,
        cpu_ms_per_sample: cpu * 1e3 / n as f64,
        max_rate_hz: n as f64 / wall,
        cpu_vs_bare: f64::NAN,
        unavailable: None,
    })
}

/// The exec-stream sampler's group-unique read: `runcost-groupmem` in the
/// container, fed the target's container PIDs, measured like the rest;
/// unavailable (with the reason) where the container lacks CAP_SYS_ADMIN.
async fn exec_group_cost(
    cell: &Cell<'_, '_>,
    n: u32,
    cg: &Option<String>,
    target_pids: &[i32],
) -> Result<ModeCost> {
    const MODE: &str = "exec group-unique (runcost-groupmem in the container)";
    let unavailable = |why: String| ModeCost {
        mode: MODE,
        samples: 0,
        wall_ms_per_sample: f64::NAN,
        cpu_ms_per_sample: f64::NAN,
        max_rate_hz: f64::NAN,
        cpu_vs_bare: f64::NAN,
        unavailable: Some(why),
    };
    let inner: Vec<i32> = target_pids
        .iter()
        .map(|&p| container_pid(p).with_context(|| format!("container PID of {p}")))
        .collect::<Result<_>>()?;
    let mut stream =
        match crate::probe::exec::GroupStream::open(cell.ctx.engine, &cell.container).await {
            Ok(s) => s,
            Err(why) => return Ok(unavailable(why)),
        };
    // Blocks on the runtime from a plain thread, as the group reader does.
    let rt = tokio::runtime::Handle::current();
    let (cg, pids) = (cg.clone(), target_pids.to_vec());
    std::thread::spawn(move || {
        let mut why = None;
        let m = cost(MODE, n, &cg, &pids, || {
            if let Err(e) = rt.block_on(stream.read(&inner))? {
                why.get_or_insert(e.to_string());
            }
            Ok(())
        })?;
        Ok(match why {
            Some(why) => unavailable(why),
            None => m,
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("exec group-unique measurement panicked"))?
}

/// A host process's PID in its own (the container's) namespace: the last
/// field of NSpid in /proc/PID/status.
fn container_pid(host_pid: i32) -> Result<i32> {
    let status = std::fs::read_to_string(format!("/proc/{host_pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|f| f.split_whitespace().last())
        .and_then(|p| p.parse().ok())
        .context("no NSpid line")
}

/// The files a host sample needs, read into `buf` and not parsed: what a
/// bare C loop does, the cost no sampler can go below.
fn bare_read(pids: &[i32], buf: &mut Vec<u8>, extra: Option<&str>) -> Result<()> {
    use std::io::Read;
    let mut slurp = |path: &str| -> Result<()> {
        buf.clear();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(buf))
            .with_context(|| format!("read {path}"))?;
        Ok(())
    };
    for pid in pids {
        for f in ["smaps_rollup", "status", "stat"] {
            slurp(&format!("/proc/{pid}/{f}"))?;
        }
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .with_context(|| format!("list /proc/{pid}/fd"))?
            .count();
    }
    if let Some(path) = extra {
        slurp(path)?;
    }
    Ok(())
}

fn memory_stat_file(host_pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{host_pid}/cgroup")).ok()?;
    let path = crate::probe::parse::cgroup_path(&text, "memory")?;
    let file = format!("/sys/fs/cgroup/memory{path}/memory.stat");
    std::path::Path::new(&file).is_file().then_some(file)
}

/// CPU seconds so far of everything a sample can cost: this process and its
/// children, the engine daemons, and the container's cgroup minus the target.
fn involved_cpu(cg: &Option<String>, target_pids: &[i32]) -> f64 {
    let ticks = clock_ticks();
    let own = {
        use nix::sys::resource::{getrusage, UsageWho};
        let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
        let s = getrusage(UsageWho::RUSAGE_SELF)
            .map(|u| tv(u.user_time()) + tv(u.system_time()))
            .unwrap_or(0.0);
        let c = getrusage(UsageWho::RUSAGE_CHILDREN)
            .map(|u| tv(u.user_time()) + tv(u.system_time()))
            .unwrap_or(0.0);
        s + c
    };
    let mut daemons = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Ok(st) = parse_stat(&text) else { continue };
        // Reading only: these names select what to count, never what to kill.
        if matches!(st.comm.as_str(), "dockerd" | "containerd" | "docker-proxy")
            || st.comm.starts_with("containerd-shim")
        {
            daemons += st.cpu_ticks as f64 / ticks;
        }
    }
    let cgroup = cg
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| t.trim().parse::<f64>().ok())
        .map(|ns| ns / 1e9)
        .unwrap_or(0.0);
    let target: f64 = target_pids
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|t| parse_stat(&t).ok())
        .map(|s| s.cpu_ticks as f64 / ticks)
        .sum();
    own + daemons + (cgroup - target).max(0.0)
}

fn container_cpu_file(host_pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{host_pid}/cgroup")).ok()?;
    let path = crate::probe::parse::cgroup_path(&text, "cpuacct")?;
    let file = format!("/sys/fs/cgroup/cpuacct{path}/cpuacct.usage");
    std::path::Path::new(&file).is_file().then_some(file)
}

fn print_table(r: &Report) {
    println!(
        "| mode | samples | wall/sample | CPU/sample (all processes) | × bare read | max rate |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for m in &r.modes {
        if let Some(why) = &m.unavailable {
            println!("| {} | — | — | unavailable: {why} | — | — |", m.mode);
            continue;
        }
        println!(
            "| {} | {} | {:.3} ms | {:.3} ms | {:.2}× | {:.0} Hz |",
            m.mode,
            m.samples,
            m.wall_ms_per_sample,
            m.cpu_ms_per_sample,
            m.cpu_vs_bare,
            m.max_rate_hz
        );
    }
    println!();
    println!("host mode is {:.0}× cheaper in CPU and {:.0}× faster than three `docker exec cat` per sample", r.host_vs_three_execs_cpu, r.host_vs_three_execs_wall);
    println!(
        "exec-stream mode is {:.0}× cheaper in CPU than three `docker exec cat` per sample",
        r.exec_stream_vs_three_execs_cpu
    );
    println!(
        "host mode at 100 Hz for 5 s: {:.1} Hz achieved, {} missed ticks, sampler thread {:.2} % of one core, {:.3} ms per tick = {:.2}× the bare read",
        r.ticker_100hz_achieved_hz,
        r.ticker_100hz_missed,
        r.ticker_100hz_cpu_fraction * 100.0,
        r.ticker_cpu_ms_per_tick,
        r.ticker_per_tick_vs_bare
    );
    println!(
        "the bare read on the same 100 Hz ticker: {:.3} ms per tick; runcost's ticked read is {:.2}× that",
        r.bare_ticked_cpu_ms_per_tick, r.ticker_vs_bare_ticked
    );
    println!(
        "the attribution read costs {:.0}× a host sample in CPU; at {} Hz that is {:.2} % of one core",
        r.attribution_vs_host_cpu,
        crate::probe::attrib::ATTRIB_HZ,
        r.attribution_core_fraction * 100.0
    );
    println!(
        "the exec-stream attribution read costs {:.1}× the host one in CPU; at {} Hz that is {:.2} % of one core",
        r.exec_attribution_vs_host_attribution_cpu,
        crate::probe::attrib::ATTRIB_HZ,
        r.exec_attribution_core_fraction * 100.0
    );
}
