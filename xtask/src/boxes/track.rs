//! Every VM is tracked by a file written right after its VMM is spawned:
//! `target/runcost-box/vms/<run>/<box>/vm.json` with its pid, executable and
//! exact command line. Cleanup (the run's guard, `cargo xtask clean`) kills
//! a pid only after checking that /proc/<pid>/exe and /proc/<pid>/cmdline
//! still match the record, so a recycled pid is never hit, and nothing is
//! ever matched by process name.

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VmRecord {
    pub pid: i32,
    /// /proc/<pid>/exe when it was spawned.
    pub exe: String,
    /// The argv it was spawned with (contains the box's unique socket path).
    pub cmdline: Vec<String>,
    pub run_id: String,
    pub box_name: String,
}

pub fn vms_dir(root: &Path) -> PathBuf {
    super::guest::assets_dir(root).join("vms")
}

/// The directory of one box: socket, console log, vm.json.
pub fn box_dir(root: &Path, run_id: &str, box_name: &str) -> PathBuf {
    vms_dir(root).join(run_id).join(box_name)
}

pub fn write(dir: &Path, rec: &VmRecord) -> Result<()> {
    crate::fs::write_atomic(
        &dir.join("vm.json"),
        serde_json::to_string_pretty(rec)?.as_bytes(),
    )
}

/// Whether a live process is the one recorded: same executable, same argv.
/// Pure: takes what /proc says.
pub fn identity_matches(rec: &VmRecord, cmdline: &[u8], exe: &str) -> bool {
    let argv: Vec<&[u8]> = cmdline
        .strip_suffix(&[0])
        .unwrap_or(cmdline)
        .split(|b| *b == 0)
        .collect();
    exe == rec.exe
        && argv.len() == rec.cmdline.len()
        && argv
            .iter()
            .zip(&rec.cmdline)
            .all(|(a, b)| *a == b.as_bytes())
}

/// Whether `rec`'s process is alive and still the one recorded.
pub fn is_ours(rec: &VmRecord) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", rec.pid)) else {
        return false;
    };
    let Ok(exe) = std::fs::read_link(format!("/proc/{}/exe", rec.pid)) else {
        return false;
    };
    identity_matches(rec, &cmdline, &exe.to_string_lossy())
}

/// SIGKILL the recorded process if it is still ours, and wait until it is
/// gone (it is our child only in the run that spawned it; elsewhere init
/// reaps it). Returns whether a process was killed.
pub fn kill_if_ours(rec: &VmRecord) -> bool {
    if !is_ours(rec) {
        return false;
    }
    let _ = kill(Pid::from_raw(rec.pid), Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && is_ours(rec) {
        if let Ok(st) = std::fs::read_to_string(format!("/proc/{}/stat", rec.pid)) {
            // A zombie still matches /proc/<pid>/cmdline as empty; it is dead.
            if crate::probe::parse::parse_stat(&st).is_ok_and(|s| s.state == 'Z') {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// What a reap found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VmReap {
    /// VMMs killed (still running and matching their record).
    pub killed: usize,
    /// Records whose process was gone or was another process.
    pub stale: usize,
    /// Boxes of command-line runtimes (`command` box profiles).
    pub cli: super::command::CliReap,
    pub errors: Vec<String>,
}

impl std::fmt::Display for VmReap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} VM(s) killed, {} stale record(s) removed",
            self.killed, self.stale
        )?;
        if self.cli.removed + self.cli.stale > 0 {
            write!(
                f,
                ", {} CLI box(es) removed, {} already gone",
                self.cli.removed, self.cli.stale
            )?;
        }
        if !self.errors.is_empty() {
            write!(
                f,
                ", {} error(s): {}",
                self.errors.len(),
                self.errors.join("; ")
            )?;
        }
        Ok(())
    }
}

/// Kills every tracked VM of `run_id` (every run when None) and removes
/// the box directories; then the run's command-line runtime boxes.
pub fn reap(root: &Path, run_id: Option<&str>) -> VmReap {
    let mut out = VmReap {
        cli: super::command::reap(root, run_id),
        ..VmReap::default()
    };
    let base = vms_dir(root);
    let runs: Vec<PathBuf> = match run_id {
        Some(id) => vec![base.join(id)],
        None => std::fs::read_dir(&base)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default(),
    };
    for run in runs {
        let Ok(boxes) = std::fs::read_dir(&run) else {
            continue;
        };
        for b in boxes.flatten() {
            let file = b.path().join("vm.json");
            match std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| serde_json::from_str::<VmRecord>(&t).ok())
            {
                Some(rec) => {
                    if kill_if_ours(&rec) {
                        out.killed += 1;
                    } else {
                        out.stale += 1;
                    }
                }
                None if file.exists() => out.errors.push(format!("unreadable {}", file.display())),
                None => {}
            }
            if let Err(e) = std::fs::remove_dir_all(b.path()) {
                out.errors
                    .push(format!("remove {}: {e}", b.path().display()));
            }
        }
        let _ = std::fs::remove_dir(&run);
    }
    out
}

/// Tracked VMs of a run (or all) whose process is still alive and ours.
pub fn live(root: &Path, run_id: Option<&str>) -> Result<Vec<VmRecord>> {
    let base = vms_dir(root);
    let mut out = Vec::new();
    let runs: Vec<PathBuf> = match run_id {
        Some(id) => vec![base.join(id)],
        None => match std::fs::read_dir(&base) {
            Ok(d) => d.flatten().map(|e| e.path()).collect(),
            Err(_) => return Ok(out),
        },
    };
    for run in runs {
        let Ok(boxes) = std::fs::read_dir(&run) else {
            continue;
        };
        for b in boxes.flatten() {
            let file = b.path().join("vm.json");
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let rec: VmRecord =
                serde_json::from_str(&text).with_context(|| format!("parse {}", file.display()))?;
            if is_ours(&rec) {
                out.push(rec);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> VmRecord {
        VmRecord {
            pid: 42,
            exe: "/usr/bin/qemu-system-x86_64".into(),
            cmdline: vec!["qemu-system-x86_64".into(), "-m".into(), "256".into()],
            run_id: "r".into(),
            box_name: "b0".into(),
        }
    }

    #[test]
    fn identity_needs_exe_and_argv() {
        let r = rec();
        let exe = "/usr/bin/qemu-system-x86_64";
        assert!(identity_matches(
            &r,
            b"qemu-system-x86_64\x00-m\x00256\x00",
            exe
        ));
        // A recycled pid running something else.
        assert!(!identity_matches(&r, b"bash\0", "/usr/bin/bash"));
        // Same binary, another VM (another argv).
        assert!(!identity_matches(
            &r,
            b"qemu-system-x86_64\x00-m\x00512\x00",
            exe
        ));
        // Same argv, another executable.
        assert!(!identity_matches(
            &r,
            b"qemu-system-x86_64\x00-m\x00256\x00",
            "/tmp/x"
        ));
        // A zombie's cmdline is empty.
        assert!(!identity_matches(&r, b"", exe));
    }

    #[test]
    fn stale_records_are_not_killed() {
        let root = tempfile::tempdir().unwrap();
        let dir = box_dir(root.path(), "run1", "b0");
        std::fs::create_dir_all(&dir).unwrap();
        // This test's own pid with a different argv: must survive.
        let r = VmRecord {
            pid: std::process::id() as i32,
            ..rec()
        };
        write(&dir, &r).unwrap();
        let out = reap(root.path(), Some("run1"));
        assert_eq!((out.killed, out.stale), (0, 1), "{out}");
        assert!(!dir.exists());
    }
}
