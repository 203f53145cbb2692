//! Where a process's CPU goes: its threads by name. Each thread's
//! `/proc/<pid>/task/<tid>/stat` gives its name (`comm`) and utime+stime;
//! threads of one pool are grouped by folding the numeric suffix of the
//! name (`worker-1`, `worker-2` → `worker-N`). Processes are told apart by
//! their title (`nginx: worker process`, `postgres: checkpointer`), so a
//! forking server's master and workers are separate rows. Pure: snapshots
//! in, cores per group out.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The group of a thread name: a trailing run of digits becomes `N`
/// (`worker-12` → `worker-N`, `pool7` → `poolN`, `1234` → `N`); other names
/// are their own group (`tokio-runtime-w`, `refresh`).
pub fn fold_thread_name(comm: &str) -> String {
    let stem = comm.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.len() == comm.len() {
        comm.to_string()
    } else {
        format!("{stem}N")
    }
}

/// The label of a process: its title when it set one in the form
/// `name: what` (setproctitle, as nginx and postgres do), with every run of
/// digits folded to `N` so backends of one kind group together
/// (`postgres: app app 172.17.0.1(51234) idle` → `postgres: app app
/// N.N.N.N(N) idle`); else its `comm`. `cmdline` is NUL-separated.
pub fn process_label(comm: &str, cmdline: &str) -> String {
    let title = cmdline.split('\0').next().unwrap_or("").trim();
    if !title.contains(": ") {
        return comm.to_string();
    }
    let mut out = String::with_capacity(title.len());
    let mut in_digits = false;
    for c in title.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// One thread at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadRead {
    pub pid: i32,
    pub tid: i32,
    /// The process's label ([`process_label`]).
    pub process: String,
    /// The thread's group ([`fold_thread_name`]).
    pub group: String,
    /// utime + stime, clock ticks.
    pub ticks: u64,
}

/// Every thread of the sampled processes at one moment, with how many
/// listed threads vanished before their stat could be read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreadSnapshot {
    /// Seconds since the cell's origin.
    pub t: f64,
    pub threads: Vec<ThreadRead>,
    pub vanished: u32,
}

/// A (process, thread group) pair: one row of the CPU table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    pub process: String,
    pub group: String,
}

/// CPU and thread count of one group over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupCpu {
    /// Cores (CPU seconds per second) over the window.
    pub cores: f64,
    /// Threads in the group at the end of the window.
    pub threads: u32,
}

/// Cores by group between two snapshots: per thread, Δticks between the
/// two reads; a thread first seen in `b` was born inside the window and
/// counts all its ticks; a thread seen only in `a` exited inside the
/// window: its last part is lost (counted in the returned `exited`), never
/// a negative rate. A tid whose ticks went backwards was reused by a new
/// thread and counts as new.
pub fn cores_by_group(
    a: &ThreadSnapshot,
    b: &ThreadSnapshot,
    ticks_per_s: f64,
) -> (BTreeMap<GroupKey, GroupCpu>, u32) {
    let dt = b.t - a.t;
    let before: HashMap<(i32, i32), u64> = a
        .threads
        .iter()
        .map(|r| ((r.pid, r.tid), r.ticks))
        .collect();
    let mut out: BTreeMap<GroupKey, GroupCpu> = BTreeMap::new();
    let mut seen = 0u32;
    for r in &b.threads {
        let used = match before.get(&(r.pid, r.tid)) {
            Some(&t0) if t0 <= r.ticks => {
                seen += 1;
                r.ticks - t0
            }
            Some(_) => {
                seen += 1;
                r.ticks
            }
            None => r.ticks,
        };
        let g = out
            .entry(GroupKey {
                process: r.process.clone(),
                group: r.group.clone(),
            })
            .or_default();
        g.threads += 1;
        if dt > 0.0 && ticks_per_s > 0.0 {
            g.cores += used as f64 / ticks_per_s / dt;
        }
    }
    let exited = (a.threads.len() as u32).saturating_sub(seen);
    (out, exited)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn th(pid: i32, tid: i32, comm: &str, ticks: u64) -> ThreadRead {
        ThreadRead {
            pid,
            tid,
            process: "gateway".into(),
            group: fold_thread_name(comm),
            ticks,
        }
    }

    #[test]
    fn numeric_suffixes_fold_and_names_stay() {
        assert_eq!(fold_thread_name("worker-1"), "worker-N");
        assert_eq!(fold_thread_name("worker-12"), "worker-N");
        assert_eq!(fold_thread_name("pool7"), "poolN");
        assert_eq!(fold_thread_name("tokio-runtime-w"), "tokio-runtime-w");
        assert_eq!(fold_thread_name("refresh"), "refresh");
        assert_eq!(fold_thread_name("1234"), "N");
        assert_eq!(fold_thread_name(""), "");
    }

    #[test]
    fn process_titles_tell_master_from_workers() {
        assert_eq!(
            process_label("nginx", "nginx: master process nginx -g daemon off;\0"),
            "nginx: master process nginx -g daemon off;"
        );
        assert_eq!(
            process_label("nginx", "nginx: worker process\0"),
            "nginx: worker process"
        );
        assert_eq!(
            process_label("postgres", "postgres: app app 172.17.0.1(51234) idle\0"),
            "postgres: app app N.N.N.N(N) idle"
        );
        assert_eq!(
            process_label("gateway", "/usr/local/bin/gateway\0--x\0"),
            "gateway"
        );
        assert_eq!(process_label("x", ""), "x");
    }

    #[test]
    fn cores_per_group_with_births_exits_and_reuse() {
        let a = ThreadSnapshot {
            t: 1.0,
            threads: vec![
                th(1, 1, "gateway", 100),
                th(1, 2, "worker-1", 10),
                th(1, 3, "worker-2", 10),
                th(1, 4, "refresh", 500),
                th(1, 5, "gone", 7),
            ],
            vanished: 0,
        };
        let b = ThreadSnapshot {
            t: 3.0,
            threads: vec![
                th(1, 1, "gateway", 100),
                th(1, 2, "worker-1", 30),
                th(1, 3, "worker-2", 50),
                th(1, 4, "refresh", 700),
                th(1, 6, "worker-3", 40), // born inside
            ],
            vanished: 0,
        };
        let (g, exited) = cores_by_group(&a, &b, 100.0);
        assert_eq!(exited, 1);
        let key = |group: &str| GroupKey {
            process: "gateway".into(),
            group: group.into(),
        };
        let w = &g[&key("worker-N")];
        assert_eq!(w.threads, 3);
        assert!((w.cores - 0.5).abs() < 1e-12, "{}", w.cores); // (20+40+40)/100/2
        assert!((g[&key("refresh")].cores - 1.0).abs() < 1e-12);
        assert_eq!(g[&key("gateway")].cores, 0.0);
        // A reused tid (ticks went down) is a new thread.
        let c = ThreadSnapshot {
            t: 4.0,
            threads: vec![th(1, 4, "refresh", 50)],
            vanished: 0,
        };
        let (g, _) = cores_by_group(&b, &c, 100.0);
        assert!((g[&key("refresh")].cores - 0.5).abs() < 1e-12);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(19), ..ProptestConfig::default() })]

        #[test]
        fn group_cores_sum_to_the_process_delta_and_never_go_negative(
            ticks in prop::collection::vec((0u64..10_000, 0u64..10_000), 1..30),
        ) {
            let a = ThreadSnapshot { t: 0.0, threads: ticks.iter().enumerate()
                .map(|(i, &(t0, _))| th(1, i as i32, &format!("w{}", i % 3), t0)).collect(), vanished: 0 };
            let b = ThreadSnapshot { t: 2.0, threads: ticks.iter().enumerate()
                .map(|(i, &(t0, d))| th(1, i as i32, &format!("w{}", i % 3), t0 + d)).collect(), vanished: 0 };
            let (g, exited) = cores_by_group(&a, &b, 100.0);
            prop_assert_eq!(exited, 0);
            let total: f64 = g.values().map(|c| c.cores).sum();
            let want: f64 = ticks.iter().map(|&(_, d)| d as f64).sum::<f64>() / 100.0 / 2.0;
            prop_assert!((total - want).abs() < 1e-9);
            prop_assert!(g.values().all(|c| c.cores >= 0.0));
            prop_assert_eq!(g.len(), 1, "w0, w1, w2 fold into wN");
        }

        #[test]
        fn names_never_panic(s in "\\PC{0,40}") {
            let _ = fold_thread_name(&s);
            let _ = process_label(&s, &s);
        }
    }
}
