//! The box axes lanes (stability, burst) end to end with the real binary on
//! real boxes: runc through the engine and through its CLI, and qemu under
//! TCG, with short settings. Each test checks that nothing of its run is
//! left (no labelled container, no process naming the run, no pid file,
//! no CLI box directory). Needs `cargo xtask setup`.

mod common;

use common::{leftovers, only_run, record, root, run, serial, xtask};
use std::process::Command;
use std::time::{Duration, Instant};

fn processes_with(needle: &str) -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.chars().all(|c| c.is_ascii_digit()) && n != me
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .count()
}

fn assert_nothing_left(id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_with(id) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_with(id), 0, "processes of {id} left");
    assert_eq!(leftovers(Some(id)), 0, "containers of {id} left");
    let box_dir = root().join("target/runcost-box");
    assert!(!box_dir.join("vms").join(id).exists(), "VMs of {id} left");
    assert!(
        !box_dir.join("cli").join(id).exists(),
        "CLI boxes of {id} left"
    );
}

fn items_of(results: &std::path::Path, id: &str) -> String {
    // The compare items the run offers, as `update-baseline` writes them.
    let name = format!("axes-test-{id}");
    let out = run(xtask(results).args([
        "update-baseline",
        "--run",
        id,
        "--name",
        &name,
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let path = root().join("baselines").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    text
}

#[test]
fn stability_on_runc_engine_and_cli_restart_skipped_where_impossible() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "stability",
        "--profile",
        "runc,runc-cli",
        "--execs",
        "40",
        "--parallel",
        "4",
        "--parallel-rounds",
        "2",
        "--restarts",
        "3",
        "--soak",
        "0s",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["status"], "complete");
    assert_eq!(r["lanes"][0]["lane"], "box_stability");
    let fs = r["lanes"][0]["findings"].as_array().unwrap();
    assert_eq!(fs.len(), 2);
    for (f, name) in fs.iter().zip(["runc", "runc-cli"]) {
        assert_eq!(f["env"]["profile"], name);
        let s = &f["stability"];
        let lp = s["exec_loop"].as_array().unwrap();
        assert_eq!(lp.len(), 40, "{name}");
        assert!(lp.iter().all(|x| x.as_f64().unwrap() > 0.0));
        assert_eq!(s["exec_q"]["n"], 40);
        let drift = &s["drift"];
        assert_eq!(drift["n"], 40);
        assert!(
            ["drifts", "stable", "inconclusive"].contains(&drift["verdict"].as_str().unwrap()),
            "{drift}"
        );
        assert!(drift["slope_lower"].as_f64().unwrap() <= drift["slope_upper"].as_f64().unwrap());
        assert_eq!(s["parallel_mode"], "concurrent");
        assert_eq!(s["parallel_s"].as_array().unwrap().len(), 8, "{name}");
        assert!(s["deaths"].as_array().unwrap().is_empty(), "{s}");
    }
    // The engine restarts a stopped container; the OCI CLI cannot.
    assert_eq!(fs[0]["stability"]["restart_s"].as_array().unwrap().len(), 3);
    assert!(fs[0]["stability"]["restart_skipped"].is_null());
    assert!(fs[1]["stability"]["restart_s"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(fs[1]["stability"]["restart_skipped"]
        .as_str()
        .unwrap()
        .contains("created container once"));
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(report.contains("| | runc | runc-cli |"), "{report}");
    assert!(report.contains("| restart p50 |"), "{report}");
    assert!(report.contains("restart loop SKIPPED"), "{report}");
    assert!(results
        .path()
        .join(&id)
        .join("charts/box_stability-loop.png")
        .is_file());
    let items = items_of(results.path(), &id);
    for key in [
        "box_stability/box_exec_loop/runtime=runc",
        "box_stability/box_exec_loop/runtime=runc-cli",
        "box_stability/box_parallel_exec/runtime=runc",
        "box_stability/box_restart/runtime=runc",
        "box_stability/box_drift/runtime=runc",
    ] {
        assert!(items.contains(&format!("\"{key}\"")), "{key}: {items}");
    }
    assert!(!items.contains("box_restart/runtime=runc-cli"));
    assert_nothing_left(&id);
}

#[test]
fn a_box_killed_mid_exec_loop_is_recorded_and_the_lane_goes_on() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let mut child = xtask(results.path())
        .args([
            "box",
            "stability",
            "--profile",
            "runc",
            "--execs",
            "100000",
            "--parallel",
            "2",
            "--parallel-rounds",
            "1",
            "--restarts",
            "1",
            "--soak",
            "0s",
        ])
        .spawn()
        .unwrap();
    // The first box of the lane, once it has answered a few execs.
    let deadline = Instant::now() + Duration::from_secs(120);
    let name = loop {
        assert!(Instant::now() < deadline, "the stability box never came up");
        let out = Command::new("docker")
            .args(["ps", "--format", "{{.Names}}", "--filter", "name=-runc-st0"])
            .output()
            .unwrap();
        let names = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !names.is_empty() {
            break names;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_secs(3));
    let killed = Command::new("docker")
        .args(["kill", &name])
        .output()
        .unwrap();
    assert!(killed.status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let s = &r["lanes"][0]["findings"][0]["stability"];
    let deaths = s["deaths"].as_array().unwrap();
    assert_eq!(deaths.len(), 1, "{s}");
    assert_eq!(deaths[0]["section"], "exec_loop");
    assert!(!deaths[0]["cause"].as_str().unwrap().is_empty());
    // The loop ends at the death, with what came before; the next sections
    // ran on a fresh box.
    let n = s["exec_loop"].as_array().unwrap().len();
    assert!(n > 0 && n < 100000, "{n}");
    assert_eq!(s["parallel_s"].as_array().unwrap().len(), 2);
    assert_eq!(s["restart_s"].as_array().unwrap().len(), 1);
    assert_nothing_left(&id);
}

/// A box that dies in the soak: the soak's series ends at the last good
/// reading and is judged on what came before, the death is recorded with
/// its cause, the lane exits 0 with what it measured, nothing is left.
#[test]
fn a_box_killed_mid_soak_is_recorded_and_its_series_kept() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let mut child = xtask(results.path())
        .args([
            "box",
            "stability",
            "--profile",
            "runc",
            "--execs",
            "10",
            "--parallel",
            "2",
            "--parallel-rounds",
            "1",
            "--restarts",
            "1",
            "--soak",
            "1m",
        ])
        .spawn()
        .unwrap();
    // The run's own box (by its run label), once the soak has run a while.
    let deadline = Instant::now() + Duration::from_secs(120);
    let id = loop {
        assert!(Instant::now() < deadline, "the soak never began");
        assert!(child.try_wait().unwrap().is_none(), "the lane ended first");
        let soaking = std::fs::read_dir(results.path())
            .unwrap()
            .filter_map(|e| e.ok())
            // The run's directory, not the `latest` link to it.
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .find_map(|e| {
                let dir = e.path();
                let events = std::fs::read_to_string(dir.join("events.jsonl")).ok()?;
                events
                    .contains("stability: soak")
                    .then(|| dir.file_name().unwrap().to_string_lossy().into_owned())
            });
        if let Some(id) = soaking {
            break id;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // A reading every 0.5 s; the warm-up (12 s) is not over.
    std::thread::sleep(Duration::from_secs(6));
    let ids = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=dev.runcost.run={id}"),
        ])
        .output()
        .unwrap();
    let ids = String::from_utf8_lossy(&ids.stdout).trim().to_string();
    assert_eq!(ids.lines().count(), 1, "one box of {id} in the soak: {ids}");
    let killed = Command::new("docker")
        .args(["kill", &ids])
        .output()
        .unwrap();
    assert!(killed.status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let r = record(results.path(), &id);
    let s = &r["lanes"][0]["findings"][0]["stability"];
    let deaths = s["deaths"].as_array().unwrap();
    assert_eq!(deaths.len(), 1, "{s}");
    assert_eq!(deaths[0]["section"], "soak", "{s}");
    assert!(!deaths[0]["cause"].as_str().unwrap().is_empty());
    let soak = &s["soak"];
    let ran = soak["ran_s"].as_f64().unwrap();
    assert!(ran > 5.0 && ran < 30.0, "{soak}");
    // The readings before the death, none of them a zero.
    let samples = soak["samples"].as_array().unwrap();
    assert!(samples.len() >= 8, "{soak}");
    assert!(samples.iter().all(|x| x["pss_bytes"].as_u64().unwrap() > 0));
    assert!(samples.last().unwrap()["t_s"].as_f64().unwrap() <= ran);
    // Too short a series after the warm-up for a verdict: a note says so.
    assert!(soak["test"].is_null() && soak["note"].is_string(), "{soak}");
    assert_eq!(s["exec_loop"].as_array().unwrap().len(), 10);
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(report.contains("soak"), "{report}");
    assert_nothing_left(&id);
}

#[test]
fn burst_of_runc_boxes_against_one_alone() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "burst",
        "--profile",
        "runc",
        "--boxes",
        "4",
        "--singles",
        "2",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let b = &r["lanes"][0]["findings"][0]["burst"];
    assert_eq!(b["boxes"], 4);
    assert_eq!(b["single_s"].as_array().unwrap().len(), 2);
    let burst: Vec<f64> = b["burst_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(burst.len(), 4, "{b}");
    let max = burst.iter().cloned().fold(0.0, f64::max);
    assert_eq!(b["burst_max_s"].as_f64().unwrap(), max);
    let single = {
        let mut s: Vec<f64> = b["single_s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        s.sort_by(f64::total_cmp);
        s[0] // nearest-rank median of two
    };
    let ratio = b["ratio_max"].as_f64().unwrap();
    assert!(
        (ratio - max / single).abs() < 1e-9,
        "{ratio} vs {max}/{single}"
    );
    assert!(items_of(results.path(), &id).contains("box_burst/box_burst_start/runtime=runc"));
    assert_nothing_left(&id);
}

#[test]
fn stability_and_burst_on_qemu_tcg() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "stability",
        "--backend",
        "qemu",
        "--accel",
        "tcg",
        "--execs",
        "12",
        "--parallel",
        "3",
        "--parallel-rounds",
        "1",
        "--restarts",
        "1",
        "--soak",
        "16s",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let s = &r["lanes"][0]["findings"][0]["stability"];
    assert_eq!(s["exec_loop"].as_array().unwrap().len(), 12);
    // The soak on a VM: the VMM's host PSS read through it, the paced
    // stream answered, a leak test (or the reason there is none) after
    // the warm-up.
    let soak = &s["soak"];
    assert_eq!(s["deaths"], serde_json::json!([]), "{s}");
    assert!(soak["ran_s"].as_f64().unwrap() >= 16.0, "{soak}");
    let samples = soak["samples"].as_array().unwrap();
    assert!(samples.len() >= 40, "{soak}");
    assert!(samples
        .iter()
        .all(|x| x["pss_bytes"].as_u64().unwrap() > 64 << 20));
    assert!(soak["exec_s"].as_array().unwrap().len() >= 80, "{soak}");
    assert!(
        soak["test"].is_object() || soak["note"].is_string(),
        "{soak}"
    );
    // One agent stream per VM: the execs queue, and the record says so.
    assert_eq!(s["parallel_mode"], "queued");
    assert_eq!(s["parallel_s"].as_array().unwrap().len(), 3);
    // A VM restarts: stop powers it off, start boots the same box again.
    assert_eq!(s["restart_s"].as_array().unwrap().len(), 1, "{s}");
    assert_nothing_left(&id);

    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "burst",
        "--backend",
        "qemu",
        "--accel",
        "tcg",
        "--boxes",
        "2",
        "--singles",
        "1",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let b = &r["lanes"][0]["findings"][0]["burst"];
    assert_eq!(b["burst_s"].as_array().unwrap().len(), 2, "{b}");
    assert!(b["ratio_mean"].as_f64().unwrap() > 0.0);
    assert_nothing_left(&id);
}

#[test]
fn bad_counts_are_refused_with_the_flag_and_a_fix() {
    let results = tempfile::tempdir().unwrap();
    for (args, flag) in [
        (&["stability", "--execs", "5"][..], "--execs 5"),
        (&["stability", "--parallel", "0"], "--parallel 0"),
        (&["stability", "--restarts", "0"], "--restarts 0"),
        (&["stability", "--soak", "3s"], "--soak 3s"),
        (
            &["stability", "--soak", "0s", "--soak-plant-leak-kib", "64"],
            "--soak-plant-leak-kib 64",
        ),
        (&["burst", "--boxes", "1"], "--boxes 1"),
        (
            &["burst", "--boxes", "200", "--memory-mib", "4096"],
            "--boxes 200",
        ),
        (&["resource", "--pressure-mib", "8"], "--pressure-mib 8"),
        (
            &["resource", "--pressure-mib", "100000000"],
            "--pressure-mib 100000000",
        ),
    ] {
        let out = run(xtask(results.path())
            .arg("box")
            .args(args)
            .args(["--profile", "runc"]));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(flag) && err.contains("e.g.") || err.contains("lower"),
            "{args:?}: {err}"
        );
    }
    let runs = std::fs::read_dir(results.path()).unwrap().count();
    assert_eq!(runs, 0, "bad input left a run directory");
}

#[test]
fn resource_of_one_runc_box_idle_and_busy() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "resource",
        "--profile",
        "runc",
        "--settle",
        "1s",
        "--window",
        "2s",
        "--idle-boxes",
        "2",
        "--pressure-mib",
        "64",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let x = &r["lanes"][0]["findings"][0]["resource"];
    let ib = &x["idle_boxes"];
    let per: Vec<u64> = ib["pss_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(per.len(), 2, "{ib}");
    assert!(per.iter().all(|&p| p > 0), "{ib}");
    let mean = ib["mean_pss_bytes"].as_f64().unwrap();
    assert!(
        (ib["sum_pss_bytes"].as_f64().unwrap() - 2.0 * mean).abs() < 1.0,
        "{ib}"
    );
    let p = &x["pressure"];
    let limit = 64u64 << 20;
    assert_eq!(p["limit_bytes"], limit);
    let steps = p["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{p}");
    assert_eq!(steps[0]["exit_code"], 0, "{p}");
    assert_eq!(steps[0]["killed"], false, "{p}");
    assert_eq!(steps[1]["killed"], true, "{p}");
    assert_eq!(steps[1]["exit_code"], 137, "{p}");
    // The peak stops near the limit: the box's processes plus its shim.
    let peak = steps[1]["peak_pss_bytes"].as_u64().unwrap();
    assert!(peak > limit / 2 && peak < limit + (48 << 20), "{p}");
    assert!(
        steps[0]["peak_pss_bytes"].as_u64().unwrap() > limit / 4,
        "{p}"
    );
    assert!(x["idle_pss_bytes"].as_u64().unwrap() > 0, "{x}");
    assert!(x["idle_rss_bytes"].as_u64().unwrap() >= x["idle_pss_bytes"].as_u64().unwrap());
    // A container's loop runs on the host kernel: its host CPU is its box CPU.
    let ratio = x["host_cpu_per_box_cpu"].as_f64().unwrap();
    assert!((0.8..1.5).contains(&ratio), "{x}");
    let items = items_of(results.path(), &id);
    for key in ["box_idle_pss", "box_idle_box_pss", "box_pressure_peak"] {
        assert!(
            items.contains(&format!("box_resource/{key}/runtime=runc")),
            "{key}"
        );
    }
    assert_nothing_left(&id);
}

/// The same lane on a VM: the guest kernel's OOM killer acts at the VM's
/// RAM, and the host's cost of the VM stops at its RAM plus the VMM's own
/// (TCG's translation cache among it).
#[test]
fn resource_of_a_qemu_tcg_box_idle_busy_and_under_pressure() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "resource",
        "--backend",
        "qemu",
        "--accel",
        "tcg",
        "--settle",
        "1s",
        "--window",
        "2s",
        "--idle-boxes",
        "2",
        "--pressure-mib",
        "224",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let x = &r["lanes"][0]["findings"][0]["resource"];
    assert_eq!(x["idle_boxes"]["deaths"], serde_json::json!([]), "{x}");
    assert!(x["pressure"]["death"].is_null(), "{x}");
    let per = x["idle_boxes"]["pss_bytes"].as_array().unwrap();
    assert_eq!(per.len(), 2, "{x}");
    assert!(per.iter().all(|p| p.as_u64().unwrap() > 0), "{x}");
    let p = &x["pressure"];
    let limit = 224u64 << 20;
    assert_eq!(p["limit_bytes"], limit);
    assert!(p["how"].as_str().unwrap().contains("OOM killer"), "{p}");
    // What the guest kernel leaves of its RAM to programs is measured.
    let avail = p["guest_available_bytes"].as_u64().unwrap();
    assert!(avail > limit / 4 && avail < limit, "{p}");
    let steps = p["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{p}");
    assert_eq!(steps[0]["exit_code"], 0, "{p}");
    assert_eq!(steps[0]["killed"], false, "{p}");
    assert_eq!(steps[1]["exit_code"], 137, "{p}");
    assert_eq!(steps[1]["killed"], true, "{p}");
    assert_eq!(
        steps[1]["oom_kills"], 1,
        "the guest kernel's own count: {p}"
    );
    let peak = steps[1]["peak_pss_bytes"].as_u64().unwrap();
    assert!(peak > limit && peak < limit + (256 << 20), "{p}");
    let ratio = x["host_cpu_per_box_cpu"].as_f64().unwrap();
    assert!((0.8..3.0).contains(&ratio), "{x}");
    let items = items_of(results.path(), &id);
    for key in ["box_idle_pss", "box_idle_box_pss", "box_pressure_peak"] {
        assert!(
            items.contains(&format!("box_resource/{key}/runtime=qemu")),
            "{key}: {items}"
        );
    }
    assert_nothing_left(&id);
}

/// Pressure on boxes a runtime's CLI makes from an OCI bundle: the limit
/// is the bundle's cgroup, the kill count the cgroup's on the host. runc
/// kills the allocation and the box lives on; gVisor's sandbox holds the
/// box's memory, so the kill may end the box as a whole, recorded so.
/// A resource run of only the pressure section (1 s settle and window, no
/// idle boxes) on `profiles` with a limit of `mib`: its run id and record.
fn pressure_only(
    results: &std::path::Path,
    profiles: &str,
    mib: &str,
) -> (String, serde_json::Value) {
    let out = run(xtask(results).args([
        "box",
        "resource",
        "--profile",
        profiles,
        "--settle",
        "1s",
        "--window",
        "1s",
        "--idle-boxes",
        "0",
        "--pressure-mib",
        mib,
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results);
    let r = record(results, &id);
    (id, r)
}

#[test]
fn pressure_on_cli_boxes_of_runc_and_runsc() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let (id, r) = pressure_only(results.path(), "runc-cli,runsc-cli", "64");
    let fs = r["lanes"][0]["findings"].as_array().unwrap();
    let limit = 64u64 << 20;
    for (f, name) in fs.iter().zip(["runc-cli", "runsc-cli"]) {
        let p = &f["resource"]["pressure"];
        assert!(p["skipped"].is_null(), "{name}: {p}");
        assert!(p["how"].as_str().unwrap().contains("OCI bundle"), "{p}");
        let steps = p["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 2, "{name}: {p}");
        assert_eq!(steps[0]["exit_code"], 0, "{name}: {p}");
        assert_eq!(steps[0]["oom_kills"], 0, "{name}: {p}");
        assert!(
            steps[0]["peak_pss_bytes"].as_u64().unwrap() > limit / 4,
            "{name}: {p}"
        );
        assert!(steps[1]["oom_kills"].as_u64().unwrap() >= 1, "{name}: {p}");
        let peak = steps[1]["peak_pss_bytes"].as_u64().unwrap();
        assert!(peak > limit / 2 && peak < limit + (48 << 20), "{name}: {p}");
    }
    let runc = &fs[0]["resource"]["pressure"];
    assert_eq!(runc["steps"][1]["exit_code"], 137, "{runc}");
    assert!(runc["death"].is_null(), "{runc}");
    let runsc = &fs[1]["resource"]["pressure"];
    assert!(
        runsc["steps"][1]["killed"] == true
            || runsc["death"]["cause"]
                .as_str()
                .is_some_and(|c| c.contains("ended the box as a whole")),
        "{runsc}"
    );
    assert_nothing_left(&id);
}

/// gVisor through the engine: the OOM killer ends the whole sandbox at
/// 150 % of a 224 MiB limit and the engine's exec into it never answers
/// (it hung the lane for good before the waiter watched the box's init).
/// The death is recorded with that cause, and nothing is left.
#[test]
fn pressure_on_a_runsc_engine_box_ends_when_the_sandbox_dies() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let (id, r) = pressure_only(results.path(), "runsc", "224");
    let p = &r["lanes"][0]["findings"][0]["resource"]["pressure"];
    let steps = p["steps"].as_array().unwrap();
    assert_eq!(steps[0]["exit_code"], 0, "{p}");
    assert!(
        steps[0]["peak_pss_bytes"].as_u64().unwrap() > 56 << 20,
        "{p}"
    );
    // The 150 % step either answers (killed) or the box's death is the
    // record; a hang would not get here.
    let cause = p["death"]["cause"].as_str().unwrap_or_default();
    assert!(
        steps.get(1).is_some_and(|s| s["exit_code"] != 0) || cause.contains("init process"),
        "{p}"
    );
    assert!(p["death"]["index"] == 1 || p["death"].is_null(), "{p}");
    println!(
        "runsc pressure 224 MiB: {:.1} s; {p}",
        t.elapsed().as_secs_f64()
    );
    assert_nothing_left(&id);
}

/// The rates of one throughput finding: each part measured `repeats` times
/// with positive rates (host → box TCP too: both runc and qemu give the box
/// a loopback-reachable network in this lane).
fn assert_rates(t: &serde_json::Value, repeats: usize, name: &str) {
    for part in [
        "write_bps",
        "read_bps",
        "copy_in_bps",
        "copy_out_bps",
        "tcp_bps",
    ] {
        let v = t[part].as_array().unwrap();
        assert_eq!(v.len(), repeats, "{name} {part}: {t}");
        assert!(v.iter().all(|x| x.as_f64().unwrap() > 0.0), "{name} {part}");
    }
    assert!(t["tcp_skipped"].is_null(), "{name}: {t}");
}

#[test]
fn throughput_on_runc_and_qemu_tcg() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "throughput",
        "--profile",
        "runc,qemu",
        "--size-mib",
        "8",
        "--repeats",
        "2",
        "--disk-mib",
        "16",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["lanes"][0]["lane"], "box_throughput");
    let fs = r["lanes"][0]["findings"].as_array().unwrap();
    assert_eq!(fs.len(), 2);
    for (f, name) in fs.iter().zip(["runc", "qemu"]) {
        assert!(f["env"]["failed"].is_null(), "{name}: {f}");
        let t = &f["throughput"];
        assert_eq!(t["size_bytes"], 8 << 20);
        assert_rates(t, 2, name);
    }
    assert_eq!(fs[0]["throughput"]["disk_target"], "/var/tmp/runcost-io");
    assert_eq!(fs[1]["throughput"]["disk_target"], "/dev/vda");
    assert!(fs[0]["throughput"]["tcp_path"]
        .as_str()
        .unwrap()
        .contains("network mode host"));
    assert!(fs[1]["throughput"]["tcp_path"]
        .as_str()
        .unwrap()
        .contains("restrict=on"));
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(report.contains("| disk write |"), "{report}");
    let tcp_row = report
        .lines()
        .find(|l| l.starts_with("| host → box TCP |"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        !tcp_row.contains("SKIPPED") && tcp_row.contains("MiB/s"),
        "{tcp_row}"
    );
    assert!(results
        .path()
        .join(&id)
        .join("charts/box_throughput-rates.png")
        .is_file());
    let items = items_of(results.path(), &id);
    for key in [
        "box_throughput/box_disk_write/runtime=runc",
        "box_throughput/box_disk_read/runtime=qemu",
        "box_throughput/box_copy_in/runtime=qemu",
        "box_throughput/box_copy_out/runtime=runc",
        "box_throughput/box_tcp/runtime=runc",
        "box_throughput/box_tcp/runtime=qemu",
    ] {
        assert!(items.contains(&format!("\"{key}\"")), "{key}: {items}");
    }
    assert!(items.contains("\"higher_is_better\""), "{items}");
    assert_nothing_left(&id);
}

/// The CLI runtimes on their OCI bundles: the disk is the bundle's
/// writable /var/tmp, copies go through the runtime's exec stdio, and TCP
/// runs where the box shares the host's loopback (runc-cli) and is skipped
/// with the reason where the profile gives the sandbox no network the host
/// can reach (runsc-cli's --network=none).
#[test]
fn throughput_on_cli_boxes_of_runc_and_runsc() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "throughput",
        "--profile",
        "runc-cli,runsc-cli",
        "--size-mib",
        "4",
        "--repeats",
        "2",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let fs = r["lanes"][0]["findings"].as_array().unwrap();
    assert_eq!(fs.len(), 2);
    for (f, name) in fs.iter().zip(["runc-cli", "runsc-cli"]) {
        assert!(f["env"]["failed"].is_null(), "{name}: {f}");
        let t = &f["throughput"];
        assert_eq!(t["disk_target"], "/var/tmp/runcost-io", "{name}: {t}");
        for part in ["write_bps", "read_bps", "copy_in_bps", "copy_out_bps"] {
            let v = t[part].as_array().unwrap();
            assert_eq!(v.len(), 2, "{name} {part}: {t}");
            assert!(v.iter().all(|x| x.as_f64().unwrap() > 0.0), "{name} {part}");
        }
        assert!(
            t["copy_path"].as_str().unwrap().contains("exec stdio"),
            "{t}"
        );
    }
    let runc = &fs[0]["throughput"];
    assert!(runc["tcp_skipped"].is_null(), "{runc}");
    assert_eq!(runc["tcp_bps"].as_array().unwrap().len(), 2, "{runc}");
    let runsc = &fs[1]["throughput"];
    assert!(
        runsc["tcp_skipped"]
            .as_str()
            .is_some_and(|s| s.contains("--network=none")),
        "{runsc}"
    );
    assert!(
        runsc["tcp_bps"].as_array().is_none_or(|v| v.is_empty()),
        "{runsc}"
    );
    let items = items_of(results.path(), &id);
    assert!(
        items.contains("\"box_throughput/box_tcp/runtime=runc-cli\""),
        "{items}"
    );
    assert!(
        !items.contains("\"box_throughput/box_tcp/runtime=runsc-cli\""),
        "{items}"
    );
    assert_nothing_left(&id);
}

/// The planted regression: the same runtime on a throttled disk (the
/// profile's `disk_bps`, the engine's --device-read/write-bps) is judged
/// REGRESSED against the unthrottled baseline.
#[test]
fn a_throttled_disk_is_a_regressed_throughput() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let profiles = tempfile::tempdir().unwrap();
    // The same name (runc) on both sides, so the items' keys match.
    let fast = profiles.path().join("fast");
    let slow = profiles.path().join("slow");
    std::fs::create_dir_all(&fast).unwrap();
    std::fs::create_dir_all(&slow).unwrap();
    std::fs::write(
        fast.join("runc.yaml"),
        "backend:\n  engine:\n    runtime: runc\n",
    )
    .unwrap();
    std::fs::write(
        slow.join("runc.yaml"),
        "backend:\n  engine:\n    runtime: runc\n    disk_bps: 4194304\n",
    )
    .unwrap();
    let runs = || -> std::collections::BTreeSet<String> {
        std::fs::read_dir(results.path())
            .unwrap()
            .flatten()
            .filter(|e| e.path().join("run.json").is_file() && !e.path().is_symlink())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let lane = |profile: &std::path::Path| {
        let before = runs();
        let out = run(xtask(results.path()).args([
            "box",
            "throughput",
            "--profile",
            profile.to_str().unwrap(),
            "--size-mib",
            "4",
            "--repeats",
            "5",
        ]));
        assert_eq!(out.status.code(), Some(0));
        let new: Vec<String> = runs().difference(&before).cloned().collect();
        assert_eq!(new.len(), 1, "{new:?}");
        new[0].clone()
    };
    let base = lane(&fast.join("runc.yaml"));
    let out = run(xtask(results.path()).args([
        "update-baseline",
        "--run",
        &base,
        "--name",
        &format!("tp-{base}"),
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let baseline = root().join("baselines").join(format!("tp-{base}.json"));
    let kept = profiles.path().join("baseline.json");
    std::fs::rename(&baseline, &kept).unwrap();
    let slow_run = lane(&slow.join("runc.yaml"));
    let r = record(results.path(), &slow_run);
    let t = &r["lanes"][0]["findings"][0]["throughput"];
    assert_eq!(t["disk_limit_bps"], 4194304);
    // 4 MiB/s measured by the box itself: the median within the limit (a
    // first write may get ahead of the throttle's accounting).
    let mut w: Vec<f64> = t["write_bps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    w.sort_by(f64::total_cmp);
    assert!(w[w.len() / 2] < 1.2 * 4194304.0, "{t}");
    let out = run(xtask(results.path()).args([
        "compare",
        "--baseline",
        kept.to_str().unwrap(),
        "--run",
        &slow_run,
        "--allow-overloaded",
    ]));
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    let regressed = |label: &str| {
        table
            .lines()
            .any(|l| l.contains("REGRESSED") && l.contains(label))
    };
    // Both fall to the limit; one of them must be REGRESSED. Either may
    // still pass as OK: an unthrottled O_DIRECT rate on this shared disk
    // can vary so much over 5 repeats that the ratio's interval is
    // undefined (Fieller), and compare then reports OK rather than guess.
    assert!(regressed("disk write") || regressed("disk read"), "{table}");
    assert_nothing_left(&base);
    assert_nothing_left(&slow_run);
}

#[test]
fn a_copy_larger_than_the_vm_disk_is_refused_before_any_box() {
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "throughput",
        "--backend",
        "qemu",
        "--size-mib",
        "64",
        "--disk-mib",
        "16",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--size-mib 64") && err.contains("--disk-mib 16"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(results.path()).unwrap().count(), 0);
}

/// One soak of a runc box, minimal other sections; returns the run id and
/// the exit code.
fn soak_run(results: &std::path::Path, plant_kib: &str) -> (String, Option<i32>) {
    let out = run(xtask(results).args([
        "box",
        "stability",
        "--profile",
        "runc",
        "--execs",
        "10",
        "--parallel",
        "1",
        "--parallel-rounds",
        "1",
        "--restarts",
        "1",
        "--soak",
        "30s",
        "--soak-plant-leak-kib",
        plant_kib,
    ]));
    (only_run(results), out.status.code())
}

/// The plain steady exec stream: the soak is recorded end to end (raw
/// readings, the slope's interval, exec latencies, report rows, chart,
/// compare items), its slope far below the planted leak's. Not asserted:
/// its verdict. Measured here: +4 KiB/s [2.6, 5.5] over a 2 min soak (fit
/// from 24 s), NO LEAK; but a 30 s soak fits 10–30 s, where the runc box's
/// host side is still settling (+1076 KiB/min [631, 1522], LEAK at the
/// 1 MiB/min floor): a CI-length soak cannot tell settling from a leak on
/// runc, so the exit code is only checked to follow the verdict.
/// What it shares with the planted test (the record, report rows, chart
/// and items) is asserted there.
#[test]
#[ignore = "32 s of CI for a verdict a CI-length soak cannot give on runc (settling); the planted test checks the rest: run with --ignored"]
fn soak_of_a_plain_runc_box_is_recorded_and_grows_far_less_than_a_planted_leak() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let (id, code) = soak_run(results.path(), "0");
    let r = record(results.path(), &id);
    let k = &r["lanes"][0]["findings"][0]["stability"]["soak"];
    assert_eq!(k["duration_s"], 30.0);
    assert_eq!(k["warmup_s"], 10.0);
    assert!(k["planted_leak_bytes_per_s"].is_null());
    let samples = k["samples"].as_array().unwrap();
    // 250 ms apart over 30 s (readings wait for a running exec).
    assert!((80..=121).contains(&samples.len()), "{}", samples.len());
    assert!(samples.iter().all(|p| p["pss_bytes"].as_u64().unwrap() > 0));
    let execs = k["exec_s"].as_array().unwrap().len();
    assert!((100..=301).contains(&execs), "{execs}");
    let t = &k["test"];
    assert!(t["slope_lower"].as_f64().unwrap() <= t["slope"].as_f64().unwrap());
    assert!(t["slope"].as_f64().unwrap() <= t["slope_upper"].as_f64().unwrap());
    // A quarter of the planted test's 256 KiB/s.
    assert!(t["slope"].as_f64().unwrap() < 65536.0, "{t}");
    let leak = t["verdict"] == "leak";
    assert_eq!(code, Some(if leak { 1 } else { 0 }), "{t}");
    assert_soak_outputs(results.path(), &id);
}

/// A planted leak of 256 KiB/s (a process in the box growing its memory)
/// is LEAK, exit 1, with the planted rate inside the slope's interval
/// (within a factor: the loop's own sleep and fork lower the rate).
#[test]
fn soak_names_a_planted_leak_and_exits_1() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let (id, code) = soak_run(results.path(), "256");
    assert_eq!(code, Some(1));
    let r = record(results.path(), &id);
    assert_eq!(r["status"], "complete");
    let k = &r["lanes"][0]["findings"][0]["stability"]["soak"];
    assert_eq!(k["planted_leak_bytes_per_s"], 256 << 10);
    let t = &k["test"];
    assert_eq!(t["verdict"], "leak", "{t}");
    let slope = t["slope"].as_f64().unwrap();
    assert!(
        (0.5 * 262144.0..1.5 * 262144.0).contains(&slope),
        "{slope} B/s against 256 KiB/s planted"
    );
    let samples = k["samples"].as_array().unwrap();
    assert!(samples.len() >= 80, "{}", samples.len());
    assert!(samples.iter().all(|p| p["pss_bytes"].as_u64().unwrap() > 0));
    assert!(k["exec_s"].as_array().unwrap().len() >= 100, "{k}");
    assert!(t["slope_lower"].as_f64().unwrap() <= slope);
    assert!(slope <= t["slope_upper"].as_f64().unwrap());
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(report.contains("PLANTED"), "{report}");
    assert_soak_outputs(results.path(), &id);
}

/// What every soak run leaves: its report rows, its chart, its compare
/// items, and nothing of the run in the engine.
fn assert_soak_outputs(results: &std::path::Path, id: &str) {
    let report = std::fs::read_to_string(results.join(id).join("report.md")).unwrap();
    assert!(report.contains("| soak slope (KiB/min) |"), "{report}");
    assert!(report.contains("| soak verdict |"), "{report}");
    assert!(results
        .join(id)
        .join("charts/box_stability-soak.png")
        .is_file());
    let items = items_of(results, id);
    for key in [
        "box_stability/box_soak_slope/runtime=runc",
        "box_stability/box_soak_verdict/runtime=runc",
    ] {
        assert!(items.contains(&format!("\"{key}\"")), "{key}: {items}");
    }
    assert_nothing_left(id);
}
