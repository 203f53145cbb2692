//! A second engine the test starts itself, reached only over tcp:// on an
//! address inside a network namespace the test creates (veth pair) and
//! removes: a footprint run and a compare through `--engine`, the exec
//! sampler chosen automatically (the engine runs in its own PID
//! namespace, so its PIDs are not this host's), and `clean --run` on one
//! engine leaving the other's containers alone.

mod common;

#[path = "common/second.rs"]
mod second;

use common::{record, root, run, serial, xtask};
use second::{local_labelled, Listen, SecondEngine};
use std::path::{Path, PathBuf};
use std::process::Command;

fn footprint(results: &Path, url: &str) -> String {
    let out = run(xtask(results).args([
        "--engine",
        url,
        "footprint",
        "--repeats",
        "2",
        "--duration",
        "2s",
        "--max-duration",
        "2s",
    ]));
    assert_eq!(out.status.code(), Some(0));
    common::latest(results)
}

#[test]
fn footprint_compare_and_clean_through_a_tcp_engine_in_a_test_namespace() {
    let _g = serial();
    let engine = SecondEngine::start(Listen::Tcp);
    engine.load_image("runcost/gateway:dev");
    let results = tempfile::tempdir().unwrap();

    let base = footprint(results.path(), &engine.url);
    let r = record(results.path(), &base);
    assert_eq!(r["engine"]["transport"], "tcp");
    assert_eq!(r["engine"]["kind"], "docker");
    assert_eq!(r["engine"]["traffic"]["kind"], "network");
    assert_eq!(r["settings"]["sampler"], "auto");
    for cell in r["lanes"][0]["cells"].as_array().unwrap() {
        assert_eq!(cell["sampler_mode"], "exec", "chosen, not asked: {cell}");
    }
    assert!(common::median(&r, "uss") > 10.0 * 1048576.0);
    let report = std::fs::read_to_string(results.path().join(&base).join("report.md")).unwrap();
    assert!(report.contains("traffic crossed a network"), "{report}");

    let out = run(xtask(results.path()).args([
        "update-baseline",
        "--run",
        &base,
        "--name",
        "remote-e2e",
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let baselines = tempfile::tempdir().unwrap();
    let baseline: PathBuf = baselines.path().join("remote-e2e.json");
    std::fs::rename(root().join("baselines/remote-e2e.json"), &baseline).unwrap();
    let same = footprint(results.path(), &engine.url);
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
        "an unchanged build passes remotely"
    );

    // One run id on both engines: each `clean` removes its engine's only.
    let label = format!("dev.runcost.run=remote-iso-{}", engine.netns.id);
    let run_id = label.split('=').nth(1).unwrap().to_string();
    let create = |host: Option<&str>| {
        let mut c = Command::new("docker");
        if let Some(h) = host {
            c.args(["-H", h]);
        }
        let ok = c
            .args(["create", "--label", &label, "runcost/gateway:dev"])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "create a labelled container");
    };
    create(None);
    create(Some(&engine.url));
    let out = run(xtask(results.path()).args(["--engine", &engine.url, "clean", "--run", &run_id]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        engine.labelled(&run_id),
        0,
        "remote clean removed the remote one"
    );
    assert_eq!(local_labelled(&run_id), 1, "and left the local one");
    create(Some(&engine.url));
    let out = run(xtask(results.path()).args(["clean", "--run", &run_id]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        local_labelled(&run_id),
        0,
        "local clean removed the local one"
    );
    assert_eq!(engine.labelled(&run_id), 1, "and left the remote one");
    for id in [&base, &same] {
        assert_eq!(engine.labelled(id), 0);
        assert_eq!(local_labelled(id), 0);
    }
}

#[test]
fn an_unreachable_or_malformed_engine_is_refused_with_the_fix() {
    let results = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens.
    let out = run(xtask(results.path()).args(["--engine", "tcp://127.0.0.1:1", "footprint"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not reachable") && err.contains("listens there"),
        "{err}"
    );
    let out = run(xtask(results.path()).args(["--engine", "tcp://127.0.0.1:x", "footprint"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a number"));
    let out = run(xtask(results.path())
        .env("DOCKER_HOST", "https://127.0.0.1:2376")
        .args(["footprint"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS engines are not supported"));
    assert!(
        std::fs::read_dir(results.path()).unwrap().next().is_none(),
        "nothing written"
    );
}
