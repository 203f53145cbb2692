//! Helpers shared by the integration tests: the real binary, the real
//! engine, one test at a time per binary.
#![allow(dead_code)] // each test binary uses its own subset

pub mod service;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

/// Tests that touch the engine run one at a time: `clean` and the leftover
/// checks look at every runcost-labelled object.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn xtask(results: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    // A 1.5 s warm-up window in place of the profiles' 3 s: the bundled
    // targets are flat once ready, so a cell waited the whole window, and
    // the tests' cells spent minutes of CI on it.
    c.env("RUNCOST_ROOT", root())
        .arg("--results")
        .arg(results)
        .arg("--quiet")
        .args(["--steady-window", "1500ms"]);
    c
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run xtask");
    eprintln!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Labelled containers, networks and volumes of a run (or of any run) still on the engine.
pub fn leftovers(run_id: Option<&str>) -> usize {
    let label = match run_id {
        Some(id) => format!("label=dev.runcost.run={id}"),
        None => "label=dev.runcost.run".to_string(),
    };
    let count = |args: &[&str]| -> usize {
        let out = Command::new("docker")
            .args(args)
            .args(["--filter", &label, "-q"])
            .output()
            .expect("docker");
        assert!(out.status.success(), "docker {args:?} failed");
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    count(&["ps", "-a"]) + count(&["network", "ls"]) + count(&["volume", "ls"])
}

pub fn record(results: &Path, id: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(results.join(id).join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("run.json is JSON")
}

pub fn only_run(results: &Path) -> String {
    let runs: Vec<String> = std::fs::read_dir(results)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("run.json").is_file() && !e.path().is_symlink())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 1, "exactly one run dir: {runs:?}");
    runs[0].clone()
}

/// The run the results directory's `latest` link names.
pub fn latest(results: &Path) -> String {
    std::fs::read_link(results.join("latest"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The median of a metric's aggregate in the run's first lane.
pub fn median(r: &serde_json::Value, metric: &str) -> f64 {
    r["lanes"][0]["aggregates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["metric"] == metric)
        .and_then(|a| a["median"].as_f64())
        .unwrap_or_else(|| panic!("no {metric} aggregate in {r}"))
}

/// Runs a lane command (`footprint`, `scaling`, ...) into `results`,
/// asserts it exits 0, and returns the new run's id and record.
pub fn lane_run(results: &Path, args: &[&str]) -> (String, serde_json::Value) {
    let out = run(xtask(results).args(args));
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    let id = latest(results);
    let r = record(results, &id);
    (id, r)
}

/// Makes baseline `name` from `run_id` (`update-baseline`, overloaded
/// hosts allowed: CI machines that just compiled are busy) and moves it out
/// of the repository into `dir`; returns its path there.
pub fn make_baseline(results: &Path, run_id: &str, name: &str, dir: &Path) -> PathBuf {
    let out = run(xtask(results).args([
        "update-baseline",
        "--run",
        run_id,
        "--name",
        name,
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let written = root().join(format!("baselines/{name}.json"));
    let kept = dir.join(format!("{name}.json"));
    std::fs::rename(&written, &kept).unwrap();
    kept
}

/// `compare --baseline B --run R --json --allow-overloaded`: the exit code
/// and the comparison as JSON.
pub fn compare_json(
    results: &Path,
    baseline: &Path,
    run_id: &str,
) -> (Option<i32>, serde_json::Value) {
    let out = run(xtask(results).args([
        "--json",
        "compare",
        "--baseline",
        baseline.to_str().unwrap(),
        "--run",
        run_id,
        "--allow-overloaded",
    ]));
    let json = serde_json::from_slice(&out.stdout).expect("compare --json prints JSON");
    (out.status.code(), json)
}

/// A memory category of a cell's attribution (`heap`, `anon`, ...).
pub fn category<'a>(cell: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    cell["attribution"]["memory"]
        .as_array()
        .expect("attribution.memory")
        .iter()
        .find(|m| m["category"] == name)
        .unwrap_or_else(|| panic!("no {name} in {}", cell["attribution"]["memory"]))
}

/// A cell's value of one sampled metric.
pub fn cell_metric(cell: &serde_json::Value, metric: &str) -> f64 {
    cell["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == metric)
        .and_then(|m| m["value"].as_f64())
        .unwrap_or_else(|| panic!("no {metric} in {}", cell["metrics"]))
}
