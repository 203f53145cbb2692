//! Snapshot, restore and fork of a running box.
//!
//! Setup: one source box; a value unique to the run is written into it
//! (read back after every restore and in every fork: a wrong one fails the
//! runtime); optionally `held_mib` MiB of non-zero memory is made resident
//! in it (more pages to copy). Measurement, qemu: per iteration one live
//! and one full snapshot, their order alternating (modes interleaved), each
//! with the agent's ping loop running from the host and a ticker writing
//! CLOCK_MONOTONIC every `tick_us` inside the box; each snapshot file is
//! measured and removed. Then one full snapshot (nothing in flight) that
//! `iterations` restores and `forks` clones start from, the clones all
//! running at once for their PSS. runsc: checkpoint, remove, restore per
//! iteration. Analysis: largest gaps (pure), nearest-rank p50/p90 with
//! tiers. A runtime that cannot snapshot is a SKIP with the reason.

use crate::boxes::any::{AnyBackend, AnyBox};
use crate::boxes::qemu::{QemuBackend, QemuBox};
use crate::boxes::snapshot::{self, SnapDir};
use crate::boxes::{pss_of, BoxBackend};
use crate::events::{Event, Events};
use crate::results::boxes::{
    ForkSample, Quantiles, SnapshotMode, SnapshotModeSummary, SnapshotResult, SnapshotSample,
};
use anyhow::{bail, Context, Result};
use std::cell::Cell;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct SnapshotOpts {
    pub iterations: u32,
    pub forks: u32,
    pub held_mib: u32,
    pub tick_us: u32,
}

/// Where the box keeps the value that must survive (tmpfs in both: its
/// pages are the box's memory, so only a real snapshot carries them).
const STATE_QEMU: &str = "/tmp/runcost-state";
const STATE_OCI: &str = "/dev/shm/runcost-state";
/// Pings and ticks run this long on either side of a snapshot.
const MARGIN: Duration = Duration::from_millis(150);

/// Largest gap between consecutive instants (seconds, ascending); None
/// with fewer than two.
pub fn largest_gap(ts: &[f64]) -> Option<f64> {
    ts.windows(2).map(|w| w[1] - w[0]).reduce(f64::max)
}

/// The ticker's file: u64 LE nanoseconds, a trailing partial stamp ignored.
pub fn parse_ticks(raw: &[u8]) -> Vec<f64> {
    raw.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64 / 1e9)
        .collect()
}

/// The modes of iteration `i`, alternating which goes first.
pub fn mode_order(i: u32) -> [SnapshotMode; 2] {
    if i.is_multiple_of(2) {
        [SnapshotMode::Live, SnapshotMode::Full]
    } else {
        [SnapshotMode::Full, SnapshotMode::Live]
    }
}

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn median_u64(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Per-mode summaries of the samples (pure).
pub fn summarize(samples: &[SnapshotSample]) -> Vec<SnapshotModeSummary> {
    [SnapshotMode::Live, SnapshotMode::Full]
        .into_iter()
        .filter_map(|mode| {
            let of: Vec<&SnapshotSample> = samples.iter().filter(|s| s.mode == mode).collect();
            if of.is_empty() {
                return None;
            }
            let q = |f: &dyn Fn(&SnapshotSample) -> Option<f64>| {
                Quantiles::of(&of.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
            };
            let mut bytes: Vec<u64> = of.iter().map(|s| s.bytes).collect();
            let bytes = median_u64(&mut bytes);
            let total = q(&|s| Some(s.total_s));
            let t50 = total.as_ref().and_then(|t| t.get(0.5)).map(|x| x.value);
            Some(SnapshotModeSummary {
                mode,
                reported_pause: q(&|s| s.reported_pause_s),
                host_gap: q(&|s| s.host_gap_s),
                guest_gap: q(&|s| s.guest_gap_s),
                caller: q(&|s| Some(s.caller_s)),
                total,
                bytes,
                write_bytes_per_s: t50
                    .filter(|t| *t > 0.0)
                    .map(|t| bytes as f64 / t)
                    .unwrap_or(0.0),
            })
        })
        .collect()
}

fn empty(o: &SnapshotOpts, skipped: Option<String>) -> SnapshotResult {
    SnapshotResult {
        skipped,
        iterations: o.iterations,
        held_mib: o.held_mib,
        tick_us: o.tick_us,
        samples: Vec::new(),
        modes: Vec::new(),
        restore_s: Vec::new(),
        restore: None,
        forks: Vec::new(),
        fork: None,
        fork_skipped: None,
        source_pss_bytes: 0,
        fork_snapshot_bytes: 0,
        state_verified: 0,
        files_left: 0,
    }
}

/// Whether and why not a runtime can snapshot here (a SKIP reason). The
/// CRIU reason comes from really running `criu check`.
pub fn capability(b: &AnyBackend, env_runtime: Option<&str>) -> Option<String> {
    match b {
        AnyBackend::Qemu(_) => None,
        AnyBackend::Command(c) if c.can_checkpoint() => None,
        AnyBackend::Command(c) if is_criu_runtime(&c.spec.binary) => Some(criu_skip()),
        AnyBackend::Command(_) => Some(
            "the profile has no `checkpoint`/`restore` commands (backend.command.checkpoint, .restore)".into(),
        ),
        AnyBackend::Engine(_) if env_runtime.is_some_and(is_criu_runtime) => Some(criu_skip()),
        AnyBackend::Engine(_) => Some(
            "snapshots through the engine are measured only for CRIU runtimes; use the runtime's -cli profile".into(),
        ),
    }
}

fn is_criu_runtime(bin: &str) -> bool {
    let name = bin.rsplit('/').next().unwrap_or(bin);
    let name = name.split_whitespace().next().unwrap_or(name);
    matches!(name, "runc" | "crun")
}

fn criu_skip() -> String {
    match snapshot::criu_check() {
        Err(why) => format!("runc/crun checkpoint needs CRIU: {why}"),
        Ok(_) => "`criu check` passes here, but checkpoint through runc is not built yet (no `checkpoint`/`restore` in the profile)".into(),
    }
}

/// The lane on one runtime.
pub async fn run(
    b: &AnyBackend,
    name: &str,
    runtime: Option<&str>,
    o: &SnapshotOpts,
    snaps: &SnapDir,
    events: &dyn Events,
) -> Result<SnapshotResult> {
    if let Some(why) = capability(b, runtime) {
        events.emit(Event::Note(format!("{name} snapshot SKIPPED: {why}")));
        return Ok(empty(o, Some(format!("{name} snapshot SKIPPED: {why}"))));
    }
    let value = format!(
        "runcost-{}-{}",
        name,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let mut r = match b {
        AnyBackend::Qemu(q) => qemu_lane(q, name, o, &value, snaps, events).await?,
        AnyBackend::Command(_) => oci_lane(b, name, o, &value, snaps, events).await?,
        AnyBackend::Engine(_) => unreachable!("capability() skips engine runtimes"),
    };
    r.files_left = snaps.entries();
    Ok(r)
}

/// `cat` of the state file in the box must be exactly `value`.
async fn read_state<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    path: &str,
    value: &str,
    who: &str,
) -> Result<()> {
    let (out, _) = super::timed_exec(b, h, &argv(&["cat", path]))
        .await
        .with_context(|| format!("{who}: read the state written before the snapshot"))?;
    let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if got != value {
        bail!("{who} came up with the wrong state: {path} holds {got:?}, expected {value:?}");
    }
    Ok(())
}

async fn write_state<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    path: &str,
    value: &str,
) -> Result<()> {
    super::timed_exec(
        b,
        h,
        &argv(&["sh", "-c", &format!("echo {value} > {path}")]),
    )
    .await
    .context("write the state before the snapshot")?;
    Ok(())
}

async fn qemu_lane(
    b: &QemuBackend,
    name: &str,
    o: &SnapshotOpts,
    value: &str,
    snaps: &SnapDir,
    events: &dyn Events,
) -> Result<SnapshotResult> {
    let mut r = empty(o, None);
    let mut src = b.create(&format!("{name}-src")).await?;
    let out = async {
        b.start(&mut src).await?;
        write_state(b, &mut src, STATE_QEMU, value).await?;
        if o.held_mib > 0 {
            hold(b, &mut src, o.held_mib).await?;
        }
        for i in 0..o.iterations {
            for mode in mode_order(i) {
                let s = qemu_sample(b, &mut src, i, mode, o, snaps).await?;
                events.emit(Event::Note(format!(
                    "{name} snapshot {} #{i}: pause {:.1} ms, host gap {}, {:.1} MiB in {:.2} s",
                    mode.name(),
                    s.reported_pause_s.unwrap_or(0.0) * 1e3,
                    s.host_gap_s
                        .map(|g| format!("{:.1} ms", g * 1e3))
                        .unwrap_or("-".into()),
                    s.bytes as f64 / 1048576.0,
                    s.total_s
                )));
                r.samples.push(s);
            }
        }
        r.modes = summarize(&r.samples);
        // The snapshot restores and forks start from: full, nothing in flight.
        let file = snaps.path.join(format!("{name}-fork.mig"));
        let q = src.qmp().await?;
        let snap = snapshot::qemu_snapshot(q, &file, SnapshotMode::Full).await?;
        r.fork_snapshot_bytes = snap.bytes;
        read_state(
            b,
            &mut src,
            STATE_QEMU,
            value,
            "the source box after its snapshot",
        )
        .await?;
        r.source_pss_bytes = pss_of(&b.host_pids(&src));
        for i in 0..o.iterations {
            let mut h = b.create(&format!("{name}-restore{i}")).await?;
            let t = Instant::now();
            let res = b.restore(&mut h, &file).await;
            let dt = t.elapsed();
            let res = match res {
                Ok(()) => read_state(b, &mut h, STATE_QEMU, value, &format!("restore {i}")).await,
                Err(e) => Err(e),
            };
            let down = super::teardown(b, h).await;
            res?;
            down?;
            r.restore_s.push(dt.as_secs_f64());
        }
        r.restore = Quantiles::of(&r.restore_s);
        events.emit(Event::Note(format!("{name}: {} restores", o.iterations)));
        let mut clones: Vec<QemuBox> = Vec::new();
        let forked = async {
            let mut lat = Vec::new();
            for i in 0..o.forks {
                let mut h = b.create(&format!("{name}-fork{i}")).await?;
                let t = Instant::now();
                let res = b.restore(&mut h, &file).await;
                lat.push(t.elapsed().as_secs_f64());
                clones.push(h);
                res?;
            }
            for (i, h) in clones.iter_mut().enumerate() {
                read_state(b, h, STATE_QEMU, value, &format!("fork {i}")).await?;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, anyhow::Error>(lat)
        }
        .await;
        let pss: Vec<u64> = clones.iter().map(|h| pss_of(&b.host_pids(h))).collect();
        for h in clones {
            let _ = super::teardown(b, h).await;
        }
        let lat = forked?;
        r.forks = lat
            .iter()
            .zip(&pss)
            .map(|(&clone_s, &pss_bytes)| ForkSample { clone_s, pss_bytes })
            .collect();
        r.fork = Quantiles::of(&lat);
        r.state_verified = o.iterations as usize + o.forks as usize;
        let _ = std::fs::remove_file(&file);
        events.emit(Event::Note(format!("{name}: {} forks", o.forks)));
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let down = super::teardown(b, src).await;
    out?;
    down?;
    Ok(r)
}

/// Makes `mib` MiB of non-zero memory resident in the box (the agent's
/// `--hold` mode, in the background) and waits until it is.
async fn hold(b: &QemuBackend, h: &mut QemuBox, mib: u32) -> Result<()> {
    let line = format!("/init --hold {mib} > /tmp/held 2>&1 < /dev/null &");
    super::timed_exec(b, h, &argv(&["sh", "-c", &line])).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let o = b.exec(h, &argv(&["cat", "/tmp/held"]), &[]).await?;
        let text = String::from_utf8_lossy(&o.stdout);
        if text.starts_with("held") {
            return Ok(());
        }
        if !text.trim().is_empty() || Instant::now() > deadline {
            bail!("--hold {mib} in the box: {}", text.trim());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One snapshot with the ping loop and the in-box ticker around it.
async fn qemu_sample(
    b: &QemuBackend,
    h: &mut QemuBox,
    iteration: u32,
    mode: SnapshotMode,
    o: &SnapshotOpts,
    snaps: &SnapDir,
) -> Result<SnapshotSample> {
    let ticks = format!("/tmp/ticks-{iteration}-{}", mode.name());
    // A ticker that would run 10 minutes; killed once the snapshot is done.
    let count = 600_000_000 / u64::from(o.tick_us.max(1));
    let line = format!(
        "/init --tick {ticks} {} {count} > /dev/null 2>&1 < /dev/null & echo $!",
        o.tick_us
    );
    let (out, _) = super::timed_exec(b, h, &argv(&["sh", "-c", &line])).await?;
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if pid.parse::<u32>().is_err() {
        bail!("the in-box ticker printed no pid ({pid:?})");
    }
    tokio::time::sleep(MARGIN).await;
    let file = snaps
        .path
        .join(format!("{}-{iteration}-{}.mig", h.name(), mode.name()));
    let (conn, qmp) = h.agent_and_qmp().await?;
    let done = Cell::new(false);
    let t0 = Instant::now();
    let pinger = async {
        let mut answers = vec![0.0];
        let mut err = None;
        let mut stop_at: Option<Instant> = None;
        loop {
            if done.get() && stop_at.is_none() {
                stop_at = Some(Instant::now() + MARGIN);
            }
            if stop_at.is_some_and(|s| Instant::now() >= s) {
                break;
            }
            match tokio::time::timeout(Duration::from_secs(120), conn.exec(&argv(&["true"]), &[]))
                .await
            {
                Ok(Ok(_)) => answers.push(t0.elapsed().as_secs_f64()),
                Ok(Err(e)) => {
                    err = Some(e);
                    break;
                }
                Err(_) => {
                    err = Some(anyhow::anyhow!(
                        "the agent did not answer a ping within 120 s"
                    ));
                    break;
                }
            }
        }
        (answers, err)
    };
    let snapper = async {
        let r = snapshot::qemu_snapshot(qmp, &file, mode).await;
        done.set(true);
        r
    };
    let ((answers, ping_err), snap) = tokio::join!(pinger, snapper);
    // The measured file is not needed past its size.
    let _ = std::fs::remove_file(&file);
    let snap = snap?;
    if let Some(e) = ping_err {
        return Err(e.context("the ping loop during the snapshot"));
    }
    tokio::time::sleep(MARGIN).await;
    super::timed_exec(b, h, &argv(&["kill", &pid])).await?;
    let (raw, _) = super::timed_exec(b, h, &argv(&["cat", &ticks])).await?;
    super::timed_exec(b, h, &argv(&["rm", "-f", &ticks])).await?;
    let stamps = parse_ticks(&raw.stdout);
    let total = snap.total.as_secs_f64();
    Ok(SnapshotSample {
        iteration,
        mode,
        caller_s: snap.caller.as_secs_f64(),
        reported_pause_s: Some(snap.pause.as_secs_f64()),
        total_s: total,
        host_gap_s: largest_gap(&answers),
        pings: answers.len().saturating_sub(1),
        guest_gap_s: largest_gap(&stamps),
        ticks: stamps.len(),
        bytes: snap.bytes,
        write_bytes_per_s: if total > 0.0 {
            snap.bytes as f64 / total
        } else {
            0.0
        },
    })
}

/// An OCI runtime with `checkpoint`/`restore` commands (runsc): per
/// iteration checkpoint (which stops the box), then restore, state checked.
async fn oci_lane(
    any: &AnyBackend,
    name: &str,
    o: &SnapshotOpts,
    value: &str,
    snaps: &SnapDir,
    events: &dyn Events,
) -> Result<SnapshotResult> {
    let AnyBackend::Command(c) = any else {
        bail!("{name}: not a command backend");
    };
    let mut r = empty(o, None);
    r.fork_skipped = Some(format!(
        "{name}: restore brings back the checkpointed box itself (same id and bundle); clones of one image are not measured"
    ));
    let mut h = any.create(&format!("{name}-src")).await?;
    let out = async {
        any.start(&mut h).await?;
        write_state(any, &mut h, STATE_OCI, value).await?;
        r.source_pss_bytes = pss_of(&any.host_pids(&h));
        let AnyBox::Command(ch) = &mut h else {
            bail!("{name}: not a command box");
        };
        for i in 0..o.iterations {
            let image = snaps.path.join(format!("{name}-{i}"));
            std::fs::create_dir_all(&image)?;
            let t = Instant::now();
            let cp = c.checkpoint(ch, &image).await;
            let checkpoint_s = t.elapsed().as_secs_f64();
            if let Err(e) = cp {
                let _ = std::fs::remove_dir_all(&image);
                return Err(e);
            }
            let bytes = snapshot::disk_bytes(&image);
            let t = Instant::now();
            let rs = c.restore(ch, &image).await;
            let restore_s = t.elapsed().as_secs_f64();
            let _ = std::fs::remove_dir_all(&image);
            rs?;
            read_state(c, ch, STATE_OCI, value, &format!("restore {i}")).await?;
            r.state_verified += 1;
            r.restore_s.push(restore_s);
            events.emit(Event::Note(format!(
                "{name} checkpoint #{i}: {:.2} s, {:.0} KiB; restore {:.2} s",
                checkpoint_s,
                bytes as f64 / 1024.0,
                restore_s
            )));
            r.samples.push(SnapshotSample {
                iteration: i,
                mode: SnapshotMode::Full,
                caller_s: checkpoint_s + restore_s,
                // The box is stopped from checkpoint until restore returns.
                reported_pause_s: None,
                total_s: checkpoint_s,
                host_gap_s: None,
                pings: 0,
                guest_gap_s: None,
                ticks: 0,
                bytes,
                write_bytes_per_s: if checkpoint_s > 0.0 {
                    bytes as f64 / checkpoint_s
                } else {
                    0.0
                },
            });
        }
        r.modes = summarize(&r.samples);
        r.restore = Quantiles::of(&r.restore_s);
        Ok(())
    }
    .await;
    let down = super::teardown(any, h).await;
    out?;
    down?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_gap_is_the_widest_step() {
        assert_eq!(largest_gap(&[0.0, 0.001, 0.002, 0.302, 0.303]), Some(0.3));
        assert_eq!(largest_gap(&[1.0]), None);
        assert_eq!(largest_gap(&[]), None);
        assert!((largest_gap(&[0.0, 0.5]).unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ticks_are_u64_le_nanoseconds() {
        let mut raw = Vec::new();
        for ns in [1_000_000u64, 2_000_000, 252_000_000] {
            raw.extend_from_slice(&ns.to_le_bytes());
        }
        raw.extend_from_slice(&[1, 2, 3]); // a stamp cut off by the kill
        let t = parse_ticks(&raw);
        assert_eq!(t.len(), 3);
        assert!((largest_gap(&t).unwrap() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn modes_alternate_which_goes_first() {
        assert_eq!(mode_order(0), [SnapshotMode::Live, SnapshotMode::Full]);
        assert_eq!(mode_order(1), [SnapshotMode::Full, SnapshotMode::Live]);
    }

    #[test]
    fn criu_runtimes_are_recognised() {
        assert!(is_criu_runtime("runc"));
        assert!(is_criu_runtime("/usr/sbin/runc (runc version 1.1.5)"));
        assert!(is_criu_runtime("crun"));
        assert!(!is_criu_runtime("runsc"));
    }
}
