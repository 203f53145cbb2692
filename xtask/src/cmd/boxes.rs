//! `cargo xtask box lifecycle|exec|density|churn`: the checks of a box
//! lane's arguments before any side effect (a bad level list or a missing
//! kernel leaves nothing behind; qemu missing is a SKIP with its reason,
//! exit 0), then the lane inside the run frame (`frame.rs`): every box is
//! stopped on success, error, SIGINT/SIGTERM (the lane future is dropped,
//! each box's guard kills its VMM or removes its container, then the run's
//! pid files and labels are reaped) and panic (guards unwind).

use crate::boxes::accel::{self, AccelProbe};
use crate::boxes::container::{ContainerBackend, IMAGE};
use crate::boxes::guest::GuestImage;
use crate::boxes::qemu::{find_qemu, qemu_version, QemuBackend};
use crate::boxes::{track, Accel, BackendKind, BoxBackend, BoxSpec};
use crate::cli::{BoxArgs, BoxCmd};
use crate::engine::{ComposeCli, Engine, EngineInfo};
use crate::error::{bad_input, BadInput, ExitCode};
use crate::events::{Event, Events, Reporter};
use crate::frame::{Head, Recorded, Uses};
use crate::lanes::boxes::{
    burst, churn, density, exec, lifecycle, resource, stability, teardown, throughput,
};
use crate::probe::fingerprint;
use crate::results::boxes::{BoxEnv, BoxFinding, BoxLane};
use crate::results::{Finding, LaneKind, LaneRecord, ProfileRef, RunStatus, Settings};
use crate::runner::Common;
use anyhow::Result;
use runcost_stats::LeakVerdict;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

enum Job {
    Lifecycle {
        repeats: u32,
    },
    Exec(exec::ExecOpts),
    Density(density::DensityOpts),
    Churn {
        cycles: u32,
    },
    Snapshot(crate::lanes::boxes::snapshot::SnapshotOpts),
    Stability(stability::StabilityOpts),
    Burst(burst::BurstOpts),
    Resource(resource::ResourceOpts),
    Throughput {
        opts: throughput::ThroughputOpts,
        disk_mib: u32,
    },
}

impl Job {
    fn lane(&self) -> (LaneKind, BoxLane) {
        match self {
            Job::Lifecycle { .. } => (LaneKind::BoxLifecycle, BoxLane::Lifecycle),
            Job::Exec(_) => (LaneKind::BoxExec, BoxLane::Exec),
            Job::Density(_) => (LaneKind::BoxDensity, BoxLane::Density),
            Job::Churn { .. } => (LaneKind::BoxChurn, BoxLane::Churn),
            Job::Snapshot(_) => (LaneKind::BoxSnapshot, BoxLane::Snapshot),
            Job::Stability(_) => (LaneKind::BoxStability, BoxLane::Stability),
            Job::Burst(_) => (LaneKind::BoxBurst, BoxLane::Burst),
            Job::Resource(_) => (LaneKind::BoxResource, BoxLane::Resource),
            Job::Throughput { .. } => (LaneKind::BoxThroughput, BoxLane::Throughput),
        }
    }
}

/// `--levels` as numbers: each ≥ 1, strictly increasing, starting at 1
/// (the breakpoint is relative to one box alone).
pub fn parse_levels(raw: &[String]) -> Result<Vec<u32>> {
    let mut levels = Vec::new();
    for r in raw {
        let r = r.trim();
        match r.parse::<u32>() {
            Ok(n) if n >= 1 => levels.push(n),
            _ => bad_input!(
                "--levels: `{r}` is not a positive whole number of boxes (e.g. --levels 1,2,4,8)"
            ),
        }
    }
    if levels.is_empty() {
        bad_input!("--levels: give at least one level, e.g. --levels 1,2,4,8");
    }
    if let Some(w) = levels.windows(2).find(|w| w[1] <= w[0]) {
        bad_input!(
            "--levels {}: levels must be strictly increasing ({} is followed by {}); e.g. --levels 1,2,4,8",
            raw.join(","),
            w[0],
            w[1]
        );
    }
    if levels[0] != 1 {
        bad_input!(
            "--levels {}: the first level must be 1, the single-box latency the breakpoint is measured against",
            raw.join(",")
        );
    }
    Ok(levels)
}

/// A LEAK of the churn lane or of the stability soak: exit 1, like every
/// leak verdict.
fn leaks(f: &BoxFinding) -> bool {
    let soak = f
        .stability
        .as_ref()
        .and_then(|s| s.soak.as_ref()?.verdict());
    f.churn.as_ref().map(|c| c.verdict) == Some(LeakVerdict::Leak)
        || soak == Some(LeakVerdict::Leak)
}

/// `box stability`'s counts: each names its flag and a fix.
pub fn stability_opts(
    execs: u32,
    parallel: u32,
    parallel_rounds: u32,
    restarts: u32,
    soak: Duration,
    soak_plant_leak_kib: u32,
) -> Result<stability::StabilityOpts> {
    let min = runcost_stats::DRIFT_MIN_POINTS as u32;
    if !(min..=1_000_000).contains(&execs) {
        bad_input!("--execs {execs}: give {min} to 1000000 (the drift test needs at least {min} execs), e.g. --execs 500");
    }
    if !(1..=256).contains(&parallel) {
        bad_input!("--parallel {parallel}: give 1 to 256 execs at once, e.g. --parallel 20");
    }
    if !(1..=10_000).contains(&parallel_rounds) {
        bad_input!(
            "--parallel-rounds {parallel_rounds}: give 1 to 10000, e.g. --parallel-rounds 5"
        );
    }
    if !(1..=10_000).contains(&restarts) {
        bad_input!("--restarts {restarts}: give 1 to 10000, e.g. --restarts 20");
    }
    let min_soak = crate::lanes::boxes::soak::min_soak();
    if !soak.is_zero() && !(min_soak..=Duration::from_secs(6 * 3600)).contains(&soak) {
        bad_input!(
            "--soak {soak:?}: give 0s (no soak) or {}s to 6h (the leak test needs readings after the warm-up), e.g. --soak 2m",
            min_soak.as_secs()
        );
    }
    if soak_plant_leak_kib > 0 && soak.is_zero() {
        bad_input!("--soak-plant-leak-kib {soak_plant_leak_kib}: a planted leak needs a soak; give e.g. --soak 30s");
    }
    if soak_plant_leak_kib > 65536 {
        bad_input!(
            "--soak-plant-leak-kib {soak_plant_leak_kib}: give at most 65536 KiB/s, e.g. --soak-plant-leak-kib 256"
        );
    }
    Ok(stability::StabilityOpts {
        execs,
        parallel,
        parallel_rounds,
        restarts,
        soak: crate::lanes::boxes::soak::SoakOpts {
            duration: soak,
            planted_leak: (soak_plant_leak_kib > 0).then(|| u64::from(soak_plant_leak_kib) << 10),
        },
    })
}

/// `box throughput`'s sizes: each names its flag and a fix. A qemu box's
/// copy and dd share its scratch disk, so the size must fit in it (a
/// container's free space is checked in the box, before measuring).
pub fn throughput_opts(
    size_mib: u32,
    repeats: u32,
    disk_mib: u32,
    on_qemu: bool,
) -> Result<throughput::ThroughputOpts> {
    if !(1..=4096).contains(&size_mib) {
        bad_input!("--size-mib {size_mib}: give 1 to 4096 MiB, e.g. --size-mib 64");
    }
    if !(1..=65536).contains(&disk_mib) {
        bad_input!("--disk-mib {disk_mib}: give 1 to 65536 MiB, e.g. --disk-mib 256");
    }
    if on_qemu && size_mib > disk_mib {
        bad_input!(
            "--size-mib {size_mib}: larger than the VM's scratch disk (--disk-mib {disk_mib}); give --size-mib at most {disk_mib} or a larger --disk-mib"
        );
    }
    Ok(throughput::ThroughputOpts {
        size_mib,
        repeats,
        disk_limit_bps: None,
    })
}

/// The least RAM a pressure VM gets: the guest kernel, its initramfs
/// (unpacked into RAM) and the agent keep 83–89 MiB of it (measured under
/// TCG: MemAvailable 13 of 96, 106 of 192, 167 of 256 MiB), so the 50 %
/// step fits only from about 192 MiB; 224 leaves a margin of ~25 MiB.
pub const QEMU_PRESSURE_MIN_MIB: u32 = 224;

/// `box resource`'s idle boxes and pressure limit: each names its flag
/// and a fix. The N idle boxes must fit like a burst; the pressure box's
/// limit (the most it can take from the host) in half of MemAvailable; a
/// VM's limit is its RAM, which its own kernel needs part of.
pub fn resource_counts(
    idle_boxes: u32,
    pressure_mib: u32,
    memory_mib: u32,
    on_qemu: bool,
) -> Result<()> {
    if idle_boxes > 64 {
        bad_input!("--idle-boxes {idle_boxes}: give 0 (skip) to 64 boxes, e.g. --idle-boxes 4");
    }
    let avail = crate::probe::system::mem_available()?;
    let need = (u64::from(idle_boxes) * u64::from(memory_mib)) << 20;
    if need as f64 > 0.8 * avail as f64 {
        bad_input!(
            "--idle-boxes {idle_boxes}: {idle_boxes} boxes of {memory_mib} MiB need {} MiB, more than 80 % of the {} MiB available; lower --idle-boxes or --memory-mib",
            need >> 20,
            avail >> 20
        );
    }
    if pressure_mib == 0 {
        return Ok(());
    }
    if pressure_mib < 16 {
        bad_input!(
            "--pressure-mib {pressure_mib}: give 0 (skip) or at least 16 MiB (the box's own processes need a few), e.g. --pressure-mib 256"
        );
    }
    if (u64::from(pressure_mib) << 20) as f64 > 0.5 * avail as f64 {
        bad_input!(
            "--pressure-mib {pressure_mib}: more than half of the {} MiB the host has available; give at most {} MiB, e.g. --pressure-mib 256",
            avail >> 20,
            (avail >> 20) / 2
        );
    }
    if on_qemu && pressure_mib < QEMU_PRESSURE_MIN_MIB {
        bad_input!(
            "--pressure-mib {pressure_mib}: a VM's limit is its RAM, and below {QEMU_PRESSURE_MIN_MIB} MiB the guest kernel and agent leave too little for the 50 % step; give at least {QEMU_PRESSURE_MIN_MIB}, e.g. --pressure-mib {QEMU_PRESSURE_MIN_MIB}"
        );
    }
    Ok(())
}

/// `box burst`'s counts; the burst must fit in memory like a density level.
pub fn burst_opts(boxes: u32, singles: u32, memory_mib: u32) -> Result<burst::BurstOpts> {
    if !(2..=256).contains(&boxes) {
        bad_input!("--boxes {boxes}: a burst is 2 to 256 boxes at once, e.g. --boxes 10");
    }
    if !(1..=1000).contains(&singles) {
        bad_input!("--singles {singles}: give 1 to 1000 single-box cold starts, e.g. --singles 3");
    }
    let need = (u64::from(boxes) * u64::from(memory_mib)) << 20;
    let avail = crate::probe::system::mem_available()?;
    if need as f64 > 0.8 * avail as f64 {
        bad_input!(
            "--boxes {boxes}: {boxes} boxes of {memory_mib} MiB need {} MiB, more than 80 % of the {} MiB available; lower --boxes or --memory-mib",
            need >> 20,
            avail >> 20
        );
    }
    Ok(burst::BurstOpts { boxes, singles })
}

/// The host fingerprint's engine part for a run without an engine (qemu).
fn no_engine() -> EngineInfo {
    EngineInfo {
        server_version: "none".into(),
        api_version: "none".into(),
        kernel: String::new(),
        os: String::new(),
        cgroup_version: String::new(),
        cgroup_driver: String::new(),
        storage_driver: String::new(),
        ncpu: 0,
        mem_total: 0,
        kind: crate::results::EngineKind::Docker,
        hostname: String::new(),
    }
}

/// The throughput lane's scratch disk is virtio-blk over virtio-mmio: the
/// microvm machine, and a guest carrying the virtio_blk module.
fn scratch_disk_possible(t: crate::boxes::Transport, g: &GuestImage) -> Result<()> {
    if t != crate::boxes::Transport::Virtio {
        bad_input!("box throughput on qemu needs --transport virtio (the scratch disk is virtio-blk on the microvm machine)");
    }
    if !g.blk {
        bad_input!(
            "box throughput: the guest initramfs {} has no virtio_blk module for the scratch disk; rerun `cargo xtask setup`",
            g.initramfs.display()
        );
    }
    Ok(())
}

/// The guest: flags override what setup built.
fn guest(root: &Path, a: &BoxArgs) -> Result<GuestImage> {
    let mut g = match (&a.kernel, &a.initramfs) {
        (Some(_), Some(_)) => GuestImage {
            kernel: Default::default(),
            initramfs: Default::default(),
            kernel_version: "custom".into(),
            kernel_format: "custom".into(),
            initramfs_bytes: 0,
            virtio: true,
            blk: true,
            // Not known to carry virtio_net: the TCP part is skipped.
            net: false,
        },
        _ => GuestImage::locate(root)?,
    };
    if let Some(k) = &a.kernel {
        g.kernel = k.clone();
        g.kernel_version = format!("custom ({})", k.display());
        g.kernel_format = "custom".into();
    }
    if let Some(i) = &a.initramfs {
        g.initramfs = i.clone();
        g.initramfs_bytes = std::fs::metadata(i).map(|m| m.len()).unwrap_or(0);
    }
    g.check()?;
    Ok(g)
}

enum Plan {
    Skip(String),
    Qemu {
        qemu: std::path::PathBuf,
        version: String,
        guest: GuestImage,
    },
    Container,
}

pub async fn run(common: &Common, what: BoxCmd) -> Result<ExitCode> {
    let mut lane_args = BTreeMap::new();
    let (a, job) = match what {
        BoxCmd::Lifecycle { common, repeats } => {
            lane_args.insert("repeats".into(), repeats.to_string());
            (common, Job::Lifecycle { repeats })
        }
        BoxCmd::Exec {
            common,
            samples,
            large_samples,
            large_bytes,
            warmup,
        } => {
            if large_bytes == 0 || large_bytes > 64 << 20 {
                bad_input!("--large-bytes {large_bytes}: give 1 byte to 64 MiB (67108864)");
            }
            lane_args.insert("samples".into(), samples.to_string());
            lane_args.insert("large_samples".into(), large_samples.to_string());
            lane_args.insert("large_bytes".into(), large_bytes.to_string());
            (
                common,
                Job::Exec(exec::ExecOpts {
                    samples,
                    warmup,
                    large_samples,
                    large_bytes,
                }),
            )
        }
        BoxCmd::Density {
            common,
            levels,
            samples,
        } => {
            let levels = parse_levels(&levels)?;
            let top = u64::from(*levels.last().unwrap_or(&1));
            let need = (top * u64::from(common.memory_mib)) << 20;
            let avail = crate::probe::system::mem_available()?;
            if need as f64 > 0.8 * avail as f64 {
                bad_input!(
                    "--levels: {top} boxes of {} MiB need {} MiB, more than 80 % of the {} MiB available; lower the top level or --memory-mib",
                    common.memory_mib,
                    need >> 20,
                    avail >> 20
                );
            }
            lane_args.insert(
                "levels".into(),
                levels
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            );
            lane_args.insert("samples".into(), samples.to_string());
            (
                common,
                Job::Density(density::DensityOpts { levels, samples }),
            )
        }
        BoxCmd::Churn { common, cycles } => {
            if cycles < 10 {
                bad_input!("--cycles {cycles}: the slope test needs at least 10 cycles");
            }
            lane_args.insert("cycles".into(), cycles.to_string());
            (common, Job::Churn { cycles })
        }
        BoxCmd::Snapshot {
            mut common,
            iterations,
            forks,
            hold_mib,
            tick_us,
        } => {
            // Snapshots need each runtime's own commands: through profiles
            // only; without --profile, runcost's qemu microVM.
            if common.profile.is_empty() {
                common.profile = vec!["qemu".into()];
            }
            if u64::from(hold_mib) + 64 > u64::from(common.memory_mib) {
                bad_input!(
                    "--hold-mib {hold_mib}: leave at least 64 MiB of the {} MiB box for its kernel and agent; lower --hold-mib or raise --memory-mib",
                    common.memory_mib
                );
            }
            let boxes = 2 + u64::from(forks);
            let need = (boxes * u64::from(common.memory_mib)) << 20;
            let avail = crate::probe::system::mem_available()?;
            if need as f64 > 0.8 * avail as f64 {
                bad_input!(
                    "--forks {forks}: {boxes} boxes of {} MiB need {} MiB, more than 80 % of the {} MiB available; lower --forks or --memory-mib",
                    common.memory_mib,
                    need >> 20,
                    avail >> 20
                );
            }
            lane_args.insert("iterations".into(), iterations.to_string());
            lane_args.insert("forks".into(), forks.to_string());
            lane_args.insert("hold_mib".into(), hold_mib.to_string());
            lane_args.insert("tick_us".into(), tick_us.to_string());
            (
                common,
                Job::Snapshot(crate::lanes::boxes::snapshot::SnapshotOpts {
                    iterations,
                    forks,
                    held_mib: hold_mib,
                    tick_us,
                }),
            )
        }
        BoxCmd::Stability {
            common,
            execs,
            parallel,
            parallel_rounds,
            restarts,
            soak,
            soak_plant_leak_kib,
        } => {
            let o = stability_opts(
                execs,
                parallel,
                parallel_rounds,
                restarts,
                soak.0,
                soak_plant_leak_kib,
            )?;
            lane_args.insert("execs".into(), execs.to_string());
            lane_args.insert("parallel".into(), parallel.to_string());
            lane_args.insert("parallel_rounds".into(), parallel_rounds.to_string());
            lane_args.insert("restarts".into(), restarts.to_string());
            lane_args.insert("soak".into(), format!("{:?}", soak.0));
            if soak_plant_leak_kib > 0 {
                lane_args.insert(
                    "soak_plant_leak_kib".into(),
                    soak_plant_leak_kib.to_string(),
                );
            }
            (common, Job::Stability(o))
        }
        BoxCmd::Burst {
            common,
            boxes,
            singles,
        } => {
            let o = burst_opts(boxes, singles, common.memory_mib)?;
            lane_args.insert("boxes".into(), boxes.to_string());
            lane_args.insert("singles".into(), singles.to_string());
            (common, Job::Burst(o))
        }
        BoxCmd::Resource {
            common,
            settle,
            window,
            idle_boxes,
            pressure_mib,
        } => {
            if settle.0 > Duration::from_secs(3600) {
                bad_input!("--settle: give at most 1h, e.g. --settle 5s");
            }
            if window.0 < Duration::from_millis(500) || window.0 > Duration::from_secs(600) {
                bad_input!(
                    "--window: give 500ms to 10m (each CPU reading's length), e.g. --window 5s"
                );
            }
            // With --profile, the qemu profiles are checked where the
            // profiles are read.
            let on_qemu = common.profile.is_empty() && common.backend == BackendKind::Qemu;
            resource_counts(idle_boxes, pressure_mib, common.memory_mib, on_qemu)?;
            lane_args.insert("settle".into(), format!("{:?}", settle.0));
            lane_args.insert("window".into(), format!("{:?}", window.0));
            lane_args.insert("idle_boxes".into(), idle_boxes.to_string());
            lane_args.insert("pressure_mib".into(), pressure_mib.to_string());
            (
                common,
                Job::Resource(resource::ResourceOpts {
                    settle: settle.0,
                    window: window.0,
                    idle_boxes,
                    pressure_mib,
                }),
            )
        }
        BoxCmd::Throughput {
            common,
            size_mib,
            repeats,
            disk_mib,
        } => {
            // With --profile, the qemu profiles' disks are checked where
            // the profiles are read.
            let on_qemu = common.profile.is_empty() && common.backend == BackendKind::Qemu;
            let opts = throughput_opts(size_mib, repeats, disk_mib, on_qemu)?;
            lane_args.insert("size_mib".into(), size_mib.to_string());
            lane_args.insert("repeats".into(), repeats.to_string());
            lane_args.insert("disk_mib".into(), disk_mib.to_string());
            (common, Job::Throughput { opts, disk_mib })
        }
    };
    if a.boot_timeout.0 < Duration::from_secs(1) || a.probe_timeout.0 < Duration::from_secs(1) {
        bad_input!("--boot-timeout/--probe-timeout: give at least 1s");
    }
    if !a.profile.is_empty() {
        return run_profiles(common, a, job, lane_args).await;
    }
    if a.backend == BackendKind::Command {
        bad_input!("--backend command: name the runtime's box profile with --profile NAME (profiles/boxes/)");
    }
    lane_args.insert("backend".into(), a.backend.to_string());
    lane_args.insert("accel".into(), format!("{:?}", a.accel).to_lowercase());
    if a.backend == BackendKind::Qemu {
        lane_args.insert("transport".into(), a.transport.name().into());
    }
    lane_args.insert("memory_mib".into(), a.memory_mib.to_string());
    lane_args.insert("vcpus".into(), a.vcpus.to_string());
    let spec = BoxSpec {
        memory_mib: a.memory_mib,
        vcpus: a.vcpus,
    };
    let root = common.repo_root.clone();

    // Checks before side effects.
    let engine = Engine::connect().await;
    let plan = match a.backend {
        BackendKind::Command => unreachable!("refused above"),
        BackendKind::Qemu => match find_qemu() {
            None => Plan::Skip(format!(
                "qemu lane SKIPPED: {} is not on PATH (Debian package qemu-system-x86; `cargo xtask setup` installs it)",
                crate::boxes::qemu::QEMU
            )),
            Some(qemu) => {
                let version = qemu_version(&qemu)?;
                let guest = guest(&root, &a)?;
                if matches!(job, Job::Throughput { .. }) {
                    scratch_disk_possible(a.transport, &guest)?;
                }
                if a.transport == crate::boxes::Transport::Virtio && !guest.virtio {
                    bad_input!(
                        "--transport virtio: the guest initramfs {} has no virtio modules; rerun `cargo xtask setup` or use --transport serial",
                        guest.initramfs.display()
                    );
                }
                Plan::Qemu {
                    qemu,
                    version,
                    guest,
                }
            }
        },
        BackendKind::Container => {
            let e = engine.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            if e.image_id(IMAGE).await.is_none() {
                bad_input!("image {IMAGE} is not built; run `cargo xtask setup`");
            }
            Plan::Container
        }
    };

    // The frame: run dir, guard (tracked VMs and, for containers, the
    // run's labels), host load, event log, record `partial`.
    let reporter = Reporter::new(common.quiet || common.json);
    let (lane_kind, box_lane) = job.lane();
    let info = match &engine {
        Ok(e) => e.info.clone(),
        Err(_) => no_engine(),
    };
    let head = head(common, &root, &info, lane_kind, lane_args);
    let uses = match a.backend {
        BackendKind::Container | BackendKind::Command => Uses::Engine,
        BackendKind::Qemu => Uses::VmsOnly,
    };
    let frame = Recorded::open(&common.results, &root, uses, head, &reporter)?;
    let events = frame.events();
    let mut lane = LaneRecord::new(lane_kind);
    if let Plan::Skip(reason) = &plan {
        lane.skipped.push(reason.clone());
        let outcome = frame.finish(vec![lane], RunStatus::Complete, Some(reason.clone()))?;
        super::print_outcome(common, &outcome)?;
        return Ok(ExitCode::Ok);
    }

    // Measurement: the lane on the chosen backend.
    let run_id = frame.scope.run.id.clone();
    let measured = async {
        match &plan {
            Plan::Qemu {
                qemu,
                version,
                guest,
            } => {
                let mut b = QemuBackend {
                    root: root.clone(),
                    run_id: run_id.clone(),
                    qemu: qemu.clone(),
                    guest: guest.clone(),
                    accel: Accel::Tcg,
                    transport: a.transport,
                    spec,
                    boot_timeout: a.boot_timeout.0,
                    exec_timeout: Duration::from_secs(120),
                    disk_mib: None,
                    disk_bps: None,
                    nic: false,
                };
                events.emit(Event::Note("qemu: choosing the accelerator".into()));
                let probe: AccelProbe = accel::resolve(&b, a.accel, a.probe_timeout.0).await?;
                events.emit(Event::Note(format!(
                    "qemu: accel {} ({})",
                    probe.accel.qemu_name(),
                    probe.reason
                )));
                b.accel = probe.accel;
                if let Job::Throughput { disk_mib, .. } = &job {
                    b.disk_mib = Some(*disk_mib);
                    b.nic = true;
                }
                let env = BoxEnv {
                    backend: BackendKind::Qemu,
                    spec,
                    accel: Some(probe.accel),
                    accel_probe: Some(probe),
                    transport: Some(a.transport),
                    qemu_version: Some(version.clone()),
                    kernel_version: Some(guest.kernel_version.clone()),
                    kernel_format: Some(guest.kernel_format.clone()),
                    image: None,
                    profile: None,
                    runtime: None,
                    counted: None,
                    failed: None,
                };
                let left = async {
                    track::live(&root, Some(&run_id))
                        .map(|v| v.len())
                        .unwrap_or(0)
                };
                measure(&b, &job, box_lane, env, left, events).await
            }
            Plan::Container => {
                let engine = engine.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
                let b = ContainerBackend {
                    engine: engine.clone(),
                    run_id: run_id.clone(),
                    image: IMAGE.into(),
                    memory_mib: spec.memory_mib,
                    runtime: None,
                    disk_bps: None,
                    host_network: matches!(job, Job::Throughput { .. }),
                };
                let env = BoxEnv {
                    backend: BackendKind::Container,
                    spec,
                    accel: None,
                    accel_probe: None,
                    transport: None,
                    qemu_version: None,
                    kernel_version: None,
                    kernel_format: None,
                    image: Some(IMAGE.into()),
                    profile: None,
                    runtime: None,
                    counted: None,
                    failed: None,
                };
                let left = async {
                    engine
                        .count_labelled(Some(&run_id))
                        .await
                        .map(|c| c.0)
                        .unwrap_or(0)
                };
                measure(&b, &job, box_lane, env, left, events).await
            }
            Plan::Skip(_) => unreachable!("returned above"),
        }
    };
    let result = match frame.measure(measured).await {
        Ok(r) => r,
        // The lane future is dropped: every box's guard has killed its VMM
        // or removed its container; the frame reaps whatever a guard missed.
        Err(sig) => return Err(frame.interrupted(sig)),
    };

    // Verdict.
    match result {
        Err(e) => {
            lane.skipped.push(format!("failed: {e:#}"));
            let outcome = frame.finish(vec![lane], RunStatus::Failed, Some(format!("{e:#}")))?;
            Err(BadInput(format!(
                "box {lane_kind}: {e:#}\n(every box of the run was stopped; results kept in {})",
                outcome.run.root.display()
            ))
            .into())
        }
        Ok(finding) => {
            let leak = leaks(&finding);
            lane.findings.push(Finding::Box(Box::new(finding)));
            let outcome = frame.finish(vec![lane], RunStatus::Complete, None)?;
            super::print_outcome(common, &outcome)?;
            Ok(if leak { ExitCode::Gate } else { ExitCode::Ok })
        }
    }
}

/// `--profile a,b,c`: the lane on each runtime in one run (interleaved
/// where the lane allows, see `lanes::boxes::compare`), one finding per
/// runtime. A runtime whose one-box probe fails is recorded failing with
/// its reason; a missing binary is a SKIP; the same profile twice is exit 2.
async fn run_profiles(
    common: &Common,
    a: BoxArgs,
    job: Job,
    mut lane_args: BTreeMap<String, String>,
) -> Result<ExitCode> {
    use crate::boxes::profile;
    use crate::boxes::runtimes::{self, Prepared};
    use crate::lanes::boxes::compare::{self, Runtime};
    let root = common.repo_root.clone();
    let profiles = profile::resolve_list(&root, &a.profile)?;
    let names: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
    lane_args.insert("profiles".into(), names.join(","));
    lane_args.insert("memory_mib".into(), a.memory_mib.to_string());
    lane_args.insert("vcpus".into(), a.vcpus.to_string());
    let spec = BoxSpec {
        memory_mib: a.memory_mib,
        vcpus: a.vcpus,
    };
    let engine = Engine::connect().await.ok();
    // Checks before side effects: bad input here leaves nothing behind.
    for p in &profiles {
        runtimes::check(p, engine.as_ref()).await?;
        if let (Job::Throughput { opts, disk_mib }, profile::BackendSpec::Qemu(q)) =
            (&job, &p.backend)
        {
            throughput_opts(opts.size_mib, opts.repeats, *disk_mib, true)?;
            scratch_disk_possible(q.transport, &GuestImage::locate(&root)?)?;
        }
        if let (Job::Resource(o), profile::BackendSpec::Qemu(_)) = (&job, &p.backend) {
            resource_counts(o.idle_boxes, o.pressure_mib, a.memory_mib, true)?;
        }
    }

    let reporter = Reporter::new(common.quiet || common.json);
    let (lane_kind, box_lane) = job.lane();
    let info = engine
        .as_ref()
        .map(|e| e.info.clone())
        .unwrap_or_else(no_engine);
    let head = head(common, &root, &info, lane_kind, lane_args);
    let uses = if engine.is_some() {
        Uses::Engine
    } else {
        Uses::VmsOnly
    };
    let frame = Recorded::open(&common.results, &root, uses, head, &reporter)?;
    let events = frame.events();
    let run_id = frame.scope.run.id.clone();
    let measured = async {
        let cx = runtimes::Ctx {
            root: &root,
            run_id: &run_id,
            engine: engine.as_ref(),
            spec,
            boot_timeout: a.boot_timeout.0,
            probe_timeout: a.probe_timeout.0,
        };
        let mut skipped = Vec::new();
        let mut rts = Vec::new();
        for p in &profiles {
            match runtimes::prepare(p, &cx).await? {
                Prepared::Skip(why) => {
                    events.emit(Event::Note(why.clone()));
                    skipped.push(why)
                }
                Prepared::Ready(mut backend, mut env) => {
                    if let Job::Throughput { disk_mib, .. } = &job {
                        backend.with_scratch_disk(*disk_mib);
                        backend.with_loopback_network();
                    }
                    events.emit(Event::Note(format!("{}: {}", p.name, p.spec.description)));
                    // The one-box probe: works, or fails with the reason.
                    if let Err(e) = runtimes::probe(&backend, &format!("{}-probe", p.name)).await {
                        let why = runtimes::first_cause(&e);
                        events.emit(Event::Note(format!("{} fails: {why}", p.name)));
                        env.failed = Some(why);
                    }
                    rts.push(Runtime {
                        name: p.name.clone(),
                        backend,
                        env,
                    });
                }
            }
        }
        let mut findings: Vec<BoxFinding> = rts
            .iter()
            .map(|r| BoxFinding {
                lane: box_lane,
                env: r.env.clone(),
                lifecycle: None,
                exec: None,
                density: None,
                churn: None,
                snapshot: None,
                stability: None,
                burst: None,
                resource: None,
                throughput: None,
            })
            .collect();
        if !rts.is_empty() {
            compare::any_measured(&rts)?;
            match &job {
                Job::Lifecycle { repeats } => {
                    for (f, r) in findings
                        .iter_mut()
                        .zip(compare::lifecycle(&mut rts, *repeats, events).await)
                    {
                        f.lifecycle = r;
                    }
                }
                Job::Exec(o) => {
                    for (f, r) in findings
                        .iter_mut()
                        .zip(compare::exec(&mut rts, o, events).await)
                    {
                        f.exec = r;
                    }
                }
                Job::Density(o) => {
                    for (f, r) in findings
                        .iter_mut()
                        .zip(compare::density(&mut rts, o, events).await)
                    {
                        f.density = r;
                    }
                }
                Job::Churn { cycles } => {
                    let left = || async {
                        let vms = track::live(&root, Some(&run_id))
                            .map(|v| v.len())
                            .unwrap_or(0);
                        let cli = crate::boxes::command::live(&root, &run_id);
                        let ctrs = match engine.as_ref() {
                            Some(e) => e
                                .count_labelled(Some(&run_id))
                                .await
                                .map(|c| c.0)
                                .unwrap_or(0),
                            None => 0,
                        };
                        vms + cli + ctrs
                    };
                    for (f, r) in findings
                        .iter_mut()
                        .zip(compare::churn(&mut rts, *cycles, left, events).await)
                    {
                        f.churn = r;
                    }
                }
                Job::Snapshot(o) => {
                    for (f, r) in findings
                        .iter_mut()
                        .zip(compare::snapshot(&mut rts, o, &root, &run_id, events).await)
                    {
                        f.snapshot = r;
                    }
                }
                Job::Stability(o) => {
                    use crate::lanes::boxes::axes;
                    for (f, r) in findings
                        .iter_mut()
                        .zip(axes::stability(&mut rts, o, events).await)
                    {
                        f.stability = r;
                    }
                }
                Job::Resource(o) => {
                    use crate::lanes::boxes::axes;
                    for (f, r) in findings
                        .iter_mut()
                        .zip(axes::resource(&mut rts, o, events).await)
                    {
                        f.resource = r;
                    }
                }
                Job::Throughput { opts, .. } => {
                    use crate::lanes::boxes::axes;
                    for (f, r) in findings
                        .iter_mut()
                        .zip(axes::throughput(&mut rts, opts, events).await?)
                    {
                        f.throughput = r;
                    }
                }
                Job::Burst(o) => {
                    use crate::lanes::boxes::axes;
                    for (f, r) in findings
                        .iter_mut()
                        .zip(axes::burst(&mut rts, o, events).await)
                    {
                        f.burst = r;
                    }
                }
            }
            for (f, r) in findings.iter_mut().zip(&rts) {
                f.env.failed = r.env.failed.clone();
            }
        }
        anyhow::Ok((findings, skipped))
    };
    let result = match frame.measure(measured).await {
        Ok(r) => r,
        Err(sig) => return Err(frame.interrupted(sig)),
    };
    let mut lane = LaneRecord::new(lane_kind);
    match result {
        Err(e) => {
            lane.skipped.push(format!("failed: {e:#}"));
            let outcome = frame.finish(vec![lane], RunStatus::Failed, Some(format!("{e:#}")))?;
            Err(BadInput(format!(
                "box {lane_kind}: {e:#}\n(every box of the run was stopped; results kept in {})",
                outcome.run.root.display()
            ))
            .into())
        }
        Ok((findings, skipped)) => {
            let leak = findings.iter().any(leaks);
            for f in &findings {
                if let Some(why) = &f.env.failed {
                    lane.skipped.push(format!(
                        "{} FAILS here: {why}",
                        f.env.profile.as_deref().unwrap_or("?")
                    ));
                }
            }
            lane.skipped.extend(skipped);
            lane.skipped.extend(
                findings
                    .iter()
                    .filter_map(|f| f.snapshot.as_ref()?.skipped.clone()),
            );
            lane.findings
                .extend(findings.into_iter().map(|f| Finding::Box(Box::new(f))));
            let note = (!lane.skipped.is_empty()).then(|| lane.skipped.join("; "));
            let outcome = frame.finish(vec![lane], RunStatus::Complete, note)?;
            super::print_outcome(common, &outcome)?;
            Ok(if leak { ExitCode::Gate } else { ExitCode::Ok })
        }
    }
}

/// The run's head for a box lane (no service profile, no images).
fn head(
    common: &Common,
    root: &Path,
    info: &EngineInfo,
    lane: LaneKind,
    lane_args: BTreeMap<String, String>,
) -> Head {
    let compose = ComposeCli::detect().unwrap_or(ComposeCli {
        variant: crate::engine::compose::ComposeVariant::V1,
        version: "none".into(),
    });
    Head {
        tool: fingerprint::tool(root),
        host: fingerprint::host(info, &compose),
        profile: ProfileRef {
            name: "box".into(),
            path: "-".into(),
            sha256: String::new(),
        },
        settings: Settings {
            lane,
            repeats: 1,
            rate_hz: 0.0,
            sampler: crate::probe::SamplerMode::Host,
            window_s: 0.0,
            env: BTreeMap::new(),
            lane_args,
            command: common.argv.clone(),
        },
        seed: common.seed,
        images: BTreeMap::new(),
        engine: (info.server_version != "none")
            .then(|| crate::engine::endpoint::reach().record(info.kind)),
    }
}

async fn measure<B: BoxBackend>(
    b: &B,
    job: &Job,
    lane: BoxLane,
    env: BoxEnv,
    count_left: impl std::future::Future<Output = usize>,
    events: &dyn Events,
) -> Result<BoxFinding> {
    let mut f = BoxFinding {
        lane,
        env,
        lifecycle: None,
        exec: None,
        density: None,
        churn: None,
        snapshot: None,
        stability: None,
        burst: None,
        resource: None,
        throughput: None,
    };
    match job {
        Job::Lifecycle { repeats } => {
            f.lifecycle = Some(lifecycle::run(b, *repeats, events).await?)
        }
        Job::Exec(o) => f.exec = Some(exec::run(b, o, events).await?),
        Job::Density(o) => {
            let mut boxes = Vec::new();
            let r = density::run(b, o, &mut boxes, events).await;
            let mut down = Ok(());
            for h in boxes {
                if let Err(e) = teardown(b, h).await {
                    down = Err(e);
                }
            }
            f.density = Some(r?);
            down?;
        }
        Job::Churn { cycles } => f.churn = Some(churn::run(b, *cycles, count_left, events).await?),
        // `run` routes snapshots through profiles (the lane needs QMP or
        // the profile's checkpoint commands).
        Job::Snapshot(_) => anyhow::bail!("box snapshot runs through --profile"),
        Job::Stability(o) => f.stability = Some(stability::run(b, o, events).await?),
        Job::Burst(o) => f.burst = Some(burst::run(b, o, events).await?),
        Job::Resource(o) => f.resource = Some(resource::run(b, o, events).await?),
        Job::Throughput { opts, .. } => {
            f.throughput = Some(throughput::run(b, opts, events).await?)
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn levels_are_checked() {
        assert_eq!(
            parse_levels(&s(&["1", "2", "4", "8"])).unwrap(),
            vec![1, 2, 4, 8]
        );
        for bad in [
            &["1", "4", "2"][..],
            &["1", "1"],
            &["2", "4"],
            &["0", "1"],
            &["1", "x"],
            &[],
        ] {
            let e = parse_levels(&s(bad)).unwrap_err();
            assert!(e.downcast_ref::<BadInput>().is_some(), "{bad:?}: {e}");
            assert!(e.to_string().contains("--levels"), "{e}");
        }
    }
}
