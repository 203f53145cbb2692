//! Sandbox runtimes as box profiles: turning a profile into a backend
//! (with its SKIP reasons: a missing binary, a missing qemu), the one-box
//! probe that decides works / fails-with-the-reason, registering the OCI
//! runtimes with the engine (setup), and doctor's list.

use super::any::AnyBackend;
use super::command::CommandBackend;
use super::container::ContainerBackend;
use super::profile::{self, BackendSpec, BoxProfile, HostPidsSpec};
use super::qemu::{find_qemu, qemu_version, QemuBackend};
use super::{accel, guest, Accel, BackendKind, BoxBackend, BoxSpec};
use crate::engine::Engine;
use crate::results::boxes::BoxEnv;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What a profile became before measuring (one per profile, short-lived:
/// its size does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Prepared {
    Ready(AnyBackend, BoxEnv),
    /// Not measurable here for a reason outside the runtime (binary or qemu
    /// missing): SKIP, exit 0.
    Skip(String),
}

/// What preparing needs from the command line.
pub struct Ctx<'a> {
    pub root: &'a Path,
    pub run_id: &'a str,
    pub engine: Option<&'a Engine>,
    pub spec: BoxSpec,
    pub boot_timeout: Duration,
    pub probe_timeout: Duration,
}

fn env(kind: BackendKind, spec: BoxSpec, p: &BoxProfile) -> BoxEnv {
    BoxEnv {
        backend: kind,
        spec,
        accel: None,
        accel_probe: None,
        transport: None,
        qemu_version: None,
        kernel_version: None,
        kernel_format: None,
        image: None,
        profile: Some(p.name.clone()),
        runtime: None,
        counted: None,
        failed: None,
    }
}

/// A binary by name on PATH, or an absolute path that exists.
pub fn which(bin: &str) -> Option<PathBuf> {
    if bin.contains('/') {
        return Path::new(bin).is_file().then(|| PathBuf::from(bin));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// `<binary> --version`, first line.
pub fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// The engine's runtimes (`docker info` → Runtimes): name → path.
pub fn engine_runtimes() -> Result<Vec<(String, String)>> {
    let out = Command::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output()
        .context("docker info")?;
    if !out.status.success() {
        anyhow::bail!(
            "docker info: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("parse docker info Runtimes")?;
    Ok(v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v["path"].as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default())
}

/// The checks of `prepare` that need no side effect, run before the run
/// frame opens: a runtime the engine does not know, a missing image or
/// guest is bad input (exit 2) with nothing left behind.
pub async fn check(p: &BoxProfile, engine: Option<&Engine>) -> Result<()> {
    match &p.backend {
        BackendSpec::Engine(e) => {
            let Some(engine) = engine else { return Ok(()) };
            let known = engine_runtimes()?;
            if !known.iter().any(|(n, _)| *n == e.runtime) {
                return Err(unknown_runtime(p, &e.runtime, &known));
            }
            if engine.image_id(&e.image).await.is_none() {
                return Err(crate::error::BadInput(format!(
                    "image {} is not built; run `cargo xtask setup`",
                    e.image
                ))
                .into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn unknown_runtime(p: &BoxProfile, runtime: &str, known: &[(String, String)]) -> anyhow::Error {
    crate::error::BadInput(format!(
        "{}: backend.engine.runtime `{runtime}` is not a runtime of the engine (it has {}); register it in /etc/docker/daemon.json `runtimes` (`cargo xtask setup` does for runsc and crun)",
        p.path.display(),
        known.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
    ))
    .into()
}

/// Checks before side effects, then the backend. Bad input (a runtime the
/// engine does not know) is an error; a missing binary is a SKIP.
pub async fn prepare(p: &BoxProfile, cx: &Ctx<'_>) -> Result<Prepared> {
    match &p.backend {
        BackendSpec::Engine(e) => {
            let Some(engine) = cx.engine else {
                return Ok(Prepared::Skip(format!(
                    "{} SKIPPED: no Docker engine answers (`cargo xtask setup` starts one)",
                    p.name
                )));
            };
            let known = engine_runtimes()?;
            let Some((_, path)) = known.iter().find(|(n, _)| *n == e.runtime) else {
                return Err(unknown_runtime(p, &e.runtime, &known));
            };
            if which(path).is_none() {
                return Ok(Prepared::Skip(format!(
                    "{} SKIPPED: the engine's runtime `{}` points at {path}, which is not installed (`cargo xtask setup` installs it)",
                    p.name, e.runtime
                )));
            }
            if engine.image_id(&e.image).await.is_none() {
                return Err(crate::error::BadInput(format!(
                    "image {} is not built; run `cargo xtask setup`",
                    e.image
                ))
                .into());
            }
            let mut env = env(BackendKind::Container, cx.spec, p);
            env.image = Some(e.image.clone());
            env.runtime = Some(format!(
                "{} ({})",
                e.runtime,
                which(path).map(|b| version(&b)).unwrap_or_default()
            ));
            env.counted = Some(
                "the container's containerd shim and every process under it (the container's processes; for gVisor also its sandbox and gofer)"
                    .into(),
            );
            Ok(Prepared::Ready(
                AnyBackend::Engine(ContainerBackend {
                    engine: engine.clone(),
                    run_id: cx.run_id.to_string(),
                    image: e.image.clone(),
                    memory_mib: cx.spec.memory_mib,
                    runtime: Some(e.runtime.clone()),
                    disk_bps: e.disk_bps,
                    host_network: false,
                }),
                env,
            ))
        }
        BackendSpec::Qemu(q) => {
            let Some(qemu) = find_qemu() else {
                return Ok(Prepared::Skip(format!(
                    "{} SKIPPED: {} is not on PATH (Debian package qemu-system-x86; `cargo xtask setup` installs it)",
                    p.name,
                    super::qemu::QEMU
                )));
            };
            let g = guest::GuestImage::locate(cx.root)?;
            g.check()?;
            if q.transport == super::Transport::Virtio && !g.virtio {
                return Err(crate::error::BadInput(format!(
                    "{}: transport virtio, but the guest initramfs has no virtio modules; rerun `cargo xtask setup` or use `transport: serial`",
                    p.path.display()
                ))
                .into());
            }
            let mut b = QemuBackend {
                root: cx.root.to_path_buf(),
                run_id: cx.run_id.to_string(),
                qemu: qemu.clone(),
                guest: g.clone(),
                accel: Accel::Tcg,
                transport: q.transport,
                spec: cx.spec,
                boot_timeout: cx.boot_timeout,
                exec_timeout: Duration::from_secs(120),
                disk_mib: None,
                disk_bps: q.disk_bps,
                nic: false,
            };
            let probe = accel::resolve(&b, q.accel, cx.probe_timeout).await?;
            b.accel = probe.accel;
            let mut env = env(BackendKind::Qemu, cx.spec, p);
            env.accel = Some(probe.accel);
            env.accel_probe = Some(probe);
            env.transport = Some(q.transport);
            env.qemu_version = Some(qemu_version(&qemu)?);
            env.kernel_version = Some(g.kernel_version.clone());
            env.kernel_format = Some(g.kernel_format.clone());
            env.runtime = env.qemu_version.clone();
            env.counted = Some("the VMM process (qemu-system-x86_64)".into());
            Ok(Prepared::Ready(AnyBackend::Qemu(b), env))
        }
        BackendSpec::Command(c) => {
            let Some(bin) = which(&c.binary) else {
                return Ok(Prepared::Skip(format!(
                    "{} SKIPPED: the runtime binary `{}` is not installed (not on PATH)",
                    p.name, c.binary
                )));
            };
            let rootfs = match &c.bundle {
                Some(b) => Some(super::bundle::rootfs(cx.root, cx.run_id, &b.image)?),
                None => None,
            };
            let mut env = env(BackendKind::Command, cx.spec, p);
            env.image = c.bundle.as_ref().map(|b| b.image.clone());
            env.runtime = Some(format!("{} ({})", bin.display(), version(&bin)));
            env.counted = Some(match &c.host_pids {
                HostPidsSpec::Cgroup(t) => format!(
                    "every process in the box's cgroup (`{t}`): the container's processes; for gVisor its sandbox and gofer"
                ),
                HostPidsSpec::PidFile(t) => {
                    format!("the process in the pid file `{t}` and its descendants")
                }
                HostPidsSpec::Command(t) => format!("the pids printed by {t:?}"),
            });
            Ok(Prepared::Ready(
                AnyBackend::Command(CommandBackend {
                    root: cx.root.to_path_buf(),
                    run_id: cx.run_id.to_string(),
                    profile: p.name.clone(),
                    spec: (**c).clone(),
                    rootfs,
                    memory_mib: cx.spec.memory_mib,
                    host_network: false,
                }),
                env,
            ))
        }
    }
}

/// One box: create, start, `true`, stop, remove. Err = the runtime fails
/// here, with its reason (the box is removed either way).
pub async fn probe(b: &AnyBackend, name: &str) -> Result<()> {
    let mut h = b.create(name).await?;
    let r = async {
        b.start(&mut h).await?;
        crate::lanes::boxes::timed_exec(b, &mut h, &crate::lanes::boxes::trivial())
            .await
            .map(|_| ())
    }
    .await;
    let down = crate::lanes::boxes::teardown(b, h).await;
    r?;
    down.map(|_| ())
}

/// The engine runtimes setup registers: name, binary, runtime arguments.
/// runsc needs `--network=host`: under this engine it otherwise refuses
/// with "cannot run with network enabled in root network namespace".
pub const ENGINE_RUNTIMES: &[(&str, &str, &[&str])] = &[
    ("runsc", "/usr/bin/runsc", &["--network=host"]),
    ("crun", "/usr/bin/crun", &[]),
];

/// daemon.json with the runtimes added. Pure; None when nothing changes.
pub fn with_runtimes(current: &Value) -> Option<Value> {
    let mut v = if current.is_object() {
        current.clone()
    } else {
        json!({})
    };
    if !v["runtimes"].is_object() {
        v["runtimes"] = json!({});
    }
    for (name, path, args) in ENGINE_RUNTIMES {
        let mut want = json!({ "path": path });
        if !args.is_empty() {
            want["runtimeArgs"] = json!(args);
        }
        v["runtimes"][*name] = want;
    }
    (v != *current).then_some(v)
}

/// Registers runsc and crun with the engine (idempotent): rewrites
/// daemon.json only when it changes, then SIGHUPs dockerd (its pid file),
/// which reloads its runtimes and keeps running containers.
pub fn register_with_engine(daemon_json: &Path, pid_file: &Path) -> Result<String> {
    let current: Value = match std::fs::read_to_string(daemon_json) {
        Ok(t) if !t.trim().is_empty() => {
            serde_json::from_str(&t).with_context(|| format!("parse {}", daemon_json.display()))?
        }
        _ => json!({}),
    };
    let Some(next) = with_runtimes(&current) else {
        return Ok(format!(
            "engine runtimes runsc, crun already registered in {}",
            daemon_json.display()
        ));
    };
    if let Some(d) = daemon_json.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
    }
    crate::fs::write_atomic(daemon_json, serde_json::to_string_pretty(&next)?.as_bytes())?;
    let pid: i32 = std::fs::read_to_string(pid_file)
        .with_context(|| format!("read {}", pid_file.display()))?
        .trim()
        .parse()
        .with_context(|| format!("parse {}", pid_file.display()))?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .with_context(|| format!("SIGHUP dockerd (pid {pid})"))?;
    // The reload is asynchronous: wait until the engine lists them.
    for _ in 0..50 {
        if let Ok(rt) = engine_runtimes() {
            if ENGINE_RUNTIMES
                .iter()
                .all(|(n, _, _)| rt.iter().any(|(k, _)| k == n))
            {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(format!(
        "registered engine runtimes runsc (--network=host), crun in {}; dockerd reloaded (SIGHUP)",
        daemon_json.display()
    ))
}

/// Doctor: every shipped box profile with a one-box probe: (ok, what, detail).
pub async fn doctor(root: &Path, engine: Option<&Engine>) -> Vec<(bool, String, String)> {
    let run_id = format!("doctor-{}", std::process::id());
    let cx = Ctx {
        root,
        run_id: &run_id,
        engine,
        spec: BoxSpec::default(),
        boot_timeout: Duration::from_secs(60),
        probe_timeout: Duration::from_secs(20),
    };
    let mut out = Vec::new();
    for name in profile::list_names(root) {
        let what = format!("runtime: {name}");
        let p = match profile::resolve(root, &name) {
            Ok(p) => p,
            Err(e) => {
                out.push((false, what, format!("{e:#}")));
                continue;
            }
        };
        let line = match prepare(&p, &cx).await {
            Ok(Prepared::Skip(r)) => (false, r),
            Ok(Prepared::Ready(b, env)) => match probe(&b, &format!("{name}-probe")).await {
                Ok(()) => (true, format!("works: {}", env.runtime.unwrap_or_default())),
                Err(e) => (false, format!("fails: {}", first_cause(&e))),
            },
            Err(e) => (false, format!("fails: {}", first_cause(&e))),
        };
        out.push((line.0, what, line.1));
    }
    // Whatever a probe left (a timeout's orphan) goes with the probe's run.
    super::track::reap(root, Some(&run_id));
    let _ = crate::engine::cleanup::reap_blocking(Some(&run_id));
    out
}

/// The error's innermost cause: the runtime's own words.
pub fn first_cause(e: &anyhow::Error) -> String {
    e.chain()
        .last()
        .map(|c| c.to_string())
        .unwrap_or_else(|| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_is_idempotent_and_keeps_other_settings() {
        let cur = json!({"log-level": "warn", "runtimes": {"mine": {"path": "/x"}}});
        let next = with_runtimes(&cur).expect("changes");
        assert_eq!(next["log-level"], "warn");
        assert_eq!(next["runtimes"]["mine"]["path"], "/x");
        assert_eq!(
            next["runtimes"]["runsc"]["runtimeArgs"],
            json!(["--network=host"])
        );
        assert_eq!(next["runtimes"]["crun"]["path"], "/usr/bin/crun");
        assert!(with_runtimes(&next).is_none(), "second run changes nothing");
        assert!(with_runtimes(&json!(null)).is_some());
    }
}
