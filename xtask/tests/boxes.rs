//! Box lanes end to end with the real binary: real qemu VMs (TCG here, KVM
//! where it boots) and real containers. Each test checks that no VMM of its
//! run is left: no process whose command line carries the run id, and no
//! pid-file directory. Needs `cargo xtask setup` (CI runs it first).

mod common;

use common::{leftovers, only_run, record, root, run, serial, xtask};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn vms_dir(run_id: &str) -> PathBuf {
    root().join("target/runcost-box/vms").join(run_id)
}

/// Processes on the host whose argv mentions `needle` (the run id is in
/// every VMM's -name and socket path).
fn processes_with(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| *p != me)
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

fn assert_no_vm_left(run_id: &str) {
    // A killed VMM can take a moment to be reaped by its parent or init.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with(&format!("runcost-{run_id}")).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        processes_with(&format!("runcost-{run_id}")),
        Vec::<i32>::new(),
        "VMM processes of run {run_id} left"
    );
    assert!(!vms_dir(run_id).exists(), "pid files of run {run_id} left");
}

fn finding(r: &serde_json::Value) -> &serde_json::Value {
    &r["lanes"][0]["findings"][0]
}

#[test]
fn qemu_lifecycle_and_density_end_to_end() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args(["box", "lifecycle", "--repeats", "2"]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["status"], "complete");
    let f = finding(&r);
    assert_eq!(f["kind"], "box");
    assert_eq!(f["env"]["backend"], "qemu");
    let accel = f["env"]["accel"].as_str().unwrap();
    assert!(accel == "tcg" || accel == "kvm", "{accel}");
    assert!(f["env"]["qemu_version"].as_str().unwrap().contains("QEMU"));
    let samples = f["lifecycle"]["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2);
    for s in samples {
        let (ready, first) = (
            s["ready_s"].as_f64().unwrap(),
            s["first_exec_s"].as_f64().unwrap(),
        );
        assert!(ready > 0.0 && first >= ready, "{s}");
        assert!(s["guest_uptime_s"].as_f64().unwrap() > 0.0);
    }
    let dir = results.path().join(&id);
    assert!(dir.join("charts/box_lifecycle-start.svg").is_file());
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("cold start"), "{report}");
    assert!(report.contains(&format!("**{accel}**")), "{report}");
    assert_no_vm_left(&id);

    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "density",
        "--levels",
        "1,2",
        "--samples",
        "10",
        "--memory-mib",
        "128",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let d = &finding(&r)["density"];
    let levels = d["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2);
    assert!(levels[1]["exec"].as_array().unwrap().len() >= 10);
    assert!(
        levels[0]["pss_per_box_bytes"].as_f64().unwrap() > 1e6,
        "a VMM costs more than 1 MB"
    );
    let bp = d["breakpoint"]["level"].as_u64().unwrap();
    assert!(bp == 1 || bp == 2);
    assert!(results
        .path()
        .join(&id)
        .join("charts/box_density-curve.svg")
        .is_file());
    assert_no_vm_left(&id);
}

#[test]
fn container_lifecycle_end_to_end() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "lifecycle",
        "--backend",
        "container",
        "--repeats",
        "2",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let f = finding(&r);
    assert_eq!(f["env"]["backend"], "container");
    assert!(f["env"]["accel"].is_null());
    assert_eq!(f["lifecycle"]["samples"].as_array().unwrap().len(), 2);
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn bad_input_is_refused_before_any_box() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            &["box", "density", "--levels", "1,4,2"][..],
            "strictly increasing",
        ),
        (
            &["box", "density", "--levels", "2,4"],
            "first level must be 1",
        ),
        (&["box", "density", "--levels", "1,x"], "--levels"),
        (&["box", "churn", "--cycles", "3"], "--cycles"),
        (
            &["box", "lifecycle", "--kernel", "/nonexistent/vmlinuz"],
            "--kernel",
        ),
    ] {
        let out = run(xtask(results.path()).args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let runs = std::fs::read_dir(results.path()).unwrap().count();
    assert_eq!(runs, 0, "bad input left a run directory");
}

#[test]
fn a_kernel_that_does_not_boot_fails_with_its_console_and_stops_every_vm() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let bogus = results.path().join("bogus-kernel");
    std::fs::write(&bogus, vec![0u8; 8192]).unwrap();
    let out = run(xtask(results.path())
        .args([
            "box",
            "lifecycle",
            "--accel",
            "tcg",
            "--boot-timeout",
            "10s",
            "--kernel",
        ])
        .arg(&bogus));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("console tail") || err.contains("qemu exited"),
        "{err}"
    );
    let id = only_run(results.path());
    assert_eq!(record(results.path(), &id)["status"], "failed");
    assert_no_vm_left(&id);
}

#[test]
fn missing_qemu_is_a_skip_with_the_reason() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).env("PATH", "/nonexistent").args([
        "box",
        "lifecycle",
        "--repeats",
        "2",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let skipped = r["lanes"][0]["skipped"][0].as_str().unwrap();
    assert!(
        skipped.contains("SKIPPED") && skipped.contains("qemu"),
        "{skipped}"
    );
    assert!(r["lanes"][0]["findings"].as_array().unwrap().is_empty());
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(report.contains("SKIPPED"), "{report}");
}

/// Waits until the run has at least `n` tracked VMs.
fn wait_for_vms(results: &Path, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "fewer than {n} VMs appeared");
        if let Ok(id) = std::fs::read_link(results.join("latest")) {
            let id = id.to_string_lossy().into_owned();
            let count = std::fs::read_dir(vms_dir(&id))
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.path().join("vm.json").is_file())
                        .count()
                })
                .unwrap_or(0);
            if count >= n {
                return id;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[allow(clippy::zombie_processes)]
fn spawn_density(results: &Path) -> Child {
    xtask(results)
        .args([
            "box",
            "density",
            "--levels",
            "1,2,4",
            "--samples",
            "2000",
            "--memory-mib",
            "128",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn sigint_mid_density_stops_every_vm() {
    let _g = serial();
    for (signal, code) in [
        (nix::sys::signal::Signal::SIGINT, 130),
        (nix::sys::signal::Signal::SIGTERM, 143),
    ] {
        let results = tempfile::tempdir().unwrap();
        let mut child = spawn_density(results.path());
        let id = wait_for_vms(results.path(), 2);
        std::thread::sleep(Duration::from_millis(500));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{signal:?}");
        let r = record(results.path(), &id);
        assert_eq!(r["status"], "partial");
        assert_no_vm_left(&id);
    }
}

#[test]
fn clean_kills_tracked_vms_only_when_the_record_matches() {
    let _g = serial();
    // A run killed with SIGKILL cannot clean up: its pid files stay.
    let results = tempfile::tempdir().unwrap();
    let mut child = spawn_density(results.path());
    let id = wait_for_vms(results.path(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(vms_dir(&id).exists(), "pid files are what clean works from");

    // A stand-in VMM, recorded as a VM: `clean` must kill it ...
    let mut standin = Command::new("sleep").arg("300").spawn().unwrap();
    let exe = std::fs::read_link(format!("/proc/{}/exe", standin.id())).unwrap();
    let dir = vms_dir("test-standin").join("b0");
    std::fs::create_dir_all(&dir).unwrap();
    let rec = serde_json::json!({
        "pid": standin.id(), "exe": exe, "cmdline": ["sleep", "300"],
        "run_id": "test-standin", "box_name": "b0",
    });
    std::fs::write(dir.join("vm.json"), rec.to_string()).unwrap();
    // ... but not a process whose command line differs from its record.
    let mut other = Command::new("sleep").arg("301").spawn().unwrap();
    let dir2 = vms_dir("test-standin").join("b1");
    std::fs::create_dir_all(&dir2).unwrap();
    let rec2 = serde_json::json!({
        "pid": other.id(), "exe": exe, "cmdline": ["sleep", "300"],
        "run_id": "test-standin", "box_name": "b1",
    });
    std::fs::write(dir2.join("vm.json"), rec2.to_string()).unwrap();

    // Scoped to this test's runs: the engine is shared with other sessions.
    for run_id in [id.as_str(), "test-standin"] {
        let out = run(xtask(results.path()).args(["clean", "--run", run_id]));
        assert_eq!(out.status.code(), Some(0));
    }
    let status = standin.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "the recorded VMM was not killed"
    );
    assert!(
        other.try_wait().unwrap().is_none(),
        "a mismatched pid was killed"
    );
    other.kill().unwrap();
    other.wait().unwrap();
    assert_no_vm_left(&id);
    assert!(!vms_dir("test-standin").exists());
}

#[test]
fn forcing_kvm_boots_under_kvm_or_is_a_clear_error() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "lifecycle",
        "--repeats",
        "1",
        "--accel",
        "kvm",
        "--probe-timeout",
        "8s",
    ]));
    let id = only_run(results.path());
    match out.status.code() {
        // A host where KVM boots the guest must use it.
        Some(0) => {
            let r = record(results.path(), &id);
            assert_eq!(finding(&r)["env"]["accel"], "kvm");
        }
        // Here (nested PVM): the probe times out and says what to do.
        Some(2) => {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("--accel kvm") && err.contains("--accel tcg"),
                "{err}"
            );
            assert_eq!(record(results.path(), &id)["status"], "failed");
        }
        other => panic!("exit {other:?}"),
    }
    assert_no_vm_left(&id);
    // The probe VM is tracked under its own id; none may survive.
    assert!(processes_with("accel-probe").is_empty());
}
