//! Analysis of the attribution reads ([`crate::probe::attrib`]): one
//! cell's window → memory by category and CPU by thread group; a lane's
//! cells → each category across repeats and, in scaling, each category's
//! exponent by the same fit and rules as the total (`judge_scaling`).

use super::analysis::LEVEL;
use crate::probe::attrib::AttribRead;
use crate::probe::sampler::{TickerStats, Timed};
use crate::probe::smaps::{Category, Mem};
use crate::probe::threads::cores_by_group;
use crate::results::attrib::{
    AttributionFinding, CategoryAggregate, CategoryExponent, CategoryMem, CellAttribution,
    ThreadAggregate, ThreadGroupCpu,
};
use crate::results::{CellRecord, CellStatus, Finding};
use runcost_stats as stats;
use runcost_stats::powerlaw::{judge_scaling, PowerLawOptions, ScalingOutcome, ScalingPoint};
use std::collections::{BTreeMap, BTreeSet};

/// Shared libraries kept by name (largest PSS first); the rest are summed
/// as `lib:(other)`.
pub const TOP_LIBS: usize = 8;

/// Categories fitted in scaling: those whose largest median USS is at
/// least this (smaller ones are noise next to the total's interval).
pub const FIT_MIN_BYTES: f64 = 1024.0 * 1024.0;

/// The key of a category after folding the small libraries.
fn key(c: &Category, kept: &BTreeSet<String>) -> String {
    match c {
        Category::Lib(n) if !kept.contains(n) => "lib:(other)".into(),
        c => c.key(),
    }
}

/// One cell's attribution: the reads inside `[w0, w1]` and the read at
/// the window's end (taken just after `w1`).
pub fn summarise(
    reads: &[Timed<AttribRead>],
    (w0, w1): (f64, f64),
    end_read: bool,
    sampler: TickerStats,
) -> Option<CellAttribution> {
    let last = reads.len().checked_sub(1)?;
    let window: Vec<&AttribRead> = reads
        .iter()
        .enumerate()
        .filter(|(i, r)| (r.t >= w0 && r.t <= w1) || (end_read && *i == last && r.t >= w0))
        .map(|(_, r)| &r.value)
        .collect();
    let (first, end) = (window.first()?, window.last()?);
    // Libraries by mean PSS over the window.
    let mut lib_pss: BTreeMap<String, u64> = BTreeMap::new();
    for r in &window {
        for (c, m) in &r.memory {
            if let Category::Lib(n) = c {
                *lib_pss.entry(n.clone()).or_default() += m.pss;
            }
        }
    }
    let mut libs: Vec<(String, u64)> = lib_pss.into_iter().collect();
    libs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let kept: BTreeSet<String> = libs.into_iter().take(TOP_LIBS).map(|(n, _)| n).collect();
    // Per read, by folded key.
    let folded: Vec<BTreeMap<String, Mem>> = window
        .iter()
        .map(|r| {
            let mut by: BTreeMap<String, Mem> = BTreeMap::new();
            for (c, m) in &r.memory {
                by.entry(key(c, &kept)).or_default().add(m);
            }
            by
        })
        .collect();
    let keys: BTreeSet<&String> = folded.iter().flat_map(|b| b.keys()).collect();
    let n = folded.len() as f64;
    let mut memory: Vec<CategoryMem> = keys
        .iter()
        .map(|&k| {
            let get = |f: fn(&Mem) -> u64| -> Vec<f64> {
                folded
                    .iter()
                    .map(|b| b.get(k).map(f).unwrap_or(0) as f64)
                    .collect()
            };
            let uss = get(|m| m.uss);
            let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
            CategoryMem {
                category: k.clone(),
                uss: mean(&uss),
                pss: mean(&get(|m| m.pss)),
                rss: mean(&get(|m| m.rss)),
                uss_ci: stats::autocorr::mean_ci_autocorrelated(&uss, LEVEL)
                    .ok()
                    .map(|c| (c.ci.lower, c.ci.upper)),
            }
        })
        .collect();
    memory.sort_by(|a, b| b.uss.total_cmp(&a.uss).then(a.category.cmp(&b.category)));
    let (groups, _exited) =
        cores_by_group(&first.threads, &end.threads, crate::probe::clock_ticks());
    let mut threads: Vec<ThreadGroupCpu> = groups
        .into_iter()
        .map(|(k, g)| ThreadGroupCpu {
            process: k.process,
            group: k.group,
            cores: g.cores,
            threads: g.threads,
        })
        .collect();
    threads.sort_by(|a, b| b.cores.total_cmp(&a.cores).then(a.group.cmp(&b.group)));
    let series = window
        .iter()
        .zip(&folded)
        .map(|(r, b)| {
            (
                r.threads.t,
                b.iter().map(|(k, m)| (k.clone(), m.uss)).collect(),
            )
        })
        .collect();
    Some(CellAttribution {
        reads: window.len(),
        memory,
        page_tables: window.iter().map(|r| r.page_tables as f64).sum::<f64>() / n,
        threads,
        series,
        vanished_processes: window.iter().map(|r| u64::from(r.vanished)).sum(),
        skipped_mappings: window.iter().map(|r| u64::from(r.skipped_mappings)).sum(),
        vanished_threads: window.iter().map(|r| u64::from(r.threads.vanished)).sum(),
        sampler,
    })
}

fn median_ci(v: &[f64]) -> Option<(f64, Option<(f64, f64)>)> {
    let s = stats::summary::summarize(v).ok()?;
    let ci = stats::interval::mean_ci_t(v, LEVEL)
        .ok()
        .and_then(|m| m.ci)
        .map(|c| (c.lower, c.upper));
    Some((s.median, ci))
}

/// The lane's attribution across its steady cells; with `scaling_param`,
/// each category's exponent over that parameter. `None` when no cell has
/// attribution (exec sampler).
pub fn lane_finding(cells: &[CellRecord], scaling_param: Option<&str>) -> Option<Finding> {
    let ok: Vec<(&CellRecord, &CellAttribution)> = cells
        .iter()
        .filter(|c| c.status == CellStatus::Ok)
        .filter_map(|c| Some((c, c.attribution.as_ref()?)))
        .collect();
    if ok.is_empty() {
        return None;
    }
    let params: BTreeSet<&BTreeMap<String, String>> = ok.iter().map(|(c, _)| &c.params).collect();
    let cats: BTreeSet<&String> = ok
        .iter()
        .flat_map(|(_, a)| a.memory.iter().map(|m| &m.category))
        .collect();
    let groups: BTreeSet<(&String, &String)> = ok
        .iter()
        .flat_map(|(_, a)| a.threads.iter().map(|t| (&t.process, &t.group)))
        .collect();
    let uss_of = |a: &CellAttribution, cat: &str| {
        a.memory
            .iter()
            .find(|m| m.category == cat)
            .map_or(0.0, |m| m.uss)
    };
    let mut categories = Vec::new();
    let mut threads = Vec::new();
    for p in &params {
        let here: Vec<&CellAttribution> = ok
            .iter()
            .filter(|(c, _)| &&c.params == p)
            .map(|(_, a)| *a)
            .collect();
        for &cat in &cats {
            let per_repeat: Vec<f64> = here.iter().map(|a| uss_of(a, cat)).collect();
            if let Some((median, ci95)) = median_ci(&per_repeat) {
                categories.push(CategoryAggregate {
                    category: cat.clone(),
                    params: (*p).clone(),
                    per_repeat,
                    median,
                    ci95,
                });
            }
        }
        for &(process, group) in &groups {
            let per_repeat: Vec<f64> = here
                .iter()
                .map(|a| {
                    a.threads
                        .iter()
                        .find(|t| &t.process == process && &t.group == group)
                        .map_or(0.0, |t| t.cores)
                })
                .collect();
            if let Some((median, ci95)) = median_ci(&per_repeat) {
                threads.push(ThreadAggregate {
                    process: process.clone(),
                    group: group.clone(),
                    params: (*p).clone(),
                    per_repeat,
                    median,
                    ci95,
                });
            }
        }
    }
    let mut exponents = Vec::new();
    if let Some(param) = scaling_param {
        for &cat in &cats {
            let largest = categories
                .iter()
                .filter(|c| &c.category == cat)
                .map(|c| c.median)
                .fold(0.0, f64::max);
            if largest < FIT_MIN_BYTES {
                continue;
            }
            let points: Vec<ScalingPoint> = ok
                .iter()
                .filter_map(|(c, a)| {
                    Some(ScalingPoint {
                        repeat_id: c.repeat,
                        n: c.params.get(param)?.parse().ok()?,
                        cost: uss_of(a, cat),
                    })
                })
                .collect();
            let outcome = judge_scaling(&points, &PowerLawOptions::default()).unwrap_or_else(|e| {
                ScalingOutcome::NoVerdict {
                    reason: format!("the fit could not be made: {e}"),
                }
            });
            exponents.push(CategoryExponent {
                category: cat.clone(),
                points: points.len(),
                outcome,
            });
        }
    }
    Some(Finding::Attribution(Box::new(AttributionFinding {
        categories,
        threads,
        exponents,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::threads::{ThreadRead, ThreadSnapshot};

    fn read(t: f64, entities: u64, libs: &[(&str, u64)], refresh_ticks: u64) -> Timed<AttribRead> {
        let mut memory = BTreeMap::new();
        memory.insert(
            Category::Memfd("entities".into()),
            Mem {
                rss: entities,
                pss: entities,
                uss: entities,
                swap: 0,
            },
        );
        for (n, pss) in libs {
            memory.insert(
                Category::Lib(n.to_string()),
                Mem {
                    rss: *pss,
                    pss: *pss,
                    uss: 0,
                    swap: 0,
                },
            );
        }
        Timed {
            t,
            read_s: 0.0,
            value: AttribRead {
                memory,
                threads: ThreadSnapshot {
                    t,
                    threads: vec![ThreadRead {
                        pid: 1,
                        tid: 2,
                        process: "gateway".into(),
                        group: "refresh".into(),
                        ticks: refresh_ticks,
                    }],
                    vanished: 0,
                },
                procs: 1,
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_window_folds_small_libraries_and_rates_threads() {
        let libs: Vec<(String, u64)> = (0..10)
            .map(|i| (format!("lib{i}.so"), 1000 * (i + 1)))
            .collect();
        let libs: Vec<(&str, u64)> = libs.iter().map(|(n, p)| (n.as_str(), *p)).collect();
        let reads: Vec<_> = (0..5)
            .map(|i| read(i as f64, 100 + i, &libs, i * 50))
            .collect();
        let ticks = crate::probe::clock_ticks();
        let a = summarise(&reads, (1.0, 3.0), true, TickerStats::default()).unwrap();
        assert_eq!(a.reads, 4, "1, 2, 3 and the end read");
        let keys: Vec<&str> = a.memory.iter().map(|m| m.category.as_str()).collect();
        assert!(
            keys.contains(&"lib:(other)") && keys.contains(&"lib:lib9.so"),
            "{keys:?}"
        );
        assert!(!keys.contains(&"lib:lib0.so") && !keys.contains(&"lib:lib1.so"));
        assert_eq!(keys.len(), 1 + TOP_LIBS + 1);
        let other = a
            .memory
            .iter()
            .find(|m| m.category == "lib:(other)")
            .unwrap();
        assert_eq!(other.pss, 3000.0);
        let ent = a
            .memory
            .iter()
            .find(|m| m.category == "memfd:entities")
            .unwrap();
        assert_eq!(ent.uss, (101 + 102 + 103 + 104) as f64 / 4.0);
        let r = &a.threads[0];
        assert_eq!(r.group, "refresh");
        assert!((r.cores - 150.0 / ticks / 3.0).abs() < 1e-9, "{}", r.cores);
        assert!(summarise(&[], (0.0, 1.0), true, TickerStats::default()).is_none());
    }
}
