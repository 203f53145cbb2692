//! The run frame and the cell frame keep their phases in order, on the
//! real engine: every run's `events.jsonl` (the recording event sink) is
//! read back and checked. setup → ready → warm-up → measure → teardown →
//! done per cell, cells one after another, the run's start and finish
//! around them; a cell that fails before it is ready is still torn down.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// The `kind`s of a run's events, with their data, in order.
fn events(results: &Path, run: &str) -> Vec<(String, Value)> {
    let text =
        std::fs::read_to_string(results.join(run).join("events.jsonl")).expect("events.jsonl");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("an event per line");
            let e = &v["event"];
            (
                e["kind"].as_str().expect("kind").to_string(),
                e["data"].clone(),
            )
        })
        .collect()
}

/// The phases each cell went through, in the order they happened.
fn phases_by_cell(ev: &[(String, Value)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (kind, data) in ev {
        let Some(cell) = data.get("cell").and_then(Value::as_str) else {
            continue;
        };
        match out.last_mut() {
            Some((c, phases)) if c == cell => phases.push(kind.clone()),
            _ => {
                assert!(
                    out.iter().all(|(c, _)| c != cell),
                    "cell {cell} interleaved with another: {ev:?}"
                );
                out.push((cell.to_string(), vec![kind.clone()]));
            }
        }
    }
    out
}

#[test]
fn a_run_and_its_cells_go_through_their_phases_in_order() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let out = run(xtask(dir.path()).args([
        "footprint",
        "--repeats",
        "2",
        "--duration",
        "2s",
        "--max-duration",
        "2s",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(dir.path());
    let ev = events(dir.path(), &id);
    let kinds: Vec<&str> = ev.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"run_started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"run_finished"), "{kinds:?}");
    assert_eq!(ev.last().unwrap().1["status"], "complete");
    let lane = kinds
        .iter()
        .position(|k| *k == "lane_started")
        .expect("lane_started");
    let first_cell = kinds
        .iter()
        .position(|k| *k == "cell_started")
        .expect("cell_started");
    assert!(lane < first_cell, "{kinds:?}");

    let cells = phases_by_cell(&ev);
    assert_eq!(cells.len(), 2, "{cells:?}");
    for (cell, phases) in &cells {
        let warm = if phases.iter().any(|p| p == "steady") {
            "steady"
        } else {
            "not_steady"
        };
        assert_eq!(
            phases,
            &[
                "cell_started",
                "cell_ready",
                warm,
                "measuring",
                "torn_down",
                "cell_done"
            ],
            "{cell}"
        );
    }
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn a_cell_that_never_gets_ready_is_still_torn_down() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    // The gateway's image with a ready endpoint that does not exist.
    let compose = root().join("compose/gateway.yml");
    let path = dir.path().join("never-ready.yaml");
    std::fs::write(
        &path,
        format!(
            "name: never-ready\ncompose: {}\nservice: gateway\nprocess: gateway\n\
             ready:\n  http: {{ port: 8080, path: /no-such-endpoint }}\n  timeout: 3s\n",
            compose.display()
        ),
    )
    .unwrap();
    let results = dir.path().join("results");
    let out = run(xtask(&results).args([
        "footprint",
        "--profile",
        path.to_str().unwrap(),
        "--repeats",
        "1",
    ]));
    assert_eq!(out.status.code(), Some(2), "a cell that failed is exit 2");
    let id = only_run(&results);
    let ev = events(&results, &id);
    let cells = phases_by_cell(&ev);
    assert_eq!(cells.len(), 1, "{cells:?}");
    assert_eq!(cells[0].1, ["cell_started", "torn_down", "cell_done"]);
    let done = &ev.iter().rev().find(|(k, _)| k == "cell_done").unwrap().1;
    assert_eq!(done["ok"], false);
    assert!(
        done["detail"]
            .as_str()
            .unwrap()
            .contains("never became ready"),
        "{done}"
    );
    assert_eq!(ev.last().unwrap().1["status"], "failed");
    assert_eq!(leftovers(Some(&id)), 0, "the failed cell's project is gone");
}

/// A judged metric the probe cannot read refuses the lane (exit 2) with
/// the reason and the metrics it could judge; cells after the first are
/// not started. On cgroup v1 (this CI's hosts) memory.stat has no socket
/// memory, so `cgroup_sock` is such a metric.
#[test]
fn a_judged_metric_the_probe_cannot_read_refuses_the_lane() {
    assert!(
        Path::new("/sys/fs/cgroup/memory/memory.stat").is_file(),
        "this test needs a cgroup v1 memory controller, where socket memory is not exposed"
    );
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let out = run(xtask(&results).args([
        "scaling",
        "--entities",
        "1,2,3",
        "--repeats",
        "1",
        "--duration",
        "1s",
        "--max-duration",
        "1s",
        "--metric",
        "cgroup-sock",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`cgroup_sock` is unavailable")
            && err.contains("no socket memory")
            && err.contains("cgroup_shmem"),
        "{err}"
    );
    let id = only_run(&results);
    let ev = events(&results, &id);
    let started = ev.iter().filter(|(k, _)| k == "cell_ready").count();
    assert_eq!(started, 1, "only the first cell starts a target: {ev:?}");
    let r = record(&results, &id);
    let cells = r["lanes"][0]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3);
    // Cells run in a seeded random order, and the record lists them by
    // size: whichever ran first holds the cause, the other two were never
    // started.
    let not_run = cells
        .iter()
        .filter(|c| {
            c["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("not run:"))
        })
        .count();
    assert_eq!(not_run, 2, "{cells:?}");
    assert!(
        r["status_reason"].as_str().unwrap().contains("cgroup_sock"),
        "{r}"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn a_box_run_goes_through_the_same_run_frame() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let out = run(xtask(dir.path()).args([
        "box",
        "lifecycle",
        "--backend",
        "container",
        "--repeats",
        "2",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(dir.path());
    let kinds: Vec<String> = events(dir.path(), &id)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("run_started"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("run_finished"),
        "{kinds:?}"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}
