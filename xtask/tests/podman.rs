//! Podman as the engine: a `podman system service` the test starts itself
//! (its own storage and socket under a temp dir), the gateway image copied
//! in from the local engine, then footprint, scaling, compare and a scoped
//! `clean` through `--engine unix://…/podman.sock`, and what differs on
//! Podman detected and recorded. Then the fault: the service killed
//! mid-run is exit 2 with the cause and the fix, the run partial with
//! nothing measured, nothing left on the local engine.

mod common;
#[path = "common/podman.rs"]
mod podman;

use common::{leftovers, record, root, run, serial, xtask};
use podman::PodmanService;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SHORT: [&str; 6] = ["--repeats", "2", "--duration", "2s", "--max-duration", "2s"];

fn footprint(results: &Path, url: &str) -> String {
    let out = run(xtask(results)
        .args(["--engine", url, "footprint"])
        .args(SHORT));
    assert_eq!(out.status.code(), Some(0));
    common::latest(results)
}

#[test]
fn footprint_scaling_compare_and_clean_through_podman() {
    assert!(
        podman::available(),
        "podman missing: run `cargo xtask setup`"
    );
    let _g = serial();
    let t0 = Instant::now();
    let engine = PodmanService::start();
    engine.load_image("runcost/gateway:dev");
    eprintln!("podman up and image loaded in {:?}", t0.elapsed());
    let results = tempfile::tempdir().unwrap();
    let url = engine.url.clone();

    let base = footprint(results.path(), &url);
    let r = record(results.path(), &base);
    let e = &r["engine"];
    assert_eq!(e["kind"], "podman");
    assert_eq!(e["transport"], "unix");
    assert_eq!(e["traits"]["runtime"], "runc");
    // Detected, not configured: this host's hard limits, capped.
    let ulimits: Vec<&str> = e["traits"]["ulimits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        ulimits.iter().any(|u| u.starts_with("nofile="))
            && ulimits.iter().any(|u| u.starts_with("nproc=")),
        "{ulimits:?}"
    );
    let cg = &e["traits"]["cgroup"];
    assert_eq!(cg["kind"], "visible", "{cg}");
    assert!(
        cg["memory"].as_str().unwrap().contains("libpod"),
        "Podman's cgroup layout: {cg}"
    );
    assert!(e["traits"]["compose"].as_str().unwrap().starts_with('v'));
    // Rootful Podman shares this PID namespace: auto picks the host sampler.
    for cell in r["lanes"][0]["cells"].as_array().unwrap() {
        assert_eq!(cell["sampler_mode"], "host", "{cell}");
    }
    assert!(common::median(&r, "uss") > 10.0 * 1048576.0);
    assert_eq!(
        r["host"]["engine_version"]
            .as_str()
            .map(|s| s.starts_with("4.")),
        Some(true),
        "{}",
        r["host"]
    );
    let report = std::fs::read_to_string(results.path().join(&base).join("report.md")).unwrap();
    assert!(
        report.contains("| engine traits |") && report.contains("libpod"),
        "{report}"
    );

    // Scaling with the exec sampler: the uploaded reader works in Podman's
    // containers too.
    let out = run(xtask(results.path()).args([
        "--engine",
        &url,
        "scaling",
        "--entities",
        "10,100,1000",
        "--repeats",
        "1",
        "--duration",
        "2s",
        "--max-duration",
        "2s",
        "--sampler",
        "exec",
        "--env",
        "ENTITY_BYTES=65536",
        "--env",
        "REFRESH_MS=0",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let scaling = common::latest(results.path());
    let s = record(results.path(), &scaling);
    let cells = s["lanes"][0]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3);
    assert!(
        cells
            .iter()
            .all(|c| c["status"] == "ok" && c["sampler_mode"] == "exec"),
        "{cells:?}"
    );
    // One repeat per count: a finding, but no verdict is claimed from it.
    assert_eq!(s["lanes"][0]["findings"][0]["kind"], "scaling");

    let out = run(xtask(results.path()).args([
        "update-baseline",
        "--run",
        &base,
        "--name",
        "podman-e2e",
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let baselines = tempfile::tempdir().unwrap();
    let baseline = baselines.path().join("podman-e2e.json");
    std::fs::rename(root().join("baselines/podman-e2e.json"), &baseline).unwrap();
    let same = footprint(results.path(), &url);
    let out = run(xtask(results.path()).args([
        "compare",
        "--baseline",
        baseline.to_str().unwrap(),
        "--run",
        &same,
        "--allow-overloaded",
    ]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "an unchanged build passes on Podman"
    );

    // One run id on both engines: `clean --run` through Podman removes
    // Podman's container only.
    let run_id = format!("podman-iso-{}", std::process::id());
    let label = format!("dev.runcost.run={run_id}");
    let made = engine.docker(&["create", "--label", &label, "runcost/gateway:dev"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let local = Command::new("docker")
        .args(["create", "--label", &label, "runcost/gateway:dev"])
        .output()
        .unwrap();
    assert!(local.status.success());
    let out = run(xtask(results.path()).args(["--engine", &url, "clean", "--run", &run_id]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(engine.labelled(&run_id), 0, "removed on Podman");
    assert_eq!(leftovers(Some(&run_id)), 1, "the local one untouched");
    let out = run(xtask(results.path()).args(["clean", "--run", &run_id]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(leftovers(Some(&run_id)), 0);
    for id in [&base, &scaling, &same] {
        assert_eq!(engine.labelled(id), 0, "{id} left nothing on Podman");
        assert_eq!(leftovers(Some(id)), 0, "{id} left nothing locally");
    }
    eprintln!("podman end to end: {:?}", t0.elapsed());
}

#[test]
fn an_engine_that_dies_mid_run_is_a_partial_run_and_exit_2() {
    assert!(
        podman::available(),
        "podman missing: run `cargo xtask setup`"
    );
    let _g = serial();
    let t0 = Instant::now();
    let mut engine = PodmanService::start();
    engine.load_image("runcost/gateway:dev");
    let results = tempfile::tempdir().unwrap();
    let child = xtask(results.path())
        .args(["--engine", &engine.url, "footprint"])
        .args(["--repeats", "1", "--duration", "4s", "--max-duration", "4s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the service once the target runs: mid-run, not at connect.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = engine.podman(&[
            "ps",
            "-q",
            "--filter",
            "label=dev.runcost.run",
            "--filter",
            "status=running",
        ]);
        if !String::from_utf8_lossy(&up.stdout).trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the target never started on Podman"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    engine.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("stderr:\n{err}");
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("stopped answering") && err.contains("clean --run"),
        "the cause and the fix: {err}"
    );
    let id = common::only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["status"], "partial", "{}", r["status"]);
    assert!(
        r["lanes"].as_array().unwrap().is_empty(),
        "nothing reported as measured: {}",
        r["lanes"]
    );
    assert_eq!(leftovers(Some(&id)), 0, "nothing on the local engine");
    // The fix the message gives works: restart, then clean through it.
    engine.spawn();
    let out = run(xtask(results.path()).args(["--engine", &engine.url, "clean", "--run", &id]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        engine.labelled(&id),
        0,
        "clean through the restarted engine"
    );
    eprintln!("engine-gone fault: {:?}", t0.elapsed());
}
