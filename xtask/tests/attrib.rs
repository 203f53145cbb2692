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
        // The categories add up to the sampled USS of the same processes.
        let sum: f64 = a["memory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["uss"].as_f64().unwrap())
            .sum();
        let uss = cell_metric(c, "uss");
        assert!(
            (sum - uss).abs() <= 0.02 * uss,
            "categories {sum} vs USS {uss}"
        );
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
#[ignore = "needs the gateway image rebuilt with the named `refresh` thread (cargo xtask setup after merge); the shared image runs the pass on tokio's blocking pool"]
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

/// Issue 19's compare case: a `BASE_MIB` regression on the gateway is
/// named as the `anon` category (BASE_MIB is one block above the mmap
/// threshold), with its own change and interval, and the report shows the
/// stacked category charts.
#[test]
fn a_base_mib_regression_is_attributed_to_the_base_category() {
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
    let (base_id, base) = footprint("16");
    let baseline = make_baseline(results.path(), &base_id, "attrib-e2e", baselines.path());
    let (fat_id, fat) = footprint("80");
    let (code, cmp) = compare_json(results.path(), &baseline, &fat_id);
    assert_eq!(code, Some(1), "64 MiB more must fail the gate: {cmp}");
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
    // The table names it too.
    let md = std::fs::read_to_string(results.path().join(&fat_id).join("compare-attrib-e2e.md"))
        .unwrap();
    assert!(md.contains("grew most: `anon` +"), "{md}");
    // Stacked charts: each shown cell's window, and the cells side by side.
    let report = std::fs::read_to_string(results.path().join(&fat_id).join("report.md")).unwrap();
    for r in [&base, &fat] {
        assert_eq!(r["lanes"][0]["cells"].as_array().unwrap().len(), 3);
    }
    assert!(
        report.contains("](charts/attrib-footprint-cells.png)"),
        "{report}"
    );
    assert!(report.contains("-window.png)"), "{report}");
    assert!(results
        .path()
        .join(&fat_id)
        .join("charts/attrib-footprint-cells.svg")
        .is_file());
    assert_eq!(leftovers(Some(&base_id)) + leftovers(Some(&fat_id)), 0);
}
