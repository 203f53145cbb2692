//! Integration tests against the real Docker engine and the gateway image
//! (`cargo xtask setup` builds it). They run the real binary, short
//! durations, one at a time. Each test looks only at objects of its own run
//! id (the engine is shared); the one test of the global `clean` is ignored.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn footprint_runs_reports_and_leaves_nothing() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "footprint",
        "--repeats",
        "2",
        "--duration",
        "2s",
        "--max-duration",
        "2s",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["schema_version"], "1.0");
    assert_eq!(r["status"], "complete");
    let lane = &r["lanes"][0];
    assert_eq!(lane["lane"], "footprint");
    assert_eq!(lane["cells"].as_array().unwrap().len(), 2);
    // The helper's --steady-window 1500ms replaced the profile's 3 s: a
    // flat gateway is steady after one short window, and the command that
    // repeats the run carries the flag.
    for c in lane["cells"].as_array().unwrap() {
        let w = c["steady_after_s"].as_f64().unwrap();
        assert!((1.4..2.9).contains(&w), "steady after {w} s");
    }
    assert!(r["settings"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "--steady-window"));
    let out = run(xtask(results.path()).args(["footprint", "--steady-window", "100ms"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give 500ms to 10m"));
    let uss = lane["aggregates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["metric"] == "uss")
        .expect("uss aggregate");
    assert_eq!(uss["per_repeat"].as_array().unwrap().len(), 2);
    // The profile holds ENTITIES=1000 × 4 KiB and BASE_MIB=16: USS must show them.
    let median = uss["median"].as_f64().unwrap();
    assert!(
        median > 20.0 * 1048576.0 && median < 200.0 * 1048576.0,
        "USS {median}"
    );
    let dir = results.path().join(&id);
    for f in [
        "report.md",
        "charts/footprint-r0-timeline.svg",
        "charts/footprint-r0-timeline.png",
        "samples/footprint-r0.csv",
        "samples/hostload.csv",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("| USS |"), "{report}");
    assert_eq!(
        std::fs::read_link(results.path().join("latest")).unwrap(),
        PathBuf::from(&id)
    );
    assert_eq!(leftovers(Some(&id)), 0);

    // The report re-renders from the stored JSON and samples.
    std::fs::remove_file(dir.join("report.md")).unwrap();
    let out = run(xtask(results.path()).args(["report", &id]));
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.join("report.md").is_file());
}

#[test]
fn exec_stream_sampler_agrees_with_host_mode() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "footprint",
        "--repeats",
        "1",
        "--duration",
        "2s",
        "--max-duration",
        "2s",
        "--sampler",
        "exec",
        "--rate",
        "20",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let cell = &r["lanes"][0]["cells"][0];
    assert_eq!(cell["sampler_mode"], "exec");
    assert!(cell["sampler"]["samples"].as_u64().unwrap() >= 30);
    let uss = r["lanes"][0]["aggregates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["metric"] == "uss")
        .unwrap();
    assert!(uss["median"].as_f64().unwrap() > 20.0 * 1048576.0);
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn bad_profile_is_refused_before_anything_starts() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(
        &p,
        format!(
            "name: bad\ncompose: {}\nservice: gateway\nready: {{ http: {{ port: 8080 }} }}\nwarmup: 5s\n",
            root().join("compose/gateway.yml").display()
        ),
    )
    .unwrap();
    let out = run(xtask(results.path()).args(["footprint", "--profile", p.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:5") && err.contains("unknown field `warmup`"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    assert_eq!(
        std::fs::read_dir(results.path()).unwrap().count(),
        0,
        "no run directory"
    );

    // A service the compose file does not declare.
    std::fs::write(
        &p,
        format!(
            "name: bad\ncompose: {}\nservice: web\nready: {{ http: {{ port: 8080 }} }}\n",
            root().join("compose/gateway.yml").display()
        ),
    )
    .unwrap();
    let out = run(xtask(results.path()).args(["footprint", "--profile", p.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("service `web` is not in"));

    // An unreachable engine.
    let out = run(xtask(results.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["footprint"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not reachable"));
    assert_eq!(
        std::fs::read_dir(results.path()).unwrap().count(),
        0,
        "no run directory"
    );
}

#[test]
fn never_ready_fails_cleanly_without_a_complete_result() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("deaf.yaml");
    std::fs::write(
        &p,
        format!(
            "name: deaf\ncompose: {}\nservice: gateway\nprocess: gateway\nready: {{ http: {{ port: 8080, path: /nope }}, timeout: 3s }}\n",
            root().join("compose/gateway.yml").display()
        ),
    )
    .unwrap();
    let out = run(xtask(results.path()).args([
        "footprint",
        "--repeats",
        "1",
        "--profile",
        p.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("never became ready") && err.contains("HTTP 404"),
        "{err}"
    );
    let id = only_run(results.path());
    assert_eq!(record(results.path(), &id)["status"], "failed");
    assert_eq!(
        record(results.path(), &id)["lanes"][0]["cells"][0]["status"],
        "failed"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

/// Starts a long footprint run and waits until its target container exists.
/// The caller signals and waits for the child.
#[allow(clippy::zombie_processes)]
fn start_long_run(results: &Path) -> (Child, String) {
    let child = xtask(results)
        .args(["footprint", "--repeats", "3", "--duration", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no container appeared");
        if let Ok(id) = std::fs::read_link(results.join("latest")) {
            let id = id.to_string_lossy().into_owned();
            let out = Command::new("docker")
                .args([
                    "ps",
                    "-q",
                    "--filter",
                    &format!("label=dev.runcost.run={id}"),
                ])
                .output()
                .unwrap();
            if !out.stdout.is_empty() {
                return (child, id);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn interrupt(signal: nix::sys::signal::Signal, code: i32) {
    let results = tempfile::tempdir().unwrap();
    let (mut child, id) = start_long_run(results.path());
    std::thread::sleep(Duration::from_secs(2));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(code), "{signal:?} exit code");
    let r = record(results.path(), &id);
    assert_eq!(r["status"], "partial");
    assert!(
        r["status_reason"]
            .as_str()
            .unwrap()
            .contains(signal.as_str()),
        "{}",
        r["status_reason"]
    );
    assert_eq!(leftovers(Some(&id)), 0, "objects left after {signal:?}");
}

#[test]
fn sigint_cleans_up_and_keeps_a_partial_run() {
    let _g = serial();
    interrupt(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigterm_cleans_up_and_keeps_a_partial_run() {
    let _g = serial();
    interrupt(nix::sys::signal::Signal::SIGTERM, 143);
}

/// A SIGKILLed run: a partial record and labelled objects only `clean` removes.
fn sigkilled_run(results: &Path) -> String {
    let (mut child, id) = start_long_run(results);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        leftovers(Some(&id)) > 0,
        "SIGKILL cannot clean up; clean must"
    );
    assert_eq!(
        record(results, &id)["status"],
        "partial",
        "a killed run stays partial"
    );
    id
}

#[test]
fn clean_reaps_what_a_sigkilled_run_left() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let id = sigkilled_run(results.path());
    let out = run(xtask(results.path()).args(["clean", "--run", &id]));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed"));
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
#[ignore = "reaps every runcost object on the engine; run alone"]
fn global_clean_reaps_every_run() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let id = sigkilled_run(results.path());
    let out = run(xtask(results.path()).arg("clean"));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed"));
    assert_eq!(leftovers(Some(&id)), 0);
    assert_eq!(leftovers(None), 0);
}

#[test]
fn scaling_verifies_counts_and_fits_a_linear_gateway() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    // 64 KiB per entity: 0.6, 6 and 62 MiB over a ~20 MiB base, far above
    // the ~0.2 MiB repeat-to-repeat noise, so k is pinned near 1.
    let out = run(xtask(results.path()).args([
        "scaling",
        "--entities",
        "10,100,1000",
        "--repeats",
        "2",
        "--duration",
        "2s",
        "--max-duration",
        "2s",
        "--env",
        "ENTITY_BYTES=65536",
        "--env",
        "REFRESH_MS=0",
        "--seed",
        "7",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["seed"], 7);
    let lane = &r["lanes"][0];
    assert_eq!(lane["lane"], "scaling");
    let cells = lane["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 6);
    assert!(cells.iter().all(|c| c["status"] == "ok"), "{cells:?}");
    let f = &lane["findings"][0];
    assert_eq!(f["kind"], "scaling");
    assert_eq!(f["outcome"]["outcome"], "fit");
    let k = f["outcome"]["k"].as_f64().unwrap();
    assert!((k - 1.0).abs() < 0.1, "k = {k}");
    assert_eq!(f["outcome"]["verdict"], "linear", "{f}");
    let dir = results.path().join(&id);
    assert!(dir.join("charts/scaling-uss.png").is_file());
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("LINEAR: USS grows in proportion to entities"),
        "{report}"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn a_count_the_target_does_not_report_fails_the_cell_loudly() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("liar.yaml");
    // The check reads a field that never equals the count.
    std::fs::write(
        &p,
        format!(
            "name: liar\ncompose: {}\nservice: gateway\nprocess: gateway\nready: {{ http: {{ port: 8080, path: /health }} }}\n\
             entities: {{ env: ENTITIES, check: {{ http: {{ port: 8080, path: /stats }}, json: /refresh_ms }} }}\n",
            root().join("compose/gateway.yml").display()
        ),
    )
    .unwrap();
    let out = run(xtask(results.path()).args([
        "scaling",
        "--profile",
        p.to_str().unwrap(),
        "--entities",
        "10,100",
        "--repeats",
        "1",
        "--duration",
        "1s",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was not applied") && err.contains("/refresh_ms"),
        "{err}"
    );
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["status"], "failed");
    let f = &r["lanes"][0]["findings"][0];
    assert_eq!(
        f["outcome"]["outcome"], "no_verdict",
        "failed cells are not points: {f}"
    );
    assert_eq!(f["points"], 0);
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn sweep_verifies_each_value_and_shows_the_cpu_it_costs() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "sweep",
        "--knob",
        "refresh_ms=0,20",
        "--repeats",
        "1",
        "--duration",
        "3s",
        "--max-duration",
        "3s",
        "--env",
        "ENTITIES=200",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let lane = &r["lanes"][0];
    assert_eq!(lane["lane"], "sweep");
    let cpu = |v: &str| {
        lane["aggregates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["metric"] == "cpu_cores" && a["params"]["refresh_ms"] == v)
            .unwrap_or_else(|| panic!("no cpu aggregate for {v}"))["median"]
            .as_f64()
            .unwrap()
    };
    // 200 × 64 KiB checksummed every 20 ms is ~640 MB/s of work; off is idle.
    assert!(
        cpu("20") > cpu("0") + 0.02,
        "cpu at 20 ms {} vs off {}",
        cpu("20"),
        cpu("0")
    );
    assert!(results
        .path()
        .join(&id)
        .join("charts/sweep-cpu_cores.png")
        .is_file());
    assert_eq!(leftovers(Some(&id)), 0);

    let out = run(xtask(results.path()).args(["sweep", "--knob", "colour=1,2"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("declares no such knob; it declares: base_mib, growth_k, refresh_ms"));
    let out = run(xtask(results.path()).args([
        "scaling",
        "--entities",
        "10,30,100",
        "--metric",
        "bogus",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

fn load_cell(results: &Path, id: &str) -> serde_json::Value {
    record(results, id)["lanes"][0]["cells"][0]["load"].clone()
}

#[test]
fn open_loop_sees_a_stall_that_closed_loop_hides() {
    let _g = serial();
    let stall = ["--env", "STALL_MS=500", "--env", "STALL_EVERY_S=1"];
    let open = tempfile::tempdir().unwrap();
    let out = run(xtask(open.path())
        .args([
            "load",
            "--rate",
            "200",
            "--duration",
            "7s",
            "--warmup",
            "2s",
        ])
        .args(stall));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(open.path());
    let o = load_cell(open.path(), &id);
    assert_eq!(
        o["ok"].as_u64().unwrap(),
        o["requests_completed"].as_u64().unwrap(),
        "{o}"
    );
    // A quarter to a half of the scheduled requests fall into a stall.
    let open_p99 = o["latency"]["p99_us"].as_u64().unwrap();
    assert!(
        open_p99 >= 300_000,
        "open-loop p99 {open_p99} µs must show the 500 ms stalls"
    );
    let report = std::fs::read_to_string(open.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("coordinated omission"),
        "the report explains the difference"
    );
    assert!(open
        .path()
        .join(&id)
        .join("charts/load-percentiles.png")
        .is_file());
    assert_eq!(leftovers(Some(&id)), 0);

    let closed = tempfile::tempdir().unwrap();
    let out = run(xtask(closed.path())
        .args([
            "load",
            "--mode",
            "closed",
            "--connections",
            "1",
            "--duration",
            "7s",
            "--warmup",
            "2s",
        ])
        .args(stall));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(closed.path());
    let c = load_cell(closed.path(), &id);
    let (closed_p90, closed_max) = (
        c["latency"]["p90_us"].as_u64().unwrap(),
        c["latency"]["max_us"].as_u64().unwrap(),
    );
    // Closed loop lived through the stalls (its max shows one) but sent
    // only one request into each, so they vanish from its distribution.
    assert!(closed_max >= 300_000, "closed-loop max {closed_max} µs");
    assert!(closed_p90 < 50_000, "closed-loop p90 {closed_p90} µs");
    assert!(open_p99 > 3 * closed_p90);
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn load_refuses_bad_input_and_reports_a_failing_target_as_errors() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["load", "--rate", "0"], "not a rate"),
        (
            vec![
                "load",
                "--rate",
                "100",
                "--duration",
                "2s",
                "--warmup",
                "2s",
            ],
            "too short for --warmup",
        ),
        (vec!["load"], "--rate is required"),
    ] {
        let out = run(xtask(results.path()).args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}"
        );
    }
    assert_eq!(
        std::fs::read_dir(results.path()).unwrap().count(),
        0,
        "no run directory"
    );

    // A mix of paths that do not exist: every answer is a 404.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("404.yaml");
    std::fs::write(
        &p,
        format!(
            "name: notfound\ncompose: {}\nservice: gateway\nprocess: gateway\nready: {{ http: {{ port: 8080, path: /health }} }}\n\
             load: {{ port: 8080, requests: [ {{ path: /nope }} ] }}\n",
            root().join("compose/gateway.yml").display()
        ),
    )
    .unwrap();
    let out = run(xtask(results.path()).args([
        "load",
        "--profile",
        p.to_str().unwrap(),
        "--rate",
        "50",
        "--duration",
        "3s",
        "--warmup",
        "1s",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no successful response"));
    let id = only_run(results.path());
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("HTTP 404") || report.contains("× 404"),
        "{report}"
    );
    assert!(
        report.contains("INVALID"),
        "no latency built from failures: {report}"
    );
    assert_eq!(leftovers(Some(&id)), 0);

    // A profile without a load section.
    std::fs::write(
        &p,
        format!(
            "name: quiet\ncompose: {}\nservice: gateway\nready: {{ http: {{ port: 8080 }} }}\n",
            root().join("compose/gateway.yml").display()
        ),
    )
    .unwrap();
    let out =
        run(xtask(results.path()).args(["load", "--profile", p.to_str().unwrap(), "--rate", "50"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `load:` section"));
}

/// The footprint gate on its own: a build with 64 MiB more base memory
/// fails it, the row names the category that grew (the `anon` mapping:
/// BASE_MIB is one block above the gateway's pinned 128 KiB mmap threshold,
/// so glibc mmaps it) with its own change and interval, the report shows
/// the stacked category charts, `--confirm` keeps a real regression, bad
/// arguments are refused and the run exports. That an unchanged build
/// passes is tests/gate.rs's (the suite's) first compare.
#[test]
fn compare_fails_a_fatter_build_and_names_what_grew() {
    const MIB: f64 = 1048576.0;
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let baselines = tempfile::tempdir().unwrap();
    let footprint = |base_mib: &str| {
        lane_run(
            results.path(),
            &[
                "footprint",
                "--repeats",
                "3",
                "--duration",
                "2s",
                "--max-duration",
                "2s",
                "--env",
                &format!("BASE_MIB={base_mib}"),
                "--env",
                "REFRESH_MS=0",
            ],
        )
    };
    // The refusal of overloaded runs is tested on synthetic runs; a CI
    // machine that just finished compiling may still show a high load1.
    let (base_run, base) = footprint("16");
    let baseline = make_baseline(results.path(), &base_run, "e2e", baselines.path());
    let compare = |run_id: &str| {
        run(xtask(results.path()).args([
            "compare",
            "--baseline",
            baseline.to_str().unwrap(),
            "--run",
            run_id,
            "--allow-overloaded",
        ]))
    };

    let (fat, fat_record) = footprint("80");
    let out = compare(&fat);
    assert_eq!(out.status.code(), Some(1), "64 MiB more must fail the gate");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| **REGRESSED** | USS |"), "{table}");
    let md = std::fs::read_to_string(results.path().join(&fat).join("compare-e2e.md")).unwrap();
    assert!(md.contains("grew most: `anon` +"), "{md}");

    let (code, cmp) = compare_json(results.path(), &baseline, &fat);
    assert_eq!(code, Some(1), "{cmp}");
    let uss = cmp["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "footprint/uss")
        .unwrap_or_else(|| panic!("no USS row: {cmp}"));
    assert_eq!(uss["verdict"], "REGRESSED", "{uss}");
    let g = &uss["grew_most"];
    eprintln!("grew most: {g}");
    assert_eq!(g["kind"], "memory", "{g}");
    assert_eq!(g["name"], "anon", "{g}");
    // Planted: 64 MiB (within 4 MiB: arenas and allocator slack).
    let change = g["change"].as_f64().unwrap();
    assert!((change - 64.0 * MIB).abs() <= 4.0 * MIB, "{g}");
    let (lo, hi) = (g["ci"][0].as_f64().unwrap(), g["ci"][1].as_f64().unwrap());
    assert!(lo > 0.0 && lo <= change && change <= hi, "{g}");
    // Stacked charts: each shown cell's window, and the cells side by side.
    let report = std::fs::read_to_string(results.path().join(&fat).join("report.md")).unwrap();
    for r in [&base, &fat_record] {
        assert_eq!(r["lanes"][0]["cells"].as_array().unwrap().len(), 3);
    }
    assert!(
        report.contains("](charts/attrib-footprint-cells.png)"),
        "{report}"
    );
    assert!(report.contains("-window.png)"), "{report}");
    assert!(results
        .path()
        .join(&fat)
        .join("charts/attrib-footprint-cells.svg")
        .is_file());

    // --confirm reruns the recorded command and judges the pooled repeats:
    // a real regression stays.
    let out = run(xtask(results.path()).args([
        "compare",
        "--baseline",
        baseline.to_str().unwrap(),
        "--run",
        &fat,
        "--allow-overloaded",
        "--confirm",
        "1",
    ]));
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("confirmation run"), "{table}");
    assert!(
        table.contains("3/6"),
        "baseline 3 repeats, run 3 + 3 pooled: {table}"
    );

    // Refusals: a missing baseline, a run that does not exist.
    let out = run(xtask(results.path()).args(["compare", "--baseline", "/nonexistent/b.json"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(xtask(results.path()).args([
        "compare",
        "--baseline",
        baseline.to_str().unwrap(),
        "--run",
        "nope",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run `nope`"));

    // Exports of the same run.
    let out = run(xtask(results.path()).args(["export", "--format", "bmf", "--run", &fat]));
    let bmf: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        bmf["gateway/footprint"]["uss"]["value"].as_f64().unwrap() > 80.0 * 1048576.0,
        "{bmf}"
    );
    let out = run(xtask(results.path()).args(["export", "--format", "gab", "--run", &fat]));
    let gab: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(gab
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "gateway footprint/uss" && e["unit"] == "bytes"));
}
