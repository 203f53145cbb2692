//! The bundled PostgreSQL profile against the real engine and the image
//! `cargo xtask setup` builds from Debian's postgresql-15: a forking
//! service whose rows live in shared buffers and the page cache. Each lane
//! runs once with short settings and 16 MB of shared buffers (the prewarm
//! step fills them before every window, so small buffers keep it quick);
//! the README has the same runs at length.

mod common;
use common::*;

/// Short footprint settings: the profile's steady window is 3 s, the
/// window 2 s.
const SHORT: [&str; 4] = ["--duration", "2s", "--max-duration", "2s"];

fn finding<'r>(r: &'r serde_json::Value, kind: &str) -> &'r serde_json::Value {
    let lane = &r["lanes"][0];
    lane["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding: {lane}"))
}

const MIB: f64 = 1048576.0;

/// One footprint is both the footprint test and the baseline of the
/// shared_buffers gate. Shared buffers cost memory only once touched; the
/// profile's prewarm touches them all, so the cgroup's shared memory reads
/// shared_buffers, and 48 MB more of it must fail `compare` on that metric.
#[test]
fn postgres_footprint_and_a_shared_buffers_increase_regressed() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let baselines = tempfile::tempdir().unwrap();
    let footprint = |buffers: &str| {
        let out = run(xtask(results.path())
            .args(["footprint", "--profile", "postgres", "--repeats", "2"])
            .args(SHORT)
            .args(["--env", &format!("SHARED_BUFFERS={buffers}")]));
        assert_eq!(out.status.code(), Some(0), "footprint {buffers}");
        let id = latest(results.path());
        assert_eq!(leftovers(Some(&id)), 0);
        let r = record(results.path(), &id);
        (id, r)
    };

    // 10 000 rows (the profile's default), inserted by psql once
    // pg_isready answers; SELECT count(*) read them back in every cell.
    let (base_run, r) = footprint("16MB");
    for c in r["lanes"][0]["cells"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c}");
    }
    // postmaster, checkpointer, background writer, WAL writer, autovacuum
    // launcher, logical replication launcher: one thread each (the backends
    // of psql have exited).
    assert_eq!(median(&r, "threads"), 6.0, "{r}");
    assert!(median(&r, "pss") > MIB, "{r}");
    let shmem = median(&r, "cgroup_shmem");
    assert!(
        (16.0 * MIB..40.0 * MIB).contains(&shmem),
        "16 MB of buffers, prewarmed, plus the rest of postgres's shared state: {shmem}"
    );

    // The baseline, kept outside the repository.
    let name = format!("pg-buffers-{}", std::process::id());
    let out = run(xtask(results.path()).args([
        "update-baseline",
        "--run",
        &base_run,
        "--name",
        &name,
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let baseline = baselines.path().join(format!("{name}.json"));
    std::fs::rename(root().join(format!("baselines/{name}.json")), &baseline).unwrap();

    let (fat_run, r) = footprint("64MB");
    let fat = median(&r, "cgroup_shmem");
    assert!(
        fat > shmem + 40.0 * MIB,
        "48 MB more buffers show as shared memory: {shmem} → {fat}"
    );
    let out = run(xtask(results.path()).args([
        "compare",
        "--baseline",
        baseline.to_str().unwrap(),
        "--run",
        &fat_run,
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(1), "a regression exits 1");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| **REGRESSED** | cgroup shmem |"),
        "{table}"
    );
}

/// Scaling over rows on the metric where rows live (the profile's
/// `entities.metric`, shared memory + file cache): a verdict, either NO
/// GROWTH or a fit with a positive scale, never an exponent pinned at the
/// search range (k = 4 with b < 0 was the answer on a flat series).
#[test]
fn postgres_scaling_over_rows_gives_a_verdict() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path())
        .args([
            "scaling",
            "--profile",
            "postgres",
            "--entities",
            "1000,3000,10000,30000,100000",
            "--repeats",
            "1",
            "--env",
            "SHARED_BUFFERS=16MB",
        ])
        .args(SHORT));
    let code = out.status.code();
    assert!(matches!(code, Some(0) | Some(1)), "{code:?}");
    let id = latest(results.path());
    assert_eq!(leftovers(Some(&id)), 0);
    let r = record(results.path(), &id);
    let f = finding(&r, "scaling");
    assert_eq!(f["metric"], "cgroup_shmem_file", "{f}");
    let outcome = &f["outcome"];
    match outcome["outcome"].as_str() {
        Some("no_growth") => {}
        Some("fit") => {
            assert!(outcome["b"].as_f64().unwrap() > 0.0, "{outcome}");
            // Its interval may reach the search range on a noisy host;
            // the estimate itself must not sit there.
            let k = outcome["k"].as_f64().unwrap();
            assert!(
                k < 3.9,
                "an exponent at the search range says nothing: {outcome}"
            );
        }
        other => panic!("no verdict ({other:?}): {outcome}"),
    }
}

/// Churn on a forking service with the default host sampler: every cycle's
/// psql forks a backend that exits, which must not fail the run; the
/// profile judges shared memory + file cache and anonymous memory.
#[test]
fn postgres_churn_survives_exiting_backends() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    // Too few cycles after warm-up: refused before any container starts.
    let out = run(xtask(results.path()).args(["churn", "--profile", "postgres", "--cycles", "12"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--cycles 20"), "{err}");
    assert!(
        std::fs::read_dir(results.path()).unwrap().next().is_none(),
        "nothing ran"
    );

    let out = run(xtask(results.path()).args([
        "churn",
        "--profile",
        "postgres",
        "--cycles",
        "12",
        "--warmup-cycles",
        "2",
        "--settle",
        "1s",
        "--env",
        "SHARED_BUFFERS=16MB",
    ]));
    let code = out.status.code();
    assert!(matches!(code, Some(0) | Some(1)), "{code:?}");
    let id = latest(results.path());
    assert_eq!(leftovers(Some(&id)), 0);
    let r = record(results.path(), &id);
    let churn = finding(&r, "churn");
    let judged: Vec<&str> = churn["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["metric"].as_str())
        .collect();
    assert_eq!(judged, ["cgroup_shmem_file", "pss_anon"], "{churn}");
}

/// Each fault is a psql session, i.e. a backend the postmaster forks for
/// it, running a hash join with 64 MB of work_mem. The sampler sees the
/// forked backends (more processes during the burst than before) and the
/// cgroup's memory shows the join's work.
#[test]
fn postgres_fault_samples_forked_backends_and_the_cgroup_peak() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "fault",
        "--profile",
        "postgres",
        "--burst",
        "2",
        "--repeats",
        "1",
        "--before",
        "3s",
        "--after",
        "8s",
        "--env",
        "SHARED_BUFFERS=16MB",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = latest(results.path());
    let rec = record(results.path(), &id);
    let f = finding(&rec, "fault");
    let r = &f["repeats"][0];
    eprintln!(
        "postgres fault: verdict {}, procs {}–{}, peak Δ cgroup memory {} B, peak Δ cgroup CPU {} cores, peak Δ USS {} B",
        f["verdict"],
        r["procs_min"],
        r["procs_max"],
        r["cgroup_mem"]["peak_delta"],
        r["cgroup_cpu"]["peak_delta"],
        r["uss"]["peak_delta"]
    );
    let (lo, hi) = (
        r["procs_min"].as_u64().unwrap(),
        r["procs_max"].as_u64().unwrap(),
    );
    assert!(hi > lo, "forked backends were sampled: {lo}–{hi} processes");
    let peak = r["cgroup_mem"]["peak_delta"].as_f64().unwrap();
    assert!(
        peak > 0.0,
        "the join's work_mem shows in the cgroup: {peak}"
    );
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("The container as a whole") && report.contains(&format!("| {lo}–{hi} |")),
        "{report}"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

/// Tool mode: pgbench (from the target's image, in its own container in the
/// target's network namespace) initialises its tables before warm-up and
/// runs for the measured part of --duration while runcost samples the
/// server. Its output is kept verbatim, its tps and mean latency are read
/// into run.json labelled as the tool's closed-loop figures, and the
/// server's footprint under it is measured as usual.
#[test]
fn postgres_pgbench_tool_mode() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "load",
        "--profile",
        "postgres",
        "--mode",
        "tool",
        "--duration",
        "4s",
        "--warmup",
        "1s",
        "--env",
        "SHARED_BUFFERS=16MB",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    assert_eq!(leftovers(Some(&id)), 0);
    let r = record(results.path(), &id);
    let c = &r["lanes"][0]["cells"][0];
    assert_eq!(c["status"], "ok", "{c}");
    let t = &c["tool"];
    assert_eq!(t["exit_code"], 0, "{t}");
    assert_eq!(t["kind"], "pgbench");
    assert!(t["label"].as_str().unwrap().contains("closed-loop"), "{t}");
    let argv: Vec<&str> = t["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        argv.windows(2).any(|w| w == ["--time", "3"]),
        "{{seconds}} = duration − warm-up: {argv:?}"
    );
    assert!(argv.windows(2).any(|w| w == ["--client", "4"]), "{argv:?}");
    assert_eq!(t["setup"]["exit_code"], 0, "{t}");
    let f = &t["figures"][0];
    assert!(f["throughput_per_s"].as_f64().unwrap() > 0.0, "{f}");
    assert!(f["count"].as_u64().unwrap() > 0, "{f}");
    assert_eq!(f["failed"], 0, "{f}");
    assert!(f["latency_avg_ms"].as_f64().unwrap() > 0.0, "{f}");
    // Verbatim output, the figures read from it.
    let dir = results.path().join(&id);
    let stdout = std::fs::read_to_string(dir.join(t["stdout_file"].as_str().unwrap())).unwrap();
    assert!(stdout.contains("tps = "), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "number of transactions actually processed: {}",
            f["count"]
        )),
        "{stdout}"
    );
    let setup_err =
        std::fs::read_to_string(dir.join(t["setup"]["stderr_file"].as_str().unwrap())).unwrap();
    assert!(
        setup_err.contains("done in"),
        "pgbench -i's own report: {setup_err}"
    );
    // The server was sampled under it.
    assert!(median(&r, "uss") > MIB, "{r}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("### Load tool") && report.contains("not runcost's"),
        "{report}"
    );
}
