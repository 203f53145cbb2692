//! Calibration of the leak lanes on the gateway's planted leaks, and their
//! refusals, against the real engine (`cargo xtask setup` builds the gateway
//! and its tools image). Each test runs the real binary with short windows;
//! the figures they observe are printed (`--nocapture`).

mod common;
use common::*;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The run's one finding of `kind`, and the run id.
fn finding(results: &Path, kind: &str) -> (String, Value) {
    let id = only_run(results);
    let r = record(results, &id);
    let f = r["lanes"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding in {}", r["lanes"][0]))
        .clone();
    assert_eq!(leftovers(Some(&id)), 0, "run {id} left objects behind");
    (id, f)
}

fn sites(rows: &Value) -> Vec<(String, String)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["site"].as_str().unwrap_or("").to_string(),
                r["location"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

const LEAK_RATE: u64 = 200_000;
const PER_DELETE: u64 = 8192;
const CYCLES: u64 = 20;
const BATCH: u64 = 10;

#[test]
fn heap_reports_the_planted_leaks_and_passes_a_clean_gateway() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let out = run(xtask(results.path()).args([
        "heap",
        "--duration",
        "4s",
        "--cycles",
        &CYCLES.to_string(),
        "--env",
        &format!("LEAK_BYTES_PER_S={LEAK_RATE}"),
        "--env",
        &format!("LEAK_PER_DELETE_BYTES={PER_DELETE}"),
    ]));
    let wall = t0.elapsed();
    assert_eq!(out.status.code(), Some(1), "LEAK exits 1");
    let (id, f) = finding(results.path(), "heap");
    assert_eq!(f["verdict"], "leak");
    let leaked = f["leaked_bytes"].as_u64().unwrap();
    let deletes = CYCLES * BATCH * PER_DELETE;
    // heaptrack rounds to 3 digits; at least 4 s of the background leak.
    assert!(
        leaked as f64 >= 0.95 * (deletes + 4 * LEAK_RATE) as f64,
        "leaked {leaked}"
    );
    assert!(leaked < deletes + 20 * LEAK_RATE, "leaked {leaked}");
    let top = sites(&f["leaks"]);
    assert!(
        top.iter()
            .take(3)
            .any(|(s, l)| s == "leak_tick" && l.contains("leak.rs")),
        "{top:?}"
    );
    assert!(
        top.iter()
            .take(3)
            .any(|(s, l)| s == "leak_on_delete" && l.contains("leak.rs")),
        "{top:?}"
    );
    let o = &f["overhead"];
    let (plain, traced) = (
        o["plain_peak_rss"].as_u64().unwrap(),
        o["heaptrack_peak_rss"].as_u64().unwrap(),
    );
    assert!(plain > 10 << 20 && traced > plain, "{o}");
    assert_eq!(f["exit"]["exit_code"], 0, "clean exit after SIGTERM");
    let dir = results.path().join(&id);
    for file in f["files"].as_array().unwrap() {
        assert!(dir.join(file.as_str().unwrap()).is_file(), "{file} kept");
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("### heaptrack: LEAK"), "{report}");
    assert!(report.contains("heaptrack's overhead"));
    eprintln!(
        "CALIBRATION heap leak: leaked {leaked} B (deletes {deletes} B + {LEAK_RATE} B/s), \
         top {:?}, peak RSS {plain} → {traced} B, wall {:.1} s",
        &top[..top.len().min(3)],
        wall.as_secs_f64()
    );

    let clean = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let out = run(xtask(clean.path()).args(["heap", "--duration", "3s", "--no-overhead"]));
    assert_eq!(out.status.code(), Some(0), "no leak exits 0");
    let (_, f) = finding(clean.path(), "heap");
    assert_eq!(f["verdict"], "no_leak");
    let leaked = f["leaked_bytes"].as_u64().unwrap();
    assert!(leaked < f["threshold_bytes"].as_u64().unwrap());
    eprintln!(
        "CALIBRATION heap clean: leaked {leaked} B (runtime statics), threshold {}, wall {:.1} s",
        f["threshold_bytes"],
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn memcheck_reports_the_planted_leaks_and_passes_a_clean_gateway() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let out = run(xtask(results.path()).args([
        "memcheck",
        "--duration",
        "4s",
        "--cycles",
        &CYCLES.to_string(),
        "--env",
        &format!("LEAK_BYTES_PER_S={LEAK_RATE}"),
        "--env",
        &format!("LEAK_PER_DELETE_BYTES={PER_DELETE}"),
    ]));
    let wall = t0.elapsed();
    assert_eq!(out.status.code(), Some(1), "LEAK exits 1");
    let (_, f) = finding(results.path(), "memcheck");
    assert_eq!(f["verdict"], "leak");
    let definite = f["leaks"]["definitely_lost"]["bytes"].as_u64().unwrap();
    let deletes = CYCLES * BATCH * PER_DELETE;
    assert!(
        definite >= deletes + 3 * LEAK_RATE,
        "definitely lost {definite}"
    );
    assert!(
        definite < deletes + 30 * LEAK_RATE,
        "definitely lost {definite}"
    );
    let top = sites(&f["top_leaks"]);
    for want in ["gateway::leak::leak_tick", "gateway::leak::leak_on_delete"] {
        assert!(
            top.iter().take(3).any(|(s, _)| s == want),
            "{want} in {top:?}"
        );
    }
    // The per-delete leak is exact: one record of CYCLES × BATCH blocks.
    let on_delete = f["top_leaks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["site"] == "gateway::leak::leak_on_delete")
        .unwrap();
    assert_eq!(on_delete["bytes"].as_u64(), Some(deletes));
    assert_eq!(on_delete["count"].as_u64(), Some(CYCLES * BATCH));
    eprintln!(
        "CALIBRATION memcheck leak: definitely lost {definite} B in {} blocks (deletes {deletes} B exact), \
         top {:?}, wall {:.1} s",
        f["leaks"]["definitely_lost"]["blocks"],
        &top[..top.len().min(3)],
        wall.as_secs_f64()
    );

    let clean = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let out = run(xtask(clean.path()).args(["memcheck", "--duration", "3s", "--cycles", "5"]));
    assert_eq!(out.status.code(), Some(0), "no leak exits 0");
    let (_, f) = finding(clean.path(), "memcheck");
    assert_eq!(f["verdict"], "no_leak");
    assert_eq!(f["leaks"]["definitely_lost"]["bytes"], 0);
    eprintln!(
        "CALIBRATION memcheck clean: definitely {} B, indirectly {} B, possibly {} B, wall {:.1} s",
        f["leaks"]["definitely_lost"]["bytes"],
        f["leaks"]["indirectly_lost"]["bytes"],
        f["leaks"]["possibly_lost"]["bytes"],
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn churn_reports_a_per_delete_leak_and_passes_a_clean_gateway() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let out = run(xtask(results.path()).args([
        "churn",
        "--cycles",
        "200",
        "--settle",
        "1s",
        "--env",
        "LEAK_PER_DELETE_BYTES=4096",
    ]));
    let wall = t0.elapsed();
    assert_eq!(out.status.code(), Some(1), "LEAK exits 1");
    let (id, f) = finding(results.path(), "churn");
    assert_eq!(f["verdict"], "leak");
    let uss = &f["metrics"][0];
    assert_eq!(uss["metric"], "pss_anon");
    let slope = uss["test"]["churn"]["slope"].as_f64().unwrap();
    let (lo, hi) = (
        uss["test"]["churn"]["ci"]["lower"].as_f64().unwrap(),
        uss["test"]["churn"]["ci"]["upper"].as_f64().unwrap(),
    );
    let truth = (BATCH * 4096) as f64;
    // The allocator may amplify a leak (fragmentation), never hide it.
    assert!(slope > 0.5 * truth && slope < 3.0 * truth, "slope {slope}");
    assert!(
        std::fs::metadata(results.path().join(&id).join("charts/churn-memory.png")).is_ok(),
        "churn chart"
    );
    eprintln!(
        "CALIBRATION churn leak: anon memory {slope:.0} B/cycle [{lo:.0}, {hi:.0}] (planted {truth} B/cycle), \
         static {:.0} [{:.0}, {:.0}], wall {:.1} s",
        uss["test"]["reference"]["slope"].as_f64().unwrap(),
        uss["test"]["reference"]["ci"]["lower"].as_f64().unwrap(),
        uss["test"]["reference"]["ci"]["upper"].as_f64().unwrap(),
        wall.as_secs_f64()
    );

    let clean = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let out = run(xtask(clean.path()).args(["churn", "--cycles", "200", "--settle", "1s"]));
    assert_eq!(out.status.code(), Some(0), "no leak exits 0");
    let (_, f) = finding(clean.path(), "churn");
    assert_ne!(f["verdict"], "leak");
    let uss = &f["metrics"][0]["test"];
    eprintln!(
        "CALIBRATION churn clean: verdict {}, anon memory {:.0} B/cycle [{:.0}, {:.0}], floor {}, wall {:.1} s",
        f["verdict"],
        uss["churn"]["slope"].as_f64().unwrap(),
        uss["churn"]["ci"]["lower"].as_f64().unwrap(),
        uss["churn"]["ci"]["upper"].as_f64().unwrap(),
        uss["slope_floor"],
        t0.elapsed().as_secs_f64()
    );
}

/// A profile like the gateway's with a different `wrap:` (or none).
fn profile(dir: &Path, wrap: &str, churn: bool) -> PathBuf {
    let p = dir.join("p.yaml");
    let mut text = format!(
        "name: t\ncompose: {}\nservice: gateway\nprocess: gateway\n\
         ready: {{ http: {{ port: 8080, path: /health }}, timeout: 30s }}\n\
         env: {{ ENTITIES: \"10\" }}\n{wrap}",
        root().join("compose/gateway.yml").display()
    );
    if churn {
        text.push_str(
            "churn:\n  port: 8080\n  create: { method: POST, path: /entities, id: /id }\n  \
             delete: { method: DELETE, path: \"/entities/{id}\" }\n",
        );
    }
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn leak_lanes_refuse_bad_input_and_keep_what_the_tools_wrote() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();

    // No `wrap:` / no `churn:`: refused before anything starts.
    let results = tempfile::tempdir().unwrap();
    let p = profile(dir.path(), "", false);
    for lane in ["heap", "memcheck", "churn"] {
        let out = run(xtask(results.path()).args([lane, "--profile", p.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(2), "{lane}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("p.yaml") && err.contains("section"), "{err}");
    }
    assert_eq!(std::fs::read_dir(results.path()).unwrap().count(), 0);

    // heaptrack missing in the image: exit 2 with the cause, nothing left.
    let p = profile(
        dir.path(),
        "wrap: { argv: [/usr/local/bin/gateway], image: \"runcost/gateway:dev\" }\n",
        false,
    );
    let out = run(xtask(results.path()).args([
        "heap",
        "--no-overhead",
        "--profile",
        p.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`heaptrack` is not in the image") && err.contains("apt-get install"),
        "{err}"
    );
    let id = only_run(results.path());
    assert_eq!(record(results.path(), &id)["status"], "failed");
    assert_eq!(leftovers(Some(&id)), 0);

    // An argv that does not exist: valgrind cannot start it.
    let results = tempfile::tempdir().unwrap();
    let p = profile(
        dir.path(),
        "wrap: { argv: [/usr/local/bin/nope], image: \"runcost/gateway-tools:dev\", ready_timeout: 30s }\n",
        false,
    );
    let out = run(xtask(results.path()).args(["memcheck", "--profile", p.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not start under valgrind") && err.contains("/usr/local/bin/nope"),
        "{err}"
    );
    let id = only_run(results.path());
    let cell = results.path().join(&id).join("cells/memcheck");
    assert!(cell.join("container.log").is_file(), "the log is kept");
    assert_eq!(leftovers(Some(&id)), 0);

    // A target that crashes under heaptrack is a crash (exit 2), not a
    // clean run; the trace heaptrack wrote is kept.
    let results = tempfile::tempdir().unwrap();
    let child = xtask(results.path())
        .args(["heap", "--no-overhead", "--duration", "60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let gateway = wait_for_traced_gateway(Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    // SIGABRT, as `abort()` would: an external SIGSEGV only disarms the
    // stack-overflow handler Rust's runtime installs.
    let ok = Command::new("kill")
        .args(["-ABRT", &gateway.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let t0 = Instant::now();
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "exit {:?}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t0.elapsed() < Duration::from_secs(40), "noticed the crash");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("crashed under heaptrack") && err.contains("SIGABRT"),
        "{err}"
    );
    let id = only_run(results.path());
    let out_dir = results.path().join(&id).join("cells/heap-heaptrack/out");
    let kept: Vec<_> = std::fs::read_dir(&out_dir).unwrap().flatten().collect();
    assert!(
        !kept.is_empty(),
        "heaptrack's output is kept in {out_dir:?}"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

/// Host PID of the gateway running under heaptrack in a cell of this
/// test's run (the child of the container's main process).
fn wait_for_traced_gateway(timeout: Duration) -> i32 {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let out = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                "label=dev.runcost.cell=heap-heaptrack",
            ])
            .output()
            .unwrap();
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let pid = Command::new("docker")
                .args(["inspect", "-f", "{{.State.Pid}}", id])
                .output()
                .unwrap();
            let pid: i32 = String::from_utf8_lossy(&pid.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
            if pid <= 0 {
                continue;
            }
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                    continue;
                };
                let Some(close) = stat.rfind(')') else {
                    continue;
                };
                let comm = &stat[stat.find('(').unwrap_or(0) + 1..close];
                let ppid: i32 = stat[close + 2..]
                    .split_whitespace()
                    .nth(1)
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
                if comm == "gateway" && ppid == pid {
                    return e.file_name().to_string_lossy().parse().unwrap();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no gateway under heaptrack appeared");
}
