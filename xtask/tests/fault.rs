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
    // The lane attributes its window like the others: categories and the
    // gateway's named threads, in the record and the report.
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.path().join(&id).join("run.json")).unwrap())
            .unwrap();
    let a = r["lanes"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "attribution")
        .unwrap_or_else(|| panic!("no attribution finding: {r}"));
    let cats = a["categories"].as_array().unwrap();
    assert!(cats.iter().any(|c| c["category"] == "heap"), "{a}");
    assert!(!a["threads"].as_array().unwrap().is_empty(), "{a}");
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("| category | USS | PSS | RSS |"),
        "{report}"
    );
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

/// Two named processes (a shell that supervises the gateway) and an engine
/// restart: both are measured on their own, the samplers find the new
/// processes after the restart, and the target counts as alive.
#[test]
fn a_restart_is_followed_and_each_named_process_is_measured() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    // `$$` is compose's escape for a literal `$`.
    std::fs::write(
        dir.path().join("compose.yml"),
        r#"services:
  gateway:
    image: runcost/gateway:dev
    environment:
      PORT: "8080"
    entrypoint: ["sh", "-c", "trap 'kill $$pid; wait $$pid; exit 0' TERM; /usr/local/bin/gateway & pid=$$!; wait $$pid"]
    stop_grace_period: 10s
"#,
    )
    .unwrap();
    let base = std::fs::read_to_string(root().join("profiles/gateway.yaml")).unwrap();
    let cut = base.find("\nload:").unwrap();
    let head = base[..cut]
        .replace("../compose/gateway.yml", "compose.yml")
        .replace("process: gateway", "process: [gateway, sh]")
        .replace("../", &format!("{}/", root().display()));
    assert!(head.contains("process: [gateway, sh]"));
    let p = dir.path().join("restart.yaml");
    std::fs::write(
        &p,
        format!("{head}\nfault:\n  action: {{ engine: {{ op: restart }} }}\n"),
    )
    .unwrap();
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
        "5s",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let (id, f) = finding(results.path());
    let r = &f["repeats"][0];
    assert!(r["died_at"].is_null(), "{r}");
    let (start, end) = (
        r["burst"][0].as_f64().unwrap(),
        r["burst"][1].as_f64().unwrap(),
    );
    let gap = r["sample_gap_s"].as_f64().unwrap();
    assert!(
        gap > 0.0 && gap <= end - start + 1.0,
        "gap {gap} for a restart of {:.2} s",
        end - start
    );
    // The client finds the restarted target (a new host port) and its
    // longest gap covers the restart.
    assert!(r["probe"]["p50_after_ms"].is_number(), "{r}");
    let client_gap = r["probe"]["longest_gap_s"].as_f64().unwrap();
    assert!(client_gap >= 0.5 * (end - start), "client gap {client_gap}");
    // Samples after the restart come from the new processes.
    let csv =
        std::fs::read_to_string(results.path().join(&id).join("samples/fault-r0.csv")).unwrap();
    let last_t: f64 = csv
        .lines()
        .last()
        .and_then(|l| l.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(
        last_t > end + 3.0,
        "sampling stopped at {last_t}, restart ended at {end}"
    );
    let procs = r["processes"].as_array().unwrap();
    let names: Vec<&str> = procs.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gateway", "sh"]);
    let base_of = |i: usize| procs[i]["uss"]["baseline"].as_f64().unwrap();
    assert!(
        base_of(0) > 4.0 * base_of(1),
        "the gateway (16 MiB base) costs more than its shell: {} vs {}",
        base_of(0),
        base_of(1)
    );
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(report.contains("Each named process on its own"), "{report}");
    assert_eq!(leftovers(Some(&id)), 0);
}
