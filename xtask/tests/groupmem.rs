//! Group memory on ground truth: targets/forker (a parent touching N MiB,
//! k forked children touching M MiB private each, sharing the parent's
//! pages copy-on-write) run through the real binary and engine
//! (`cargo xtask setup` builds runcost/forker:dev). Each test reads its
//! own run's samples CSV and checks its own run left nothing behind. The
//! exec-stream tests need the static runcost-groupmem setup builds.

mod common;
use common::*;

use std::path::Path;

const MIB: f64 = 1048576.0;
// N, k, M of the forker profile.
const N: f64 = 64.0;
const K: u32 = 3;
const M: f64 = 16.0;
/// The binary, libc and stacks each process adds beside the touched
/// memory (measured here: ~0.4 MiB private per process, ~1 MiB shared
/// text the group maps alone).
const TOL_MIB: f64 = 3.0;

fn profile() -> String {
    root()
        .join("targets/forker/forker.yaml")
        .to_string_lossy()
        .into_owned()
}

/// One footprint run of the forker; returns its run id and samples.
fn footprint(results: &Path, sampler: &str, extra: &[&str]) -> (String, Vec<Vec<String>>) {
    footprint_of(results, &profile(), sampler, extra)
}

fn footprint_of(
    results: &Path,
    profile: &str,
    sampler: &str,
    extra: &[&str],
) -> (String, Vec<Vec<String>>) {
    let out = run(xtask(results)
        .args(["footprint", "--profile", profile, "--sampler", sampler])
        .args(["--repeats", "1", "--duration", "3s", "--max-duration", "3s"])
        .args(extra));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results);
    let text = std::fs::read_to_string(results.join(&id).join("samples/footprint-r0.csv"))
        .expect("samples CSV");
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (id, rows)
}

fn column<'a>(rows: &'a [Vec<String>], name: &str) -> impl Iterator<Item = f64> + 'a {
    let i = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]));
    rows[1..].iter().filter_map(move |r| r[i].parse().ok())
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "no values");
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn near(what: &str, got_bytes: f64, want_mib: f64, tol_mib: f64) {
    let got = got_bytes / MIB;
    eprintln!("{what}: {got:.2} MiB (want {want_mib} ± {tol_mib})");
    assert!(
        (got - want_mib).abs() <= tol_mib,
        "{what}: {got:.2} MiB, want {want_mib} ± {tol_mib} MiB"
    );
}

#[test]
fn host_sampler_reads_group_unique_and_follows_forks() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let (id, rows) = footprint(results.path(), "host", &[]);
    let procs: Vec<f64> = column(&rows, "procs").collect();
    assert!(procs.iter().all(|&p| p == f64::from(K + 1)), "{procs:?}");
    // Unique to the group: the parent's N (shared with the children, mapped
    // by nobody else) plus each child's M.
    let group = median(column(&rows, "group_unique").collect());
    near("group-unique", group, N + f64::from(K) * M, TOL_MIB);
    let anon = median(column(&rows, "group_unique_anon").collect());
    near("group-unique anon", anon, N + f64::from(K) * M, TOL_MIB);
    // Summed per-process USS sees only the children's private pages.
    let uss = median(column(&rows, "uss").collect());
    near("summed USS", uss, f64::from(K) * M, TOL_MIB);
    // The cgroup's anonymous memory holds all of it.
    let cg_anon = median(column(&rows, "cgroup_anon").collect());
    assert!(
        cg_anon / MIB >= N + f64::from(K) * M - TOL_MIB,
        "cgroup anon {cg_anon}"
    );
    let read_s: Vec<f64> = column(&rows, "read_s").collect();
    let with_group: Vec<f64> = rows[1..]
        .iter()
        .zip(&read_s)
        .filter(|(r, _)| !r[rows[0].iter().position(|h| h == "group_unique").unwrap()].is_empty())
        .map(|(_, &s)| s)
        .collect();
    let without: Vec<f64> = rows[1..]
        .iter()
        .zip(&read_s)
        .filter(|(r, _)| r[rows[0].iter().position(|h| h == "group_unique").unwrap()].is_empty())
        .map(|(_, &s)| s)
        .collect();
    eprintln!(
        "read cost: {:.3} ms with group-unique ({} reads), {:.3} ms without ({})",
        median(with_group.clone()) * 1e3,
        with_group.len(),
        median(without.clone()) * 1e3,
        without.len()
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn host_sampler_picks_up_late_forks() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    // With FORK_DELAY_MS the forker is ready before it forks: sampling
    // starts on the parent alone and the children come one per 500 ms.
    let (id, rows) = footprint(
        results.path(),
        "host",
        &["--env", "FORK_DELAY_MS=1500", "--env", "FORK_EVERY_MS=500"],
    );
    let procs: Vec<f64> = column(&rows, "procs").collect();
    eprintln!("procs over the cell: {procs:?}");
    assert_eq!(procs.first(), Some(&1.0), "{procs:?}");
    assert_eq!(procs.last(), Some(&f64::from(K + 1)), "{procs:?}");
    assert!(procs.windows(2).all(|w| w[1] >= w[0]), "{procs:?}");
    let last_group = column(&rows, "group_unique")
        .last()
        .expect("group-unique read");
    near(
        "group-unique after the forks",
        last_group,
        N + f64::from(K) * M,
        TOL_MIB,
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

/// Forks followed, group-unique and the cgroup read from inside, in one run.
#[test]
fn exec_sampler_reads_group_unique() {
    // targets/forker/compose.yml gives the container CAP_SYS_ADMIN: the
    // uploaded runcost-groupmem sees PFNs from inside (`cargo xtask setup`
    // builds it).
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let (id, rows) = footprint(results.path(), "exec", &[]);
    let procs: Vec<f64> = column(&rows, "procs").collect();
    assert!(procs.iter().all(|&p| p == f64::from(K + 1)), "{procs:?}");
    let group = median(column(&rows, "group_unique").collect());
    near("group-unique (exec)", group, N + f64::from(K) * M, TOL_MIB);
    let anon = median(column(&rows, "group_unique_anon").collect());
    near(
        "group-unique anon (exec)",
        anon,
        N + f64::from(K) * M,
        TOL_MIB,
    );
    let uss = median(column(&rows, "uss").collect());
    near("summed USS (exec)", uss, f64::from(K) * M, TOL_MIB);
    // The container's own cgroup, read from inside: all the anonymous
    // memory of the group, forks included.
    let cg_anon = median(column(&rows, "cgroup_anon").collect());
    assert!(
        cg_anon / MIB >= N + f64::from(K) * M - TOL_MIB
            && cg_anon / MIB < 2.0 * (N + f64::from(K) * M),
        "cgroup anon {cg_anon}"
    );
    assert!(column(&rows, "cgroup_mem").count() > 0);
    let record = run_json(results.path(), &id);
    assert_eq!(
        record["lanes"][0]["cells"][0]["sampler"]["unavailable"],
        serde_json::Value::Null,
        "nothing unavailable with CAP_SYS_ADMIN"
    );
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn exec_sampler_without_sys_admin_says_group_unique_is_unavailable() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let nocap = root()
        .join("targets/forker/forker-nocap.yaml")
        .to_string_lossy()
        .into_owned();
    let (id, rows) = footprint_of(results.path(), &nocap, "exec", &[]);
    // Never a silent zero: the column stays empty...
    assert_eq!(column(&rows, "group_unique").count(), 0);
    assert!(column(&rows, "uss").count() > 0);
    // ...and the record and report say why and how to turn it on.
    let record = run_json(results.path(), &id);
    let why = record["lanes"][0]["cells"][0]["sampler"]["unavailable"]["group_unique"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason in run.json: {record}"))
        .to_string();
    assert!(why.contains("CAP_SYS_ADMIN"), "{why}");
    assert!(why.contains("cap_add: [SYS_ADMIN]"), "{why}");
    let report =
        std::fs::read_to_string(results.path().join(&id).join("report.md")).expect("report.md");
    assert!(report.contains(&why), "report does not carry the reason");
    assert_eq!(leftovers(Some(&id)), 0);
}

fn run_json(results: &Path, id: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(results.join(id).join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("run.json parses")
}
