//! Helpers shared by the integration tests: the real binary, the real
//! engine, one test at a time per binary.
#![allow(dead_code)] // each test binary uses its own subset

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
    c.env("RUNCOST_ROOT", root())
        .arg("--results")
        .arg(results)
        .arg("--quiet");
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
