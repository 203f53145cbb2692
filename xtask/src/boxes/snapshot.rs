//! Snapshots of boxes: where their files live (tracked, so a run's guard
//! and `clean` remove them with the run's VMs), qemu snapshots driven over
//! QMP (a migration to a file), and the CRIU capability check that decides
//! whether runc-style runtimes can checkpoint here.

use super::qmp::Qmp;
use crate::results::boxes::SnapshotMode;
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A directory of snapshot files under the run's tracked box directories
/// (`target/runcost-box/vms/<run>/snap-<label>/`): `track::reap` removes
/// every directory there, so `clean` and the run's guard take these with
/// the VMs. Removed when dropped.
pub struct SnapDir {
    pub path: PathBuf,
}

impl SnapDir {
    pub fn create(root: &Path, run_id: &str, label: &str) -> Result<SnapDir> {
        let path = super::track::box_dir(root, run_id, &format!("snap-{label}"));
        std::fs::create_dir_all(&path).with_context(|| format!("create {}", path.display()))?;
        Ok(SnapDir { path })
    }

    /// Files and directories still in it.
    pub fn entries(&self) -> usize {
        std::fs::read_dir(&self.path)
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for SnapDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Bytes under `p` (a file, or a directory's files recursively).
pub fn disk_bytes(p: &Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if m.is_dir() {
        std::fs::read_dir(p)
            .map(|d| d.flatten().map(|e| disk_bytes(&e.path())).sum())
            .unwrap_or(0)
    } else {
        m.len()
    }
}

/// What one qemu snapshot cost, as qemu and the caller saw it.
#[derive(Clone, Debug)]
pub struct QemuSnap {
    /// From the first command until the VM runs again.
    pub caller: Duration,
    /// Live: qemu's `downtime`; full: `stop` until `cont` returned.
    pub pause: Duration,
    /// qemu's `total-time` of the migration.
    pub total: Duration,
    pub bytes: u64,
}

/// Limits on one snapshot. The lane runs unthrottled and without a
/// deadline; a throttle and a deadline make a snapshot fail mid-way on
/// purpose (the fault test).
#[derive(Clone, Copy, Debug)]
pub struct SnapLimits {
    /// Bytes per second qemu may write (qemu 7.2's default is 32 MiB/s).
    pub max_bandwidth: u64,
    /// A migration still running after this is cancelled (`migrate_cancel`).
    pub deadline: Option<Duration>,
}

impl Default for SnapLimits {
    fn default() -> Self {
        SnapLimits {
            // Unthrottled: the figures are the cost of the snapshot, not of
            // qemu's default throttle.
            max_bandwidth: 1 << 40,
            deadline: None,
        }
    }
}

/// Takes a snapshot of a running VM into `file` by migrating it to
/// `exec:cat > file`. The VM runs again afterwards (a migration leaves the
/// source in `postmigrate`; `cont` resumes it). A migration that fails
/// removes the partial file, resumes the VM, and is an error.
pub async fn qemu_snapshot(q: &mut Qmp, file: &Path, mode: SnapshotMode) -> Result<QemuSnap> {
    qemu_snapshot_with(q, file, mode, SnapLimits::default()).await
}

/// [`qemu_snapshot`] under `limits`: past the deadline the migration is
/// cancelled, which is a failure like any other (partial file removed,
/// source resumed).
pub async fn qemu_snapshot_with(
    q: &mut Qmp,
    file: &Path,
    mode: SnapshotMode,
    limits: SnapLimits,
) -> Result<QemuSnap> {
    let uri = format!("exec:cat > {}", super::qemu::shell_safe(file)?);
    q.execute(
        "migrate-set-parameters",
        Some(json!({ "max-bandwidth": limits.max_bandwidth })),
    )
    .await?;
    let background = mode == SnapshotMode::Background;
    if background {
        set_background(q, true).await?;
    }
    let r = async {
        let t0 = Instant::now();
        if mode == SnapshotMode::Full {
            q.execute("stop", None).await?;
        }
        q.execute("migrate", Some(json!({ "uri": uri }))).await?;
        let mut cancelled = None;
        let info = loop {
            let v = q.execute("query-migrate", None).await?;
            match v["status"].as_str().unwrap_or("") {
                "completed" => break v,
                "cancelled" if cancelled.is_some() => bail!(
                    "snapshot to {} cancelled after {:?} (deadline) with {} bytes sent",
                    file.display(),
                    t0.elapsed(),
                    cancelled.unwrap_or(0)
                ),
                "failed" | "cancelled" => bail!(
                    "snapshot to {} failed: {}",
                    file.display(),
                    v["error-desc"].as_str().unwrap_or("qemu gave no reason")
                ),
                _ => {
                    if cancelled.is_none() && limits.deadline.is_some_and(|d| t0.elapsed() > d) {
                        cancelled = Some(v["ram"]["transferred"].as_u64().unwrap_or(0));
                        q.execute("migrate_cancel", None).await?;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
            }
        };
        q.execute("cont", None).await?;
        let caller = t0.elapsed();
        let ms = |k: &str| info[k].as_u64().map(Duration::from_millis);
        let total = ms("total-time").unwrap_or(caller);
        let pause = match mode {
            SnapshotMode::Full => caller,
            SnapshotMode::Live | SnapshotMode::Background => {
                ms("downtime").context("query-migrate gave no downtime")?
            }
        };
        Ok(QemuSnap {
            caller,
            pause,
            total,
            bytes: settled_size(file).await,
        })
    }
    .await;
    if background {
        // The capability stays set across migrations: the next live one
        // must not inherit it.
        let _ = set_background(q, false).await;
    }
    if r.is_err() {
        // `cat` may still hold the file open (or, started late, create it
        // after a first removal): remove once it has stopped growing.
        settled_size(file).await;
        let _ = std::fs::remove_file(file);
        // Keep the source box running whatever state the failure left.
        if let Ok(v) = q.execute("query-status", None).await {
            if v["status"] != "running" {
                let _ = q.execute("cont", None).await;
            }
        }
    }
    r
}

async fn set_background(q: &mut Qmp, on: bool) -> Result<()> {
    q.execute(
        "migrate-set-capabilities",
        Some(json!({ "capabilities": [{ "capability": "background-snapshot", "state": on }] })),
    )
    .await
    .map(|_| ())
}

/// Whether this qemu on this kernel can take a background snapshot: qemu
/// checks userfaultfd write-protect when the capability is set, so setting
/// it (and clearing it again) is the real test. Err is qemu's own words.
pub async fn background_supported(q: &mut Qmp) -> std::result::Result<(), String> {
    match set_background(q, true).await {
        Ok(()) => {
            let _ = set_background(q, false).await;
            Ok(())
        }
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The file's size once `cat` has written its last bytes (qemu closes its
/// end when the migration completes; the writer may lag a moment).
async fn settled_size(file: &Path) -> u64 {
    let mut last = u64::MAX;
    for _ in 0..200 {
        let now = disk_bytes(file);
        if now == last {
            return now;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    last
}

/// `criu check`: Ok when CRIU can checkpoint on this kernel, else the
/// reason in CRIU's own words (its last error line), or that it is missing.
pub fn criu_check() -> std::result::Result<String, String> {
    let Some(criu) = super::runtimes::which("criu") else {
        return Err(
            "criu is not installed (Debian package `criu`): runc checkpoints through it".into(),
        );
    };
    match std::process::Command::new(&criu).arg("check").output() {
        Err(e) => Err(format!("{} check could not run: {e}", criu.display())),
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) => {
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            Err(format!(
                "`criu check` fails on this kernel: {}",
                criu_reason(&text)
            ))
        }
    }
}

/// The line of `criu check` output that says why: the first `Error`
/// line (CRIU prefixes them `Error (file:line): `), else the last line.
pub fn criu_reason(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick = lines
        .iter()
        .find(|l| l.starts_with("Error"))
        .or(lines.last())
        .copied()
        .unwrap_or("no output");
    match pick.split_once("): ") {
        Some((head, rest)) if head.starts_with("Error") => rest.to_string(),
        _ => pick.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criu_reason_is_its_error_line() {
        let out = "Warn  (criu/kerndat.c:1103): Can't keep kdat cache\nError (criu/vdso.c:123): Unexpected rt vDSO area bounds\nLooks bad.\n";
        assert_eq!(criu_reason(out), "Unexpected rt vDSO area bounds");
        assert_eq!(criu_reason("Looks bad.\n"), "Looks bad.");
        assert_eq!(criu_reason(""), "no output");
    }

    #[test]
    fn snapshot_dirs_are_tracked_and_reaped() {
        let root = tempfile::tempdir().unwrap();
        let d = SnapDir::create(root.path(), "run1", "x").unwrap();
        std::fs::write(d.path.join("f"), b"1234").unwrap();
        assert_eq!(disk_bytes(&d.path), 4);
        let path = d.path.clone();
        std::mem::forget(d); // as if the run died: `clean` must find it
        let out = super::super::track::reap(root.path(), Some("run1"));
        assert!(out.errors.is_empty(), "{out}");
        assert!(!path.exists());
    }
}
