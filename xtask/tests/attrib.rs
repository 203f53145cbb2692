//! Where the cost goes, against the real engine and the gateway image
//! (`cargo xtask setup` builds it): its planted costs land in the right
//! categories. Ground truth: ENTITY_BYTES=64 KiB entities are malloc'd on
//! the main thread at start, below the gateway's pinned 128 KiB mmap
//! threshold, so they live in `[heap]` (`heap`); BASE_MIB is one block
//! above the threshold, so glibc mmaps it (`anon`); REFRESH_MS is CPU in
//! the thread named `refresh`.

mod common;
use common::*;

const MIB: f64 = 1048576.0;

/// A cell's categories add up to the sampled USS of the same processes
/// (within 2 %: the reads are moments apart).
fn assert_categories_add_up(c: &serde_json::Value) {
    let sum: f64 = c["attribution"]["memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["uss"].as_f64().unwrap())
        .sum();
    let uss = cell_metric(c, "uss");
    assert!(
        (sum - uss).abs() <= 0.02 * uss,
        "{} ({}): categories {sum} vs USS {uss}",
        c["id"],
        c["sampler_mode"]
    );
}

#[test]
fn scaling_attributes_growth_to_entities_and_none_to_the_base() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let (id, r) = lane_run(
        results.path(),
        &[
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
            "BASE_MIB=32",
            "--env",
            "REFRESH_MS=0",
            "--seed",
            "19",
        ],
    );
    let lane = &r["lanes"][0];
    let cells = lane["cells"].as_array().unwrap();
    assert!(cells.iter().all(|c| c["status"] == "ok"), "{cells:?}");
    for c in cells {
        eprintln!("{} memory: {}", c["id"], c["attribution"]["memory"]);
        let n: f64 = c["params"]["entities"].as_str().unwrap().parse().unwrap();
        let a = &c["attribution"];
        assert!(a["reads"].as_u64().unwrap() >= 2, "{a}");
        // Planted: n × 64 KiB in the heap (within 10 % + 2 MiB of allocator
        // and runtime overhead), 32 MiB in anonymous memory (within 8 MiB:
        // the worker threads' arenas are anonymous too).
        let heap = category(c, "heap")["uss"].as_f64().unwrap();
        let want = n * 65536.0;
        assert!(
            (heap - want).abs() <= 0.1 * want + 2.0 * MIB,
            "n={n}: heap {heap} want {want}"
        );
        let anon = category(c, "anon")["uss"].as_f64().unwrap();
        assert!(
            (32.0 * MIB..=40.0 * MIB).contains(&anon),
            "n={n}: anon {anon}"
        );
        assert_categories_add_up(c);
        assert!(a["sampler"]["thread_cpu_s"].as_f64().unwrap() > 0.0);
    }
    let f = lane["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "attribution")
        .expect("attribution finding");
    eprintln!("attribution exponents: {}", f["exponents"]);
    eprintln!("cell: {}", cells[cells.len() - 1]["attribution"]["memory"]);
    eprintln!(
        "reader: {}",
        cells[cells.len() - 1]["attribution"]["sampler"]
    );
    let exp = |name: &str| {
        f["exponents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["category"] == name)
            .unwrap_or_else(|| panic!("no exponent for {name}: {f}"))
            .clone()
    };
    let heap = exp("heap");
    assert_eq!(heap["outcome"]["outcome"], "fit", "{heap}");
    let k = heap["outcome"]["k"].as_f64().unwrap();
    assert!((k - 1.0).abs() < 0.1, "heap k = {k}");
    assert_eq!(heap["outcome"]["verdict"], "linear", "{heap}");
    // The base does not grow with n: no growth, or an exponent whose
    // interval reaches 0 ... never a confident growth.
    let base = exp("anon");
    let o = &base["outcome"];
    let flat = o["outcome"] == "no_growth"
        || o["outcome"] == "no_fit"
        || o["k_ci"]["lower"].as_f64().is_some_and(|l| l <= 0.1);
    assert!(flat, "anon grows: {base}");
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("| category | points | growth with n (USS) |"),
        "{report}"
    );
    assert!(
        report.contains("**Where the cost goes: scaling-n"),
        "{report}"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn footprint_puts_refresh_cpu_in_its_thread_group() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let (id, r) = lane_run(
        results.path(),
        &[
            "footprint",
            "--repeats",
            "1",
            "--duration",
            "4s",
            "--max-duration",
            "4s",
            "--env",
            "REFRESH_MS=10",
            "--env",
            "ENTITIES=2000",
        ],
    );
    let cell = &r["lanes"][0]["cells"][0];
    let threads = cell["attribution"]["threads"].as_array().expect("threads");
    let busiest = &threads[0];
    assert_eq!(busiest["group"], "refresh", "{threads:?}");
    let total: f64 = threads.iter().map(|t| t["cores"].as_f64().unwrap()).sum();
    let refresh = busiest["cores"].as_f64().unwrap();
    assert!(refresh > 0.5 * total, "refresh {refresh} of {total}");
    // The tokio workers are one folded group, not one row per thread.
    let workers: Vec<_> = threads
        .iter()
        .filter(|t| t["group"].as_str().unwrap().starts_with("tokio-runtime"))
        .collect();
    assert!(workers.len() <= 1, "{workers:?}");
    assert_eq!(leftovers(Some(&id)), 0);
}

/// The exec-stream reader (a shell loop inside the container, for engines
/// whose processes this host cannot see) attributes as the host read does:
/// the same planted categories, adding up to the same USS. Shared libraries
/// may differ: the reader's own shell maps libc beside the target, so
/// fewer of its pages are unique to the target.
#[test]
fn the_exec_stream_attributes_as_the_host_read_does() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let footprint = |sampler: &str| {
        lane_run(
            results.path(),
            &[
                "footprint",
                "--repeats",
                "1",
                "--duration",
                "3s",
                "--max-duration",
                "3s",
                "--sampler",
                sampler,
                "--env",
                "BASE_MIB=32",
                "--env",
                "ENTITY_BYTES=65536",
                "--env",
                "REFRESH_MS=0",
            ],
        )
    };
    let (host_id, host) = footprint("host");
    let (exec_id, exec) = footprint("exec");
    let host = &host["lanes"][0]["cells"][0];
    let exec = &exec["lanes"][0]["cells"][0];
    assert_eq!(exec["sampler_mode"], "exec", "{exec}");
    assert_eq!(host["sampler_mode"], "host", "{host}");
    for c in [host, exec] {
        let a = &c["attribution"];
        eprintln!("{} memory: {}", c["sampler_mode"], a["memory"]);
        assert!(a["reads"].as_u64().unwrap() >= 2, "{a}");
        // Planted: 32 MiB of anonymous memory (within 8 MiB: the worker
        // threads' arenas are anonymous too).
        let anon = category(c, "anon")["uss"].as_f64().unwrap();
        assert!((32.0 * MIB..=40.0 * MIB).contains(&anon), "anon {anon}");
        assert_categories_add_up(c);
    }
    // The same target, read two ways: heap and anon agree within 2 % and
    // 0.5 MiB (allocator slack between two starts).
    for name in ["heap", "anon"] {
        let (h, e) = (
            category(host, name)["uss"].as_f64().unwrap(),
            category(exec, name)["uss"].as_f64().unwrap(),
        );
        assert!(
            (h - e).abs() <= 0.02 * h + 0.5 * MIB,
            "{name}: host {h} exec {e}"
        );
    }
    assert_eq!(leftovers(Some(&host_id)) + leftovers(Some(&exec_id)), 0);
}
