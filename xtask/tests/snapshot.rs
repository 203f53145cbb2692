//! `box snapshot` with the real binary: qemu under TCG (snapshots over QMP,
//! restores, forks), gVisor through runsc-cli (checkpoint/restore) and runc
//! through CRIU, which this kernel refuses — the skip must carry the reason
//! `criu check` gives when the test runs it itself. Held against ground
//! truth: more resident guest memory lengthens the full pause and the live
//! write while the live pause stays below the full one. Every test checks
//! that nothing of its run is left (VMs, snapshot files, CLI boxes).
//! Needs `cargo xtask setup` (qemu, the guest, runsc, criu).

mod common;

use common::{only_run, record, root, run, serial, xtask};
use serde_json::Value;
use std::process::Command;

fn finding<'a>(r: &'a Value, profile: &str) -> &'a Value {
    r["lanes"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["env"]["profile"] == profile)
        .unwrap_or_else(|| panic!("no finding for {profile}"))
}

fn mode<'a>(snap: &'a Value, m: &str) -> &'a Value {
    snap["modes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["mode"] == m)
        .unwrap_or_else(|| panic!("no {m} summary"))
}

fn p50(q: &Value) -> f64 {
    q["q"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["p"] == 0.5)
        .and_then(|x| x["value"].as_f64())
        .unwrap()
}

fn nothing_left(run_id: &str) {
    let vms = root().join("target/runcost-box/vms").join(run_id);
    assert!(
        !vms.exists(),
        "VMs or snapshot files of {run_id} left: {}",
        vms.display()
    );
    let cli = root().join("target/runcost-box/cli").join(run_id);
    assert!(!cli.exists(), "CLI boxes of {run_id} left");
    let me = std::process::id().to_string();
    let procs: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != me.as_str())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .filter(|c| c.contains(run_id))
        .collect();
    assert!(procs.is_empty(), "processes of {run_id} left: {procs:?}");
}

#[test]
fn snapshot_restore_fork_on_qemu_and_runsc_and_the_real_criu_reason_for_runc() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "snapshot",
        "--profile",
        "qemu,runsc-cli,runc-cli",
        "--iterations",
        "2",
        "--forks",
        "2",
        "--memory-mib",
        "128",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["status"], "complete");

    // qemu: both modes in every iteration, interleaved; the state came back
    // in each restore and each fork; every snapshot file is gone.
    let q = &finding(&r, "qemu")["snapshot"];
    assert!(finding(&r, "qemu")["env"]["failed"].is_null());
    let modes: Vec<&str> = q["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["mode"].as_str().unwrap())
        .collect();
    // Background mode: measured where qemu accepts the capability, else
    // skipped with qemu's own answer to `migrate-set-capabilities`.
    match q["background_skipped"].as_str() {
        None => assert_eq!(
            modes,
            ["live", "full", "background", "full", "background", "live"]
        ),
        Some(why) => {
            assert!(
                why.contains("QMP migrate-set-capabilities:")
                    && why.contains("background-snapshot"),
                "{why}"
            );
            assert_eq!(modes, ["live", "full", "full", "live"]);
        }
    }
    for s in q["samples"].as_array().unwrap() {
        // The gap timelines the chart draws: ticker and ping loop, placed
        // around the snapshot's start (the ticker starts before it).
        let g = s["guest_gaps"].as_array().unwrap();
        assert!(g.first().unwrap()[0].as_f64().unwrap() < 0.0, "{s}");
        assert!(!s["host_gaps"].as_array().unwrap().is_empty(), "{s}");
        assert!(s["reported_pause_s"].as_f64().unwrap() >= 0.0);
        assert!(s["host_gap_s"].as_f64().unwrap() > 0.0, "{s}");
        assert!(s["guest_gap_s"].as_f64().unwrap() > 0.0, "{s}");
        assert!(s["pings"].as_u64().unwrap() >= 2, "{s}");
        assert!(s["bytes"].as_u64().unwrap() > 1 << 20, "{s}");
    }
    assert_eq!(q["restore_s"].as_array().unwrap().len(), 2);
    assert_eq!(q["forks"].as_array().unwrap().len(), 2);
    for f in q["forks"].as_array().unwrap() {
        assert!(f["pss_bytes"].as_u64().unwrap() > 0, "{f}");
    }
    assert_eq!(q["state_verified"], 4);
    assert_eq!(q["files_left"], 0);

    // gVisor: checkpoint and restore through the profile, state kept in
    // each restore and in both forks (new boxes restored from one image);
    // the ticker in the box and the host's exec loop saw the box away.
    let g = &finding(&r, "runsc-cli")["snapshot"];
    assert!(g["skipped"].is_null(), "{g}");
    assert_eq!(g["state_verified"], 4);
    for s in g["samples"].as_array().unwrap() {
        assert!(s["bytes"].as_u64().unwrap() > 0, "{s}");
        assert!(s["ticks"].as_u64().unwrap() >= 2, "{s}");
        assert!(s["guest_gap_s"].as_f64().unwrap() > 0.0, "{s}");
        // The host loop's largest gap spans checkpoint → restore.
        let host = s["host_gap_s"].as_f64().unwrap();
        assert!(host >= s["total_s"].as_f64().unwrap(), "{s}");
    }
    assert!(g["fork_skipped"].is_null(), "{g}");
    assert_eq!(g["forks"].as_array().unwrap().len(), 2);
    for f in g["forks"].as_array().unwrap() {
        assert!(f["clone_s"].as_f64().unwrap() > 0.0, "{f}");
        assert!(f["pss_bytes"].as_u64().unwrap() > 0, "{f}");
    }

    // runc: the skip is what `criu check` says here, run by the test itself.
    let criu = Command::new("criu")
        .arg("check")
        .output()
        .expect("criu: install the Debian package `criu` (`cargo xtask setup`)");
    let skip = finding(&r, "runc-cli")["snapshot"]["skipped"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if criu.status.success() {
        assert!(!skip.contains("fails on this kernel"), "{skip}");
    } else {
        let text = String::from_utf8_lossy(&criu.stderr).into_owned()
            + &String::from_utf8_lossy(&criu.stdout);
        let first_error = text
            .lines()
            .find(|l| l.starts_with("Error"))
            .and_then(|l| l.split_once("): "))
            .map(|(_, why)| why.trim().to_string())
            .expect("criu check failed without an Error line");
        assert!(
            skip.contains("`criu check` fails") && skip.contains(&first_error),
            "skip {skip:?} does not carry criu's reason {first_error:?}"
        );
    }
    let lane_skips = r["lanes"][0]["skipped"].to_string();
    assert!(
        lane_skips.contains("runc-cli snapshot SKIPPED"),
        "{lane_skips}"
    );

    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("### Snapshot, restore and fork"),
        "{report}"
    );
    assert!(results
        .path()
        .join(&id)
        .join("charts/box_snapshot-pause.svg")
        .is_file());
    assert!(results
        .path()
        .join(&id)
        .join("charts/box_snapshot-gaps.svg")
        .is_file());
    nothing_left(&id);
}

/// Ground truth: 128 MiB of non-zero pages held in the guest are pages
/// every snapshot must copy. A full snapshot copies them while the guest is
/// stopped (longer pause); a live one copies them while it runs (longer
/// total time) and stops it only for what was dirtied meanwhile.
#[test]
fn more_resident_memory_lengthens_the_full_pause_and_live_total_not_the_live_pause() {
    let _g = serial();
    let measure = |hold: &str| {
        let results = tempfile::tempdir().unwrap();
        let out = run(xtask(results.path()).args([
            "box",
            "snapshot",
            "--profile",
            "qemu",
            "--iterations",
            "3",
            "--forks",
            "0",
            "--memory-mib",
            "256",
            "--hold-mib",
            hold,
        ]));
        assert_eq!(out.status.code(), Some(0));
        let id = only_run(results.path());
        let r = record(results.path(), &id);
        nothing_left(&id);
        finding(&r, "qemu")["snapshot"].clone()
    };
    let small = measure("0");
    let big = measure("128");
    let full = |s: &Value| p50(&mode(s, "full")["reported_pause"]);
    let live_pause = |s: &Value| p50(&mode(s, "live")["reported_pause"]);
    let live_total = |s: &Value| p50(&mode(s, "live")["total"]);
    let bytes = |s: &Value| mode(s, "full")["bytes"].as_u64().unwrap();
    eprintln!(
        "full pause {:.3} → {:.3} s, live total {:.3} → {:.3} s, live pause {:.3} → {:.3} s, size {} → {} MiB",
        full(&small),
        full(&big),
        live_total(&small),
        live_total(&big),
        live_pause(&small),
        live_pause(&big),
        bytes(&small) >> 20,
        bytes(&big) >> 20
    );
    assert!(bytes(&big) > bytes(&small) + (100 << 20));
    assert!(full(&big) > full(&small), "full pause did not grow");
    assert!(
        live_total(&big) > live_total(&small),
        "live total did not grow"
    );
    assert!(
        live_pause(&big) < full(&big),
        "live pause not below the full pause"
    );
}

#[test]
fn bad_settings_are_refused_before_anything_starts() {
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "box",
        "snapshot",
        "--memory-mib",
        "128",
        "--hold-mib",
        "100",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--hold-mib 100"), "{err}");
    assert!(std::fs::read_dir(results.path())
        .map(|d| d.count() == 0)
        .unwrap_or(true));
}
