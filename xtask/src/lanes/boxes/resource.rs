//! Resource: what one box costs the host while idle and while one vCPU is
//! busy, what N idle boxes cost side by side, and what a box under a
//! memory limit does when asked for more than the limit.
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
//! records why instead of a number. The box is then torn down.
//!
//! Idle boxes (`idle_boxes` N, 0: skipped): N boxes started one after the
//! other, each answering `true`, then `settle` idle, then every box's host
//! PSS and RSS read in one pass. PSS splits a page shared by k processes
//! into k parts, so the per-box mean against the single box's idle PSS is
//! what a neighbour saves (image files, the VMM binary); the sum is what
//! N boxes cost. A box that does not come up is a death; the others count.
//!
//! Pressure (`pressure_mib` L, 0: skipped): one box created with its memory
//! limited to L (the engine's cgroup limit with memory + swap = L; the
//! same in a CLI box's OCI bundle; a VM booted with L of RAM, so the guest
//! kernel's OOM killer acts). The box
//! allocates in steps of the ladder (`LADDER`: 50 % of L, which must fit,
//! then 150 %, which cannot) and holds what it got for a second
//! (`alloc_argv`: a pipe into `tail` in a container, the agent's
//! page-touching `--alloc` in a VM). While it runs, the host PSS
//! of the box's processes (the base set and all their descendants, so the
//! exec's own processes count) is sampled every `SAMPLE` and the maximum
//! kept. Each step records the exit status as the box reports it (137 =
//! 128 + SIGKILL: killed), the box's own OOM-kill counter before and after
//! (a container's cgroup, the guest kernel's /proc/vmstat) and the peak.
//! The signal is the transition: allocated at 50 %, killed at 150 %, with
//! the host cost stopping near L. After each step the box must still
//! answer `true`; a box that died as a whole is recorded with its cause
//! and the ladder ends. Backends without a per-box limit record why.

use super::{teardown, timed_exec, trivial};
use crate::boxes::{BackendKind, BoxBackend, ExecOutput};
use crate::events::{Event, Events};
use crate::results::boxaxes::{
    AxisSection, BoxDeath, IdleBoxesResult, PressureResult, PressureStep, ResourceResult,
};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

pub struct ResourceOpts {
    pub settle: Duration,
    pub window: Duration,
    /// Idle boxes side by side (0: the section is skipped).
    pub idle_boxes: u32,
    /// The pressure box's memory limit, MiB (0: the section is skipped).
    pub pressure_mib: u32,
}

/// The pressure ladder: fractions of the limit asked for, in order.
pub const LADDER: [f64; 2] = [0.5, 1.5];

/// Host PSS sampling period while an allocation runs: an allocation
/// beyond a 64 MiB limit climbs to it and is killed within ~0.15 s, so a
/// 50 ms period missed the top (24 of ~73 MiB seen); one sample (a /proc
/// scan for the box's processes and their smaps_rollup) costs well under
/// a millisecond.
pub const SAMPLE: Duration = Duration::from_millis(10);
/// The process tree is walked every this many samples (50 ms): often
/// enough to find an allocation's process long before it peaks.
const TREE_EVERY: u32 = 5;
/// How long an exec may go unanswered after the box's init ended.
const DEATH_GRACE: Duration = Duration::from_secs(2);

/// Exit status of a process killed by SIGKILL (128 + 9), as a shell, the
/// engine's exec and the VM agent all report it.
pub const KILLED: i32 = 137;

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
    let mut r = single(b, o, events).await?;
    if o.idle_boxes > 0 {
        r.idle_boxes = Some(idle_boxes(b, o, r.idle_pss_bytes, events).await?);
    }
    if o.pressure_mib > 0 {
        r.pressure = Some(pressure(b, o, events).await?);
    }
    Ok(r)
}

async fn single<B: BoxBackend>(
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
            idle_boxes: None,
            pressure: None,
        })
    }
    .await;
    let down = teardown(b, h).await;
    let r = r?;
    down?;
    Ok(r)
}

/// Per-box figures of the idle boxes that came up.
pub fn idle_summary(
    boxes: u32,
    pss: Vec<u64>,
    rss: Vec<u64>,
    single_pss: u64,
    deaths: Vec<BoxDeath>,
) -> IdleBoxesResult {
    let sum_pss_bytes: u64 = pss.iter().sum();
    let mean_pss_bytes = (!pss.is_empty()).then(|| sum_pss_bytes as f64 / pss.len() as f64);
    IdleBoxesResult {
        boxes,
        sum_pss_bytes,
        sum_rss_bytes: rss.iter().sum(),
        mean_pss_bytes,
        max_pss_bytes: pss.iter().copied().max(),
        mean_to_single: mean_pss_bytes
            .filter(|_| single_pss > 0)
            .map(|m| m / single_pss as f64),
        pss_bytes: pss,
        rss_bytes: rss,
        deaths,
    }
}

async fn idle_boxes<B: BoxBackend>(
    b: &B,
    o: &ResourceOpts,
    single_pss: u64,
    events: &dyn Events,
) -> Result<IdleBoxesResult> {
    events.emit(Event::Note(format!(
        "{} resource: {} idle boxes side by side",
        b.kind(),
        o.idle_boxes
    )));
    let mut up: Vec<(u32, B::Handle)> = Vec::new();
    let mut deaths = Vec::new();
    for i in 0..o.idle_boxes {
        let death = |e: anyhow::Error| BoxDeath {
            section: AxisSection::IdleBoxes,
            index: i,
            cause: format!("{e:#}"),
        };
        let mut h = match b.create(&format!("idle{i}")).await {
            Ok(h) => h,
            Err(e) => {
                deaths.push(death(e));
                continue;
            }
        };
        let ready = async {
            b.start(&mut h).await?;
            timed_exec(b, &mut h, &trivial()).await
        }
        .await;
        match ready {
            Ok(_) => up.push((i, h)),
            Err(e) => {
                deaths.push(death(e));
                // Its guard removes it if the teardown cannot.
                let _ = teardown(b, h).await;
            }
        }
    }
    tokio::time::sleep(o.settle).await;
    let (mut pss, mut rss) = (Vec::new(), Vec::new());
    for (i, h) in &up {
        let pids = b.host_pids(h);
        if pids.is_empty() {
            deaths.push(BoxDeath {
                section: AxisSection::IdleBoxes,
                index: *i,
                cause: "the box has no host process left to measure".into(),
            });
            continue;
        }
        pss.push(crate::boxes::pss_of(&pids));
        rss.push(rss_of(&pids));
    }
    let mut down = Ok(());
    for (_, h) in up {
        if let Err(e) = teardown(b, h).await {
            down = Err(e);
        }
    }
    down?;
    Ok(idle_summary(o.idle_boxes, pss, rss, single_pss, deaths))
}

/// The allocation of one pressure step, built from a number, never from a
/// profile. In a container, `head -c BYTES /dev/zero | tail`: `tail` holds
/// all of its input that follows the last newline (here: all of it) until
/// EOF. The writer's side stays open `HOLD_S` after the bytes, so an
/// allocation that fits is held at its top for several samples (without it
/// a 32 MiB step is over in ~0.1 s, between two samples). In a VM, the
/// agent's `--alloc` (1 MiB blocks, one write per page, held `HOLD_S`):
/// under TCG the pipe copied every byte three times at ~9 MiB/s, 29 s for
/// the two steps of a 224 MiB guest, where page faults alone take a few.
pub fn alloc_argv(kind: BackendKind, bytes: u64) -> Vec<String> {
    match kind {
        BackendKind::Qemu => vec![
            "/init".into(),
            "--alloc".into(),
            bytes.to_string(),
            HOLD_S.to_string(),
        ],
        _ => vec![
            "sh".into(),
            "-c".into(),
            format!("{{ head -c {bytes} /dev/zero; sleep {HOLD_S}; }} | tail >/dev/null"),
        ],
    }
}

/// Seconds an allocation that fits is held (whole: busybox's `sleep` in
/// the VM guest need not take fractions).
pub const HOLD_S: u32 = 1;

/// The box's own OOM-kill counter (v2 `memory.events`, v1
/// `memory.oom_control` of the container's cgroup; the guest kernel's
/// `/proc/vmstat`): the first `oom_kill N` line.
pub fn parse_oom_kills(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("oom_kill"))
            .then(|| w.next()?.parse().ok())
            .flatten()
    })
}

/// `MemAvailable:  N kB` of /proc/meminfo, bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let kb = l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?;
        kb.trim().parse::<u64>().ok().map(|k| k << 10)
    })
}

async fn oom_kills<B: BoxBackend>(b: &B, h: &mut B::Handle) -> Option<u64> {
    if let Some(f) = b.oom_kill_file(h) {
        return parse_oom_kills(&std::fs::read_to_string(f).ok()?);
    }
    let files: &[&str] = match b.kind() {
        BackendKind::Qemu => &["/proc/vmstat"],
        // In a container /proc/vmstat is the host's: only its cgroup counts.
        _ => &[
            "/sys/fs/cgroup/memory.events",
            "/sys/fs/cgroup/memory/memory.oom_control",
        ],
    };
    let mut argv = vec!["cat".to_string()];
    argv.extend(files.iter().map(|f| f.to_string()));
    // `cat` exits 1 when one of the files is missing; the other still counts.
    let out = b.exec(h, &argv, &[]).await.ok()?;
    parse_oom_kills(&String::from_utf8_lossy(&out.stdout))
}

/// `pids` and all their descendants, once each (an exec's processes are
/// children of a container's shim; a VMM has none).
fn with_descendants(pids: &[i32]) -> Vec<i32> {
    let mut all: Vec<i32> = pids
        .iter()
        .flat_map(|p| crate::boxes::container::descendants(*p))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Host PSS of `pids` and all their descendants now.
fn pss_with_descendants(pids: &[i32]) -> u64 {
    crate::boxes::pss_of(&with_descendants(pids))
}

/// Runs `argv` in the box while sampling host PSS every `SAMPLE`; the
/// output and the highest sample (one before and one after included). The
/// box's processes are read anew each sample (`live_pids`): an exec's
/// processes join a CLI box's cgroup as children of the runtime's CLI,
/// not of the box's init.
async fn sampled_exec<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    argv: &[String],
) -> (Result<ExecOutput>, u64) {
    let live = b.live_pids(h);
    let init = b.init_pid(h);
    // The process tree is walked (all of /proc) every TREE_EVERY samples,
    // the known processes' PSS read at every one: a walk per 10 ms sample
    // cost the host most of a core.
    let tree = || with_descendants(&live.read());
    let mut pids = tree();
    let mut peak = crate::boxes::pss_of(&pids);
    let exec = b.exec(h, argv, &[]);
    tokio::pin!(exec);
    let mut tick = tokio::time::interval(SAMPLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u32;
    let mut gone_since: Option<Instant> = None;
    let out = loop {
        tokio::select! {
            r = &mut exec => break r,
            _ = tick.tick() => {
                n += 1;
                if n.is_multiple_of(TREE_EVERY) {
                    pids = tree();
                }
                peak = peak.max(crate::boxes::pss_of(&pids));
                // The box's init gone: its exec's answer gets a grace to
                // arrive (it usually does), then the box is dead.
                if init.is_some_and(|p| !crate::boxes::pid_alive(p)) {
                    let since = *gone_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > DEATH_GRACE {
                        break Err(anyhow::anyhow!(
                            "the box's init process ({}) ended while {argv:?} ran in it, and the exec never answered",
                            init.unwrap_or_default()
                        ));
                    }
                }
            }
        }
    };
    (out, peak.max(pss_with_descendants(&live.read())))
}

async fn pressure<B: BoxBackend>(
    b: &B,
    o: &ResourceOpts,
    events: &dyn Events,
) -> Result<PressureResult> {
    let limit_bytes = u64::from(o.pressure_mib) << 20;
    let mut res = PressureResult {
        limit_bytes,
        how: String::new(),
        sample_ms: SAMPLE.as_millis() as u32,
        steps: Vec::new(),
        guest_available_bytes: None,
        skipped: None,
        death: None,
    };
    match b.memory_limit_how() {
        Ok(how) => res.how = how,
        Err(why) => {
            res.skipped = Some(why);
            return Ok(res);
        }
    }
    events.emit(Event::Note(format!(
        "{} resource: a box limited to {} MiB asked for {}",
        b.kind(),
        o.pressure_mib,
        LADDER
            .iter()
            .map(|f| format!("{:.0} %", f * 100.0))
            .collect::<Vec<_>>()
            .join(", then ")
    )));
    let death = |index: usize, e: anyhow::Error| BoxDeath {
        section: AxisSection::Pressure,
        index: index as u32,
        cause: format!("{e:#}"),
    };
    let mut h = match b.create_limited("pressure", o.pressure_mib).await {
        Ok(h) => h,
        Err(e) => {
            res.death = Some(death(0, e));
            return Ok(res);
        }
    };
    let ready = async {
        b.start(&mut h).await?;
        timed_exec(b, &mut h, &trivial()).await
    }
    .await;
    if let Err(e) = ready {
        res.death = Some(death(0, e.context("the pressure box did not come up")));
    } else {
        if b.kind() == BackendKind::Qemu {
            res.guest_available_bytes = b
                .exec(&mut h, &["cat".into(), "/proc/meminfo".into()], &[])
                .await
                .ok()
                .and_then(|o| parse_mem_available(&String::from_utf8_lossy(&o.stdout)));
        }
        for (i, f) in LADDER.iter().enumerate() {
            let requested_bytes = (limit_bytes as f64 * f) as u64;
            let before = oom_kills(b, &mut h).await;
            let t = Instant::now();
            let (out, peak_pss_bytes) =
                sampled_exec(b, &mut h, &alloc_argv(b.kind(), requested_bytes)).await;
            let seconds = t.elapsed().as_secs_f64();
            let out = match out {
                Ok(out) => out,
                Err(e) => {
                    res.death = Some(death(i, e));
                    break;
                }
            };
            let after = oom_kills(b, &mut h).await;
            res.steps.push(PressureStep {
                fraction: *f,
                requested_bytes,
                exit_code: out.exit_code,
                killed: out.exit_code == KILLED,
                oom_kills: before.zip(after).map(|(a, z)| z.saturating_sub(a)),
                peak_pss_bytes,
                seconds,
            });
            // The allocator may die; the box must not. A box whose cgroup
            // counted the kill but that no longer answers was killed as a
            // whole (gVisor: the sandbox holds the box's memory).
            let whole = res
                .steps
                .last()
                .and_then(|s| s.oom_kills)
                .filter(|&n| n > 0)
                .map(|n| format!("the OOM killer ended the box as a whole ({n} kill(s) counted)"));
            if let Err(e) = timed_exec(b, &mut h, &trivial()).await {
                let e = e.context(whole.unwrap_or_else(|| "the box after the allocation".into()));
                res.death = Some(death(i, e));
                break;
            }
        }
    }
    let down = teardown(b, h).await;
    // A box that died may not stop cleanly; its guard and the run's reap
    // remove what is left, and the death is the record.
    if res.death.is_none() {
        down?;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kill_counters_of_cgroup_v1_v2_and_vmstat() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        let v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n";
        let vmstat = "nr_free_pages 1000\npgfault 77\noom_kill 1\nnr_foll_pin_acquired 0\n";
        assert_eq!(parse_oom_kills(v1), Some(3));
        assert_eq!(parse_oom_kills(v2), Some(2));
        assert_eq!(parse_oom_kills(vmstat), Some(1));
        assert_eq!(parse_oom_kills("oom_group_kill 4\n"), None);
        assert_eq!(parse_oom_kills("oom_kill x\n"), None);
        assert_eq!(parse_oom_kills(""), None);
    }

    #[test]
    fn mem_available_of_meminfo() {
        let m = "MemTotal:         118000 kB\nMemFree:           60000 kB\nMemAvailable:      51200 kB\n";
        assert_eq!(parse_mem_available(m), Some(51200 << 10));
        assert_eq!(parse_mem_available("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn alloc_command_is_a_number_in_a_fixed_pipeline_or_the_vm_agent() {
        assert_eq!(
            alloc_argv(BackendKind::Container, 33554432),
            vec![
                "sh",
                "-c",
                "{ head -c 33554432 /dev/zero; sleep 1; } | tail >/dev/null"
            ]
        );
        assert_eq!(
            alloc_argv(BackendKind::Qemu, 33554432),
            vec!["/init", "--alloc", "33554432", "1"]
        );
    }

    #[test]
    fn idle_summary_per_box_and_against_one_box() {
        let d = BoxDeath {
            section: AxisSection::IdleBoxes,
            index: 2,
            cause: "no".into(),
        };
        let r = idle_summary(3, vec![10, 30], vec![40, 50], 40, vec![d]);
        assert_eq!(r.sum_pss_bytes, 40);
        assert_eq!(r.sum_rss_bytes, 90);
        assert_eq!(r.mean_pss_bytes, Some(20.0));
        assert_eq!(r.max_pss_bytes, Some(30));
        assert_eq!(r.mean_to_single, Some(0.5));
        assert_eq!(r.deaths.len(), 1);
        let none = idle_summary(2, vec![], vec![], 40, vec![]);
        assert_eq!(none.mean_pss_bytes, None);
        assert_eq!(none.max_pss_bytes, None);
        assert_eq!(none.mean_to_single, None);
        assert_eq!(
            idle_summary(1, vec![5], vec![5], 0, vec![]).mean_to_single,
            None
        );
    }
}
