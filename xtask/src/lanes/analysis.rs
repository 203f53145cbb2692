//! Turning samples into numbers, over the pure `runcost_stats` crate:
//! window precision, window means with autocorrelation-corrected intervals,
//! and across-repeat aggregates.

use crate::probe::sampler::Sample;
use crate::results::{Aggregate, CellMetric, CellRecord, CellStatus, MetricKind};
use runcost_stats as stats;
use std::collections::BTreeMap;

/// Confidence level used throughout.
pub const LEVEL: f64 = 0.95;

/// Whether the window mean is known to a relative CI half-width `target`
/// (the stats crate's sequential relative-precision rule); fewer than 20
/// samples are never enough.
pub fn precise_enough(y: &[f64], target: f64) -> bool {
    if y.len() < 20 {
        return false;
    }
    match stats::steady::mean_precision(y, target, LEVEL) {
        Ok(p) => p.reached,
        // A zero target can never be reached; a constant series always is.
        Err(_) => y.windows(2).all(|w| w[0] == w[1]),
    }
}

/// The value series of a metric over a window. CPU is a rate: per-interval
/// Δcpu/Δt, whose mean over equal intervals is the window's CPU use.
pub fn series(window: &[Sample], metric: MetricKind) -> Vec<f64> {
    let r = |f: fn(&Sample) -> f64| window.iter().map(f).collect::<Vec<f64>>();
    // Metrics a probe may lack, or reads at a lower rate: present samples only.
    let some = |f: fn(&Sample) -> Option<u64>| {
        window
            .iter()
            .filter_map(|s| f(s).map(|v| v as f64))
            .collect::<Vec<f64>>()
    };
    match metric {
        MetricKind::Uss => r(|s| s.value.uss as f64),
        MetricKind::Pss => r(|s| s.value.pss as f64),
        MetricKind::PssAnon => r(|s| s.value.pss_anon as f64),
        MetricKind::Rss => r(|s| s.value.rss as f64),
        MetricKind::Swap => r(|s| s.value.swap as f64),
        MetricKind::Threads => r(|s| s.value.threads as f64),
        MetricKind::Fds => r(|s| s.value.fds as f64),
        // The generator's metrics are not sampled series.
        MetricKind::LatencyP50
        | MetricKind::LatencyP99
        | MetricKind::Throughput
        | MetricKind::ErrorRate => Vec::new(),
        MetricKind::CgroupMem => some(|s| s.value.cgroup_mem),
        MetricKind::GroupUnique => some(|s| s.value.group_unique),
        MetricKind::CgroupAnon => some(|s| s.value.cgroup_anon),
        MetricKind::CgroupShmem => some(|s| s.value.cgroup_shmem),
        MetricKind::CgroupFileActive => some(|s| s.value.cgroup_file_active),
        MetricKind::CgroupFileInactive => some(|s| s.value.cgroup_file_inactive),
        MetricKind::CgroupKernel => some(|s| s.value.cgroup_kernel),
        MetricKind::CgroupSock => some(|s| s.value.cgroup_sock),
        MetricKind::CgroupSwap => some(|s| s.value.cgroup_swap),
        // Present only when all three parts were read in the same sample.
        MetricKind::CgroupShmemFile => some(|s| {
            Some(
                s.value.cgroup_shmem?
                    + s.value.cgroup_file_active?
                    + s.value.cgroup_file_inactive?,
            )
        }),
        MetricKind::CgroupCpuCores => window
            .windows(2)
            .filter_map(|w| {
                Some((
                    w[0].t,
                    w[0].value.cgroup_cpu_s?,
                    w[1].t,
                    w[1].value.cgroup_cpu_s?,
                ))
            })
            .filter(|(t0, _, t1, _)| t1 > t0)
            .map(|(t0, c0, t1, c1)| (c1 - c0) / (t1 - t0))
            .collect(),
        MetricKind::CpuCores => window
            .windows(2)
            .filter(|w| w[1].t > w[0].t)
            .map(|w| (w[1].value.cpu_s - w[0].value.cpu_s) / (w[1].t - w[0].t))
            .collect(),
    }
}

/// Per-cell metrics over the measurement window.
pub fn cell_metrics(window: &[Sample]) -> Vec<CellMetric> {
    MetricKind::FOOTPRINT
        .iter()
        .filter_map(|&metric| {
            let y = series(window, metric);
            if y.is_empty() {
                return None;
            }
            // CPU over the window is exact from the end points; the per-
            // interval series only gives its uncertainty.
            let value = match metric {
                MetricKind::CpuCores => {
                    let (a, b) = (window.first()?, window.last()?);
                    (b.value.cpu_s - a.value.cpu_s) / (b.t - a.t).max(f64::EPSILON)
                }
                MetricKind::CgroupCpuCores => {
                    let (a, b) = (window.first()?, window.last()?);
                    (b.value.cgroup_cpu_s? - a.value.cgroup_cpu_s?) / (b.t - a.t).max(f64::EPSILON)
                }
                _ => y.iter().sum::<f64>() / y.len() as f64,
            };
            let ci = stats::autocorr::mean_ci_autocorrelated(&y, LEVEL).ok();
            Some(CellMetric {
                metric,
                value,
                ci: ci.as_ref().map(|c| (c.ci.lower, c.ci.upper)),
                n: y.len(),
                n_eff: ci.as_ref().map(|c| c.n_eff).unwrap_or(y.len() as f64),
                lag1: ci.as_ref().map(|c| c.r1).filter(|r| r.is_finite()),
            })
        })
        .collect()
}

/// Across-repeat aggregates of steady cells, per metric: median, IQR, mean,
/// and a Student-t interval of the repeat values.
pub fn aggregate(
    cells: &[CellRecord],
    metrics: &[MetricKind],
    params: &BTreeMap<String, String>,
) -> Vec<Aggregate> {
    metrics
        .iter()
        .filter_map(|&metric| {
            let per_repeat: Vec<f64> = cells
                .iter()
                .filter(|c| c.status == CellStatus::Ok && &c.params == params)
                .filter_map(|c| {
                    c.metrics
                        .iter()
                        .find(|m| m.metric == metric)
                        .map(|m| m.value)
                })
                .collect();
            let summary = stats::summary::summarize(&per_repeat).ok()?;
            let ci = stats::interval::mean_ci_t(&per_repeat, LEVEL)
                .ok()
                .and_then(|m| m.ci);
            let tier = stats::percentile::Tier::from_n(per_repeat.len());
            Some(Aggregate {
                metric,
                unit: metric.unit(),
                direction: metric.direction(),
                params: params.clone(),
                n: per_repeat.len(),
                tier: serde_json::to_value(tier)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                median: summary.median,
                mean: summary.mean,
                iqr: (per_repeat.len() >= 2).then_some(summary.iqr),
                ci95: ci.map(|c| (c.lower, c.upper)),
                per_repeat,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reading;

    fn sample(t: f64, uss: u64, cpu_s: f64) -> Sample {
        Sample {
            t,
            read_s: 0.0,
            value: Reading {
                uss,
                cpu_s,
                ..Default::default()
            },
        }
    }

    #[test]
    fn cpu_is_a_rate_over_the_window() {
        let w: Vec<Sample> = (0..=20)
            .map(|i| sample(i as f64 * 0.5, 100, i as f64 * 0.25))
            .collect();
        let m = cell_metrics(&w);
        let cpu = m.iter().find(|m| m.metric == MetricKind::CpuCores).unwrap();
        assert!((cpu.value - 0.5).abs() < 1e-9, "{}", cpu.value);
        let uss = m.iter().find(|m| m.metric == MetricKind::Uss).unwrap();
        assert_eq!(uss.value, 100.0);
        assert!(
            m.iter().all(|m| m.metric != MetricKind::CgroupMem),
            "no cgroup readings, no metric"
        );
    }

    #[test]
    fn shmem_and_file_cache_add_up_where_all_three_were_read() {
        let mut a = sample(0.0, 1, 0.0);
        a.value.cgroup_shmem = Some(100);
        a.value.cgroup_file_active = Some(20);
        a.value.cgroup_file_inactive = Some(3);
        let mut b = a;
        b.value.cgroup_file_inactive = None;
        assert_eq!(series(&[a, b], MetricKind::CgroupShmemFile), vec![123.0]);
    }
}
