//! Snapshot, restore and fork of a running box.
//!
//! Setup: one source box; a value unique to the run is written into it
//! (read back after every restore and in every fork: a wrong one fails the
//! runtime); optionally `held_mib` MiB of non-zero memory is made resident
//! in it (more pages to copy). Measurement, qemu: per iteration one live,
//! one full and (where qemu and the kernel allow it) one background
//! snapshot, their order rotating (modes interleaved), each with the
//! agent's ping loop running from the host and a ticker writing
//! CLOCK_MONOTONIC every `tick_us` inside the box; each snapshot file is
//! measured and removed. Then one full snapshot (nothing in flight) that
//! `iterations` restores and `forks` clones start from, the clones all
//! running at once for their PSS. runsc: checkpoint, remove, restore per
//! iteration with the same ping loop (`runsc exec true`) and ticker (perl),
//! then one checkpoint that `forks` new boxes (own ids) are restored from.
//! Analysis: largest gaps and gap timelines (pure), nearest-rank p50/p90
//! with tiers. A runtime that cannot snapshot is a SKIP with the reason.

use crate::boxes::any::AnyBackend;
use crate::boxes::command::{CommandBackend, CommandBox};
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

/// The modes of iteration `i`: `modes` rotated by `i`, so each mode takes
/// each place in turn.
pub fn mode_order(i: u32, modes: &[SnapshotMode]) -> Vec<SnapshotMode> {
    let mut v = modes.to_vec();
    if !v.is_empty() {
        let k = i as usize % v.len();
        v.rotate_left(k);
    }
    v
}

/// Gaps between consecutive instants over time: `[t, gap]` at the instant
/// ending each gap, only the largest per `bucket` seconds (a chart's
/// worth of points, the spikes kept). Pure.
pub fn gap_series(ts: &[f64], bucket: f64) -> Vec<[f64; 2]> {
    let mut out: Vec<[f64; 2]> = Vec::new();
    let mut key = i64::MIN;
    for w in ts.windows(2) {
        let (t, gap) = (w[1], w[1] - w[0]);
        let k = (t / bucket).floor() as i64;
        match out.last_mut() {
            Some(last) if k == key => {
                if gap > last[1] {
                    *last = [t, gap];
                }
            }
            _ => {
                key = k;
                out.push([t, gap]);
            }
        }
    }
    out
}

/// Ticker stamps (box clock) placed on the host's timeline: the first at
/// `first_at` seconds (relative to the snapshot's start).
pub fn place(stamps: &[f64], first_at: f64) -> Vec<f64> {
    let Some(&s0) = stamps.first() else {
        return Vec::new();
    };
    stamps.iter().map(|s| s - s0 + first_at).collect()
}

/// Timeline buckets, seconds.
const BUCKET: f64 = 0.005;

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn median_u64(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Per-mode summaries of the samples (pure).
pub fn summarize(samples: &[SnapshotSample]) -> Vec<SnapshotModeSummary> {
    [
        SnapshotMode::Live,
        SnapshotMode::Full,
        SnapshotMode::Background,
    ]
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
        background_skipped: None,
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
        let mut modes = vec![SnapshotMode::Live, SnapshotMode::Full];
        match snapshot::background_supported(src.qmp().await?).await {
            Ok(()) => modes.push(SnapshotMode::Background),
            Err(why) => {
                let why = format!("qemu refuses the background-snapshot capability here: {why}");
                events.emit(Event::Note(format!(
                    "{name}: background mode not measured: {why}"
                )));
                r.background_skipped = Some(why);
            }
        }
        let lane_t0 = Instant::now();
        for i in 0..o.iterations {
            for mode in mode_order(i, &modes) {
                let s = qemu_sample(b, &mut src, i, mode, o, snaps, lane_t0).await?;
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
        record_forks(b, clones, forked, &mut r).await?;
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

/// The forks of either runtime, all running at once: each clone's PSS,
/// then every clone torn down whether or not forking succeeded (`forked`:
/// the clone latencies, or why forking stopped), then one row per clone.
async fn record_forks<B: BoxBackend>(
    b: &B,
    clones: Vec<B::Handle>,
    forked: Result<Vec<f64>>,
    r: &mut SnapshotResult,
) -> Result<()> {
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
    Ok(())
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

/// A ticker in the box writing CLOCK_MONOTONIC every `tick_us` to a file
/// in tmpfs, started in the background: its pid, its file, and when the
/// exec that started it returned.
struct Ticker {
    pid: String,
    file: String,
    started: Instant,
}

/// The ticker's command line: the guest agent's `--tick` in a qemu box;
/// perl (in the base image) in an OCI box, which has no agent.
fn ticker_line(kind: TickerKind, file: &str, tick_us: u32) -> String {
    // Ten minutes of stamps at most; killed once the snapshot is done.
    let count = 600_000_000 / u64::from(tick_us.max(1));
    let quiet = "> /dev/null 2>&1 < /dev/null & echo $!";
    match kind {
        TickerKind::Agent => format!("/init --tick {file} {tick_us} {count} {quiet}"),
        // perl-base has no Time::HiRes: clock_gettime(CLOCK_MONOTONIC) is
        // syscall 228 on x86_64, the sleep a select().
        TickerKind::Perl => format!(
            "perl -e 'open(F, \">\", $ARGV[0]) or die; for (1..$ARGV[2]) {{ my $b = \"\\0\" x 16; syscall(228, 1, $b) == 0 or die; my ($s, $n) = unpack(\"q<q<\", $b); syswrite(F, pack(\"Q<\", $s * 1000000000 + $n)) or die; select(undef, undef, undef, $ARGV[1] / 1e6); }}' {file} {tick_us} {count} {quiet}"
        ),
    }
}

#[derive(Clone, Copy)]
enum TickerKind {
    Agent,
    Perl,
}

async fn start_ticker<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    kind: TickerKind,
    file: String,
    tick_us: u32,
) -> Result<Ticker> {
    let line = ticker_line(kind, &file, tick_us);
    let (out, _) = super::timed_exec(b, h, &argv(&["sh", "-c", &line])).await?;
    let started = Instant::now();
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if pid.parse::<u32>().is_err() {
        bail!("the in-box ticker printed no pid ({pid:?})");
    }
    Ok(Ticker { pid, file, started })
}

/// Stops the ticker and reads its stamps (seconds, box clock); the file
/// is removed. An empty file is an error: the ticker did not run.
async fn finish_ticker<B: BoxBackend>(b: &B, h: &mut B::Handle, t: &Ticker) -> Result<Vec<f64>> {
    // `kill` through sh: the OCI image has it only as a shell builtin.
    let kill = format!("kill {}", t.pid);
    super::timed_exec(b, h, &argv(&["sh", "-c", &kill])).await?;
    let (raw, _) = super::timed_exec(b, h, &argv(&["cat", &t.file])).await?;
    super::timed_exec(b, h, &argv(&["rm", "-f", &t.file])).await?;
    let stamps = parse_ticks(&raw.stdout);
    if stamps.len() < 2 {
        bail!(
            "the in-box ticker wrote {} stamp(s) to {}",
            stamps.len(),
            t.file
        );
    }
    Ok(stamps)
}

/// Seconds from `t0` to `at` (negative when `at` came first).
fn rel(at: Instant, t0: Instant) -> f64 {
    if at >= t0 {
        (at - t0).as_secs_f64()
    } else {
        -(t0 - at).as_secs_f64()
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
    lane_t0: Instant,
) -> Result<SnapshotSample> {
    let ticks = format!("/tmp/ticks-{iteration}-{}", mode.name());
    let ticker = start_ticker(b, h, TickerKind::Agent, ticks, o.tick_us).await?;
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
    let stamps = finish_ticker(b, h, &ticker).await?;
    let placed = place(&stamps, rel(ticker.started, t0));
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
        at_s: rel(t0, lane_t0),
        host_gaps: gap_series(&answers, BUCKET),
        guest_gaps: gap_series(&placed, BUCKET),
    })
}

/// An OCI runtime with `checkpoint`/`restore` commands (runsc): per
/// iteration checkpoint (which stops the box), then restore, state
/// checked, with the ping loop and the ticker around it; then forks.
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
    r.background_skipped = Some(format!(
        "{name}: `checkpoint` has no background mode (it stops the box; `restore` brings it back)"
    ));
    let mut h = c.create(&format!("{name}-src")).await?;
    let mut src_stopped = false;
    let out = async {
        c.start(&mut h).await?;
        write_state(c, &mut h, STATE_OCI, value).await?;
        r.source_pss_bytes = pss_of(&c.host_pids(&h));
        let lane_t0 = Instant::now();
        for i in 0..o.iterations {
            let s = oci_sample(c, &mut h, name, i, o, snaps, value, lane_t0).await?;
            r.state_verified += 1;
            r.restore_s.push(s.caller_s - s.total_s);
            events.emit(Event::Note(format!(
                "{name} checkpoint #{i}: {:.2} s, {:.0} KiB; restore {:.2} s; gap in the box {}, from the host {}",
                s.total_s,
                s.bytes as f64 / 1024.0,
                s.caller_s - s.total_s,
                s.guest_gap_s.map(|g| format!("{:.0} ms", g * 1e3)).unwrap_or("-".into()),
                s.host_gap_s.map(|g| format!("{:.0} ms", g * 1e3)).unwrap_or("-".into()),
            )));
            r.samples.push(s);
        }
        r.modes = summarize(&r.samples);
        r.restore = Quantiles::of(&r.restore_s);
        if o.forks > 0 {
            // The forks' image is a checkpoint, which stops the source.
            src_stopped = true;
            oci_forks(c, &mut h, name, o, snaps, value, &mut r).await?;
            events.emit(Event::Note(format!("{name}: {} forks", o.forks)));
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    // A stopped OCI box has nothing to stop: `remove` (delete --force)
    // serves a running and a stopped one alike.
    let down = if src_stopped {
        c.remove(h).await
    } else {
        super::teardown(c, h).await.map(|_| ())
    };
    out?;
    down?;
    Ok(r)
}

/// One checkpoint and restore of the box, observed by the ping loop
/// (`exec true` from the host, failures while the box is away ignored)
/// and the ticker inside.
#[allow(clippy::too_many_arguments)]
async fn oci_sample(
    c: &CommandBackend,
    h: &mut CommandBox,
    name: &str,
    iteration: u32,
    o: &SnapshotOpts,
    snaps: &SnapDir,
    value: &str,
    lane_t0: Instant,
) -> Result<SnapshotSample> {
    let ticks = format!("/dev/shm/ticks-{iteration}");
    let ticker = start_ticker(c, h, TickerKind::Perl, ticks, o.tick_us).await?;
    tokio::time::sleep(MARGIN).await;
    let image = snaps.path.join(format!("{name}-{iteration}"));
    std::fs::create_dir_all(&image)?;
    let ping = c.exec_argv(h, &super::trivial());
    let done = Cell::new(false);
    let t0 = Instant::now();
    let pinger = async {
        let mut answers = vec![0.0];
        let mut stop_at: Option<Instant> = None;
        loop {
            if done.get() && stop_at.is_none() {
                stop_at = Some(Instant::now() + MARGIN);
            }
            if stop_at.is_some_and(|s| Instant::now() >= s) {
                break;
            }
            let run = tokio::process::Command::new(&ping[0])
                .args(&ping[1..])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status();
            match tokio::time::timeout(Duration::from_secs(30), run).await {
                Ok(Ok(st)) if st.success() => answers.push(t0.elapsed().as_secs_f64()),
                // The box is away between checkpoint and restore.
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        answers
    };
    let cycle = async {
        let t = Instant::now();
        let cp = c.checkpoint(h, &image).await;
        let checkpoint_s = t.elapsed().as_secs_f64();
        let bytes = snapshot::disk_bytes(&image);
        let rs = match cp {
            Ok(()) => c.restore(h, &image).await,
            Err(e) => Err(e),
        };
        done.set(true);
        rs.map(|()| (checkpoint_s, bytes, t.elapsed().as_secs_f64()))
    };
    let (answers, cycle) = tokio::join!(pinger, cycle);
    let _ = std::fs::remove_dir_all(&image);
    let (checkpoint_s, bytes, caller_s) = cycle?;
    read_state(c, h, STATE_OCI, value, &format!("restore {iteration}")).await?;
    tokio::time::sleep(MARGIN).await;
    let stamps = finish_ticker(c, h, &ticker).await?;
    let placed = place(&stamps, rel(ticker.started, t0));
    Ok(SnapshotSample {
        iteration,
        mode: SnapshotMode::Full,
        caller_s,
        // runsc reports no pause: the box is away from checkpoint until
        // restore returns, which the gaps observe.
        reported_pause_s: None,
        total_s: checkpoint_s,
        host_gap_s: largest_gap(&answers),
        pings: answers.len().saturating_sub(1),
        guest_gap_s: largest_gap(&stamps),
        ticks: stamps.len(),
        bytes,
        write_bytes_per_s: if checkpoint_s > 0.0 {
            bytes as f64 / checkpoint_s
        } else {
            0.0
        },
        at_s: rel(t0, lane_t0),
        host_gaps: gap_series(&answers, BUCKET),
        guest_gaps: gap_series(&placed, BUCKET),
    })
}

/// Forks: the source checkpointed once (it stops), then `forks` new
/// boxes restored from that one image, each its own id, bundle and cgroup
/// (tracked, so the guard and `clean` remove them), all running at once
/// for their PSS, each reading back the state.
async fn oci_forks(
    c: &CommandBackend,
    src: &mut CommandBox,
    name: &str,
    o: &SnapshotOpts,
    snaps: &SnapDir,
    value: &str,
    r: &mut SnapshotResult,
) -> Result<()> {
    let image = snaps.path.join(format!("{name}-fork"));
    std::fs::create_dir_all(&image)?;
    let out = async {
        c.checkpoint(src, &image).await?;
        r.fork_snapshot_bytes = snapshot::disk_bytes(&image);
        let mut clones: Vec<CommandBox> = Vec::new();
        let forked = async {
            let mut lat = Vec::new();
            for i in 0..o.forks {
                let t = Instant::now();
                let h = c.restore_clone(&format!("{name}-fork{i}"), &image).await?;
                lat.push(t.elapsed().as_secs_f64());
                clones.push(h);
            }
            for (i, h) in clones.iter_mut().enumerate() {
                read_state(c, h, STATE_OCI, value, &format!("fork {i}")).await?;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, anyhow::Error>(lat)
        }
        .await;
        record_forks(c, clones, forked, r).await?;
        r.state_verified += o.forks as usize;
        Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&image);
    out
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
    fn modes_rotate_which_goes_first() {
        use SnapshotMode::*;
        assert_eq!(mode_order(0, &[Live, Full]), [Live, Full]);
        assert_eq!(mode_order(1, &[Live, Full]), [Full, Live]);
        let three = [Live, Full, Background];
        assert_eq!(mode_order(1, &three), [Full, Background, Live]);
        assert_eq!(mode_order(2, &three), [Background, Live, Full]);
        assert_eq!(mode_order(3, &three), three);
        assert!(mode_order(5, &[]).is_empty());
    }

    #[test]
    fn gap_series_keeps_the_largest_gap_per_bucket() {
        let ts = [0.0, 0.001, 0.002, 0.004, 0.3, 0.301, 0.311];
        let g = gap_series(&ts, 0.005);
        // 0.001, 0.002, 0.004 share bucket 0: the widest (0.002) stays.
        assert_eq!(g.len(), 3);
        assert!((g[0][0] - 0.004).abs() < 1e-12 && (g[0][1] - 0.002).abs() < 1e-12);
        assert!((g[1][0] - 0.3).abs() < 1e-12 && (g[1][1] - 0.296).abs() < 1e-9);
        // 0.3 and 0.301 share a bucket: the 0.296 gap stays; 0.311 is alone.
        assert!((g[2][0] - 0.311).abs() < 1e-12 && (g[2][1] - 0.01).abs() < 1e-9);
        assert!(gap_series(&[1.0], 0.005).is_empty());
        // Negative instants (before the snapshot) bucket too.
        assert_eq!(gap_series(&[-0.2, -0.199, 0.5], 0.005).len(), 2);
    }

    #[test]
    fn ticks_are_placed_on_the_host_timeline_by_the_first() {
        assert_eq!(place(&[10.0, 10.5, 11.0], -0.15), vec![-0.15, 0.35, 0.85]);
        assert!(place(&[], 1.0).is_empty());
    }

    #[test]
    fn criu_runtimes_are_recognised() {
        assert!(is_criu_runtime("runc"));
        assert!(is_criu_runtime("/usr/sbin/runc (runc version 1.1.5)"));
        assert!(is_criu_runtime("crun"));
        assert!(!is_criu_runtime("runsc"));
    }
}
