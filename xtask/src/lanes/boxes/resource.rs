//! Resource: what one box costs the host while idle and while one vCPU is
//! busy.
//!
//! Setup: one box, started, `settle` idle. Idle: host PSS and RSS of the
//! box's host processes (`host_pids`: the VMM; the container's processes
//! with their shim; the CLI box's cgroup), then their CPU (Δ utime+stime)
//! over `window`, as cores. Busy: a CPU loop (`while :; do :; done` under
//! `timeout`) is started in the background inside the box, so the box's
//! processes are read while it runs; after a 0.5 s ramp the host CPU of
//! the box's processes over `window` per second of the window is the host
//! CPU seconds one busy box CPU second costs (1.0: no overhead; a VMM's
//! emulation, I/O threads and the agent add to it). The loop is checked to
//! be running (host CPU of at least a quarter core), else the section
//! records why instead of a number.

use super::{teardown, timed_exec, trivial};
use crate::boxes::{BoxBackend, ExecOutput};
use crate::events::{Event, Events};
use crate::results::boxaxes::ResourceResult;
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

pub struct ResourceOpts {
    pub settle: Duration,
    pub window: Duration,
}

/// CPU seconds (utime + stime) of `pids` now; vanished processes count 0.
fn cpu_s(pids: &[i32]) -> f64 {
    let tck = crate::probe::clock_ticks();
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|t| crate::probe::parse::parse_stat(&t).ok())
        .map(|s| s.cpu_ticks as f64 / tck)
        .sum()
}

fn rss_of(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|t| crate::probe::parse::parse_smaps_rollup(&t).ok())
        .map(|r| r.rss)
        .sum()
}

/// Host cores used by the box's processes over `window` (the process set
/// is read again at the end, so a process that started counts from then).
async fn cores<B: BoxBackend>(b: &B, h: &B::Handle, window: Duration) -> f64 {
    let pids = b.host_pids(h);
    let c0 = cpu_s(&pids);
    let t = Instant::now();
    tokio::time::sleep(window).await;
    let c1 = cpu_s(&pids);
    (c1 - c0).max(0.0) / t.elapsed().as_secs_f64()
}

/// Starts the loop in the background and prints its pid (the box's pid).
pub fn busy_argv() -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        "sh -c 'while :; do :; done' >/dev/null 2>&1 </dev/null & echo $!".into(),
    ]
}

/// CPU seconds of process `pid` as the box's kernel counts them (USER_HZ
/// is 100 in the Linux ABI, inside a VM as on the host).
async fn box_cpu_s<B: BoxBackend>(b: &B, h: &mut B::Handle, pid: i32) -> Result<f64> {
    let (out, _) = timed_exec(b, h, &["cat".into(), format!("/proc/{pid}/stat")]).await?;
    let st = crate::probe::parse::parse_stat(&String::from_utf8_lossy(&out.stdout))
        .context("the loop's /proc/PID/stat in the box")?;
    Ok(st.cpu_ticks as f64 / 100.0)
}

pub async fn run<B: BoxBackend>(
    b: &B,
    o: &ResourceOpts,
    events: &dyn Events,
) -> Result<ResourceResult> {
    let mut h = b.create("res").await?;
    let r = async {
        b.start(&mut h).await?;
        timed_exec(b, &mut h, &trivial()).await?;
        events.emit(Event::Note(format!(
            "{} resource: idle {:.0} s, then {:.0} s window",
            b.kind(),
            o.settle.as_secs_f64(),
            o.window.as_secs_f64()
        )));
        tokio::time::sleep(o.settle).await;
        let pids = b.host_pids(&h);
        if pids.is_empty() {
            bail!("the box has no host process to measure");
        }
        let idle_pss_bytes = crate::boxes::pss_of(&pids);
        let idle_rss_bytes = rss_of(&pids);
        let idle_cores = cores(b, &h, o.window).await;

        events.emit(Event::Note(format!("{} resource: one busy vCPU", b.kind())));
        let out: ExecOutput = b
            .exec(&mut h, &busy_argv(), &[])
            .await
            .context("start the CPU loop in the box")?;
        let pid = String::from_utf8_lossy(&out.stdout).trim().parse::<i32>().ok();
        let (busy_cores, busy_note) = match pid {
            Some(pid) if out.exit_code == 0 => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let pids = b.host_pids(&h);
                let g0 = box_cpu_s(b, &mut h, pid).await?;
                let c0 = cpu_s(&pids);
                tokio::time::sleep(o.window).await;
                let g1 = box_cpu_s(b, &mut h, pid).await?;
                let c1 = cpu_s(&pids);
                // `kill` is a shell builtin: the base image has no kill binary.
                timed_exec(b, &mut h, &["sh".into(), "-c".into(), format!("kill {pid}")])
                    .await
                    .context("stop the CPU loop")?;
                let boxed = g1 - g0;
                if boxed < 0.1 * o.window.as_secs_f64() {
                    (
                        None,
                        Some(format!(
                            "the loop got {boxed:.2} CPU s in the box over {:.0} s: too little to divide by",
                            o.window.as_secs_f64()
                        )),
                    )
                } else {
                    (Some((c1 - c0).max(0.0) / boxed), None)
                }
            }
            _ => (
                None,
                Some(format!(
                    "the CPU loop did not start: exit {}: {}",
                    out.exit_code,
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
            ),
        };
        let busy_pss_bytes = crate::boxes::pss_of(&b.host_pids(&h));
        Ok(ResourceResult {
            settle_s: o.settle.as_secs_f64(),
            window_s: o.window.as_secs_f64(),
            host_processes: pids.len() as u32,
            idle_pss_bytes,
            idle_rss_bytes,
            idle_cores,
            host_cpu_per_box_cpu: busy_cores,
            busy_note,
            busy_pss_bytes,
        })
    }
    .await;
    let down = teardown(b, h).await;
    let r = r?;
    down?;
    Ok(r)
}
