//! Fault lane against the real engine and the gateway: a burst's peak and
//! recovery, memory a fault keeps, an engine pause seen by the client, and
//! bad input.

mod common;
use common::*;

use std::path::Path;

fn finding(results: &Path) -> (String, serde_json::Value) {
    let id = std::fs::read_link(results.join("latest"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join(&id).join("run.json")).unwrap())
            .unwrap();
    (id, r["lanes"][0]["findings"][0].clone())
}

/// 100 000 entities of 64 B: each fault rewrites a 6.4 MB snapshot.
const BIG: [&str; 6] = [
    "--env",
    "ENTITIES=100000",
    "--env",
    "ENTITY_BYTES=64",
    "--env",
    "REFRESH_MS=0",
];

#[test]
fn a_burst_peaks_and_recovers_and_kept_records_do_not() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path())
        .args([
            "fault",
            "--burst",
            "200",
            "--repeats",
            "1",
            "--before",
            "3s",
            "--after",
            "6s",
        ])
        .args(BIG)
        .args(["--env", "FAULT_RECORD_BYTES=1024"]));
    assert_eq!(out.status.code(), Some(0));
    let (id, f) = finding(results.path());
    assert_eq!(f["kind"], "fault");
    assert_eq!(f["verdict"], "RECOVERED", "{f}");
    let r = &f["repeats"][0];
    let peak = r["uss"]["peak_delta"].as_f64().unwrap();
    assert!(
        peak > 4.0 * 1048576.0,
        "the 6.4 MB snapshot shows as a peak: {peak}"
    );
    assert!(r["uss"]["recovered_after_s"].as_f64().unwrap() < 3.0, "{r}");
    assert!(results
        .path()
        .join(&id)
        .join("charts/fault-r0-burst.png")
        .is_file());
    assert_eq!(leftovers(Some(&id)), 0);

    // Records kept forever: 200 × 64 KiB = 12.5 MiB that never come back.
    let out = run(xtask(results.path())
        .args([
            "fault",
            "--burst",
            "200",
            "--repeats",
            "1",
            "--before",
            "3s",
            "--after",
            "6s",
        ])
        .args(BIG)
        .args([
            "--env",
            "FAULT_RETAIN=1",
            "--env",
            "FAULT_RECORD_BYTES=65536",
        ]));
    assert_eq!(out.status.code(), Some(0));
    let (id, f) = finding(results.path());
    assert_eq!(f["verdict"], "RETAINED", "{f}");
    let r = &f["repeats"][0];
    assert!(
        r["uss"]["recovered_after_s"].is_null(),
        "not recovered: {r}"
    );
    let kept = r["uss"]["retained"].as_f64().unwrap();
    assert!(kept > 10.0 * 1048576.0, "retained {kept}");
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("**not recovered**") && report.contains("RETAINED"),
        "{report}"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn a_one_second_pause_is_a_one_second_gap_for_the_client() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pause.yaml");
    let base = std::fs::read_to_string(root().join("profiles/gateway.yaml")).unwrap();
    let cut = base.find("\nfault:").unwrap();
    let text = format!(
        "{}\nfault:\n  action: {{ engine: {{ op: pause, duration: 1s }} }}\n",
        base[..cut].replace("../", &format!("{}/", root().display()))
    );
    std::fs::write(&p, text).unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "fault",
        "--profile",
        p.to_str().unwrap(),
        "--repeats",
        "1",
        "--before",
        "2s",
        "--after",
        "4s",
        "--probe-rate",
        "50",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let (id, f) = finding(results.path());
    let gap = f["repeats"][0]["probe"]["longest_gap_s"].as_f64().unwrap();
    // Resolution: the probe period (20 ms) plus the engine's pause/unpause calls.
    assert!((0.95..1.5).contains(&gap), "gap {gap} s for a 1 s pause");
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn bad_fault_input_is_refused_or_reported() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args(["fault", "--burst", "0"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--burst 0"));

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.yaml");
    let base = std::fs::read_to_string(root().join("profiles/gateway.yaml")).unwrap();
    let cut = base.find("\nfault:").unwrap();
    let head = base[..cut].replace("../", &format!("{}/", root().display()));
    std::fs::write(
        &p,
        format!("{head}\nfault:\n  action: {{ teleport: {{}} }}\n"),
    )
    .unwrap();
    let out = run(xtask(results.path()).args(["fault", "--profile", p.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown variant `teleport`") && err.contains("f.yaml"),
        "{err}"
    );

    // A command that fails in the container: the cell fails with its exit code.
    std::fs::write(
        &p,
        format!("{head}\nfault:\n  action: {{ exec: [\"/bin/false\"] }}\n"),
    )
    .unwrap();
    let out = run(xtask(results.path()).args([
        "fault",
        "--profile",
        p.to_str().unwrap(),
        "--repeats",
        "1",
        "--before",
        "1s",
        "--after",
        "2s",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited 1"));

    // A target killed by the fault: the result says when it died.
    std::fs::write(
        &p,
        format!("{head}\nfault:\n  action: {{ engine: {{ op: kill }} }}\n"),
    )
    .unwrap();
    let out = run(xtask(results.path()).args([
        "fault",
        "--profile",
        p.to_str().unwrap(),
        "--repeats",
        "1",
        "--before",
        "1s",
        "--after",
        "3s",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("target died at t="));
    let id = std::fs::read_link(results.path().join("latest"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(leftovers(Some(&id)), 0);
}
