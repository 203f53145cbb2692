//! Sandbox runtimes head to head with the real binary and real runtimes:
//! runc and runsc through the engine and through their CLI, crun failing
//! with its own reason on this host's hybrid cgroups. Every test checks
//! that nothing of its run is left: no container with its label, no
//! process whose argv names the run, no CLI box directory, no cgroup.
//! Needs `cargo xtask setup` (installs runsc and crun, registers them).

mod common;

use common::{leftovers, only_run, record, root, run, serial, xtask};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

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

fn cgroups_of(run_id: &str) -> Vec<String> {
    let needle = format!("runcost-{run_id}");
    std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|h| std::fs::read_dir(h.path()).into_iter().flatten().flatten())
        .map(|e| e.path().display().to_string())
        .filter(|p| p.contains(&needle))
        .collect()
}

fn assert_nothing_left(run_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with(run_id).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        processes_with(run_id),
        Vec::<i32>::new(),
        "processes of {run_id} left"
    );
    assert_eq!(leftovers(Some(run_id)), 0, "containers of {run_id} left");
    let cli = root().join("target/runcost-box/cli").join(run_id);
    assert!(
        !cli.exists(),
        "CLI boxes of {run_id} left: {}",
        cli.display()
    );
    assert_eq!(
        cgroups_of(run_id),
        Vec::<String>::new(),
        "cgroups of {run_id} left"
    );
}

fn have(bin: &str) -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join(bin).is_file())
}

#[test]
fn lifecycle_side_by_side_runc_runsc_engine_and_cli_crun_fails() {
    assert!(
        have("runsc") && have("crun"),
        "run `cargo xtask setup` first"
    );
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "lifecycle",
        "--profile",
        "runc,runsc,runc-cli,runsc-cli,crun-cli",
        "--repeats",
        "2",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["status"], "complete");
    let fs = r["lanes"][0]["findings"].as_array().unwrap();
    assert_eq!(fs.len(), 5);
    for (f, name) in fs
        .iter()
        .zip(["runc", "runsc", "runc-cli", "runsc-cli", "crun-cli"])
    {
        let b = f;
        assert_eq!(b["kind"], "box");
        assert_eq!(b["env"]["profile"], name, "{b}");
        if name == "crun-cli" {
            let why = b["env"]["failed"].as_str().unwrap_or_default();
            assert!(
                why.contains("cgroups in hybrid mode not supported"),
                "{why}"
            );
            assert!(b["lifecycle"].is_null());
        } else {
            assert!(
                b["env"]["failed"].is_null(),
                "{name}: {}",
                b["env"]["failed"]
            );
            let samples = b["lifecycle"]["samples"].as_array().unwrap();
            assert_eq!(samples.len(), 2, "{name}");
            assert!(samples
                .iter()
                .all(|s| s["first_exec_s"].as_f64().unwrap() > 0.0));
            assert!(b["env"]["counted"].as_str().unwrap().contains("gVisor"));
        }
    }
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("| | runc | runsc | runc-cli | runsc-cli | crun-cli |"),
        "{report}"
    );
    assert!(report.contains("engine's cost"));
    assert_nothing_left(&id);
}

#[test]
fn bad_runtime_lists_are_refused_before_anything_runs() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args(["box", "lifecycle", "--profile", "runc,runc"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listed twice"));
    // A runtime the engine does not know.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nosuch.yaml");
    std::fs::write(&p, "backend:\n  engine:\n    runtime: nosuch\n").unwrap();
    let out = run(xtask(results.path())
        .args(["box", "exec", "--profile"])
        .arg(&p));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a runtime of the engine"));
    // A missing binary is a SKIP with its reason, exit 0.
    let p = dir.path().join("ghost.yaml");
    std::fs::write(
        &p,
        std::fs::read_to_string(root().join("profiles/boxes/runc-cli.yaml"))
            .unwrap()
            .replace("binary: runc", "binary: runcost-no-such-runtime"),
    )
    .unwrap();
    let out = run(xtask(results.path())
        .args(["box", "lifecycle", "--repeats", "1", "--profile"])
        .arg(&p));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let skipped = r["lanes"][0]["skipped"].to_string();
    assert!(
        skipped.contains("ghost SKIPPED") && skipped.contains("not installed"),
        "{skipped}"
    );
}

fn wait_for_cli_box(results: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no CLI box appeared");
        if let Ok(id) = std::fs::read_link(results.join("latest")) {
            let id = id.to_string_lossy().into_owned();
            let cli = root().join("target/runcost-box/cli").join(&id);
            let n = std::fs::read_dir(&cli)
                .into_iter()
                .flatten()
                .flatten()
                .flat_map(|p| std::fs::read_dir(p.path()).into_iter().flatten().flatten())
                .filter(|b| b.path().join("box.json").is_file())
                .count();
            if n >= 2 {
                return id;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_and_sigkill_mid_multi_runtime_run_leave_no_box() {
    let _g = serial();
    // SIGTERM: the run cleans up itself.
    let results = tempfile::tempdir().unwrap();
    let spawn = || {
        xtask(results.path())
            .args([
                "box",
                "exec",
                "--profile",
                "runc,runc-cli,runsc-cli",
                "--samples",
                "100000",
                "--large-samples",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    let id = wait_for_cli_box(results.path());
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert_eq!(record(results.path(), &id)["status"], "partial");
    assert_nothing_left(&id);

    // SIGKILL: boxes stay until `clean --run` reaps them from their records.
    let results = tempfile::tempdir().unwrap();
    let mut child = xtask(results.path())
        .args([
            "box",
            "exec",
            "--profile",
            "runc,runc-cli,runsc-cli",
            "--samples",
            "100000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let id = wait_for_cli_box(results.path());
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !processes_with(&id).is_empty() || leftovers(Some(&id)) > 0,
        "boxes were running"
    );
    let out = run(xtask(results.path()).args(["clean", "--run", &id]));
    assert_eq!(out.status.code(), Some(0));
    assert_nothing_left(&id);
}

/// A runtime of the user's own whose box never becomes ready, and one whose
/// exec hangs: each fails with its timeout as the cause, the other runtime
/// in the same run still measures, and neither leaves a box, a process
/// (the hung `sleep` inside the box included) or a cgroup behind.
#[test]
fn never_ready_and_hanging_exec_time_out_and_leave_nothing() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(root().join("profiles/boxes/runc-cli.yaml")).unwrap();
    // Readiness is a probe that never succeeds.
    let never = dir.path().join("never-ready.yaml");
    std::fs::write(
        &never,
        base.replace(
            "    stop: [runc,",
            "    ready: [\"false\"]\n    stop: [runc,",
        )
        .replace("ready: 30s", "ready: 2s"),
    )
    .unwrap();
    // Every exec runs `sleep 600` in the box (the lane's argv lands in
    // `sh -c`'s positional parameters); readiness asks runc for the state.
    let hang = dir.path().join("hanging-exec.yaml");
    std::fs::write(
        &hang,
        base.replace(
            "exec: [runc, --root, \"{state}\", exec, \"{id}\"]",
            "exec: [runc, --root, \"{state}\", exec, \"{id}\", sh, -c, \"sleep 600\"]\n    ready: [runc, --root, \"{state}\", state, \"{id}\"]",
        )
        .replace("exec: 30s", "exec: 2s"),
    )
    .unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path())
        .args([
            "box",
            "exec",
            "--samples",
            "20",
            "--large-samples",
            "1",
            "--profile",
        ])
        .arg(format!("{},{},runc-cli", never.display(), hang.display())));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let fs = r["lanes"][0]["findings"].as_array().unwrap();
    let failed = |name: &str| {
        fs.iter()
            .find(|f| f["env"]["profile"] == name)
            .unwrap_or_else(|| panic!("no finding for {name}: {r}"))["env"]["failed"]
            .as_str()
            .map(str::to_string)
    };
    let why = failed("never-ready").expect("never-ready must fail");
    assert!(why.contains("not ready within 2s"), "{why}");
    let why = failed("hanging-exec").expect("hanging-exec must fail");
    assert!(
        why.contains("timed out") || why.contains("timeout"),
        "{why}"
    );
    assert_eq!(failed("runc-cli"), None, "runc-cli measures beside them");
    // A runtime that fails is recorded, not bad input: the run completes.
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(r["status"], "complete");
    // argv is NUL-separated in /proc: `sleep 600` as its own process or
    // under `sh -c`.
    let hung = [processes_with("sleep\u{0}600"), processes_with("sleep 600")].concat();
    assert!(hung.is_empty(), "the hung exec's sleep is left: {hung:?}");
    assert_nothing_left(&id);
}

/// Density side by side: one level at a time per runtime, host PSS per box
/// counted from each runtime's own processes, one chart over the runtimes.
#[test]
fn density_side_by_side_engine_and_cli() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "density",
        "--profile",
        "runc,runc-cli,runsc-cli",
        "--levels",
        "1,2",
        "--samples",
        "10",
    ]));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let fs = r["lanes"][0]["findings"].as_array().unwrap();
    assert_eq!(fs.len(), 3);
    let mut per_box = Vec::new();
    for (f, name) in fs.iter().zip(["runc", "runc-cli", "runsc-cli"]) {
        assert_eq!(f["env"]["profile"], name);
        assert!(
            f["env"]["failed"].is_null(),
            "{name}: {}",
            f["env"]["failed"]
        );
        let levels = f["density"]["levels"].as_array().unwrap();
        assert_eq!(levels.len(), 2, "{name}");
        assert!(levels[1]["exec"].as_array().unwrap().len() >= 10, "{name}");
        per_box.push(levels[0]["pss_per_box_bytes"].as_f64().unwrap());
    }
    // Every runtime's box costs the host something; gVisor's sandbox and
    // gofer cost more than a runc box's shell.
    assert!(per_box.iter().all(|p| *p > 100e3), "{per_box:?}");
    assert!(per_box[2] > per_box[1], "{per_box:?}");
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("| | runc | runc-cli | runsc-cli |"),
        "{report}"
    );
    assert_nothing_left(&id);
}
