//! The history table (`cargo xtask history`, `results/history/report.md`):
//! per metric, its median in each stored complete run, in time order, with
//! change points (E-divisive means with Otava's t-test, from the stats
//! crate). [`History::from_runs`] builds the input; charts are drawn by the
//! command, which records their file names in it.

use super::format::Format;
use crate::compare::metric_key;
use crate::results::{RunRecord, Unit};
use anyhow::Result;
use runcost_stats::changepoint::{detect_change_points, ChangePoint, ChangePointOptions};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// (run index, run id, median).
pub type Point = (usize, String, f64);

#[derive(Clone, Debug, Serialize)]
pub struct History {
    pub profile: String,
    pub runs: usize,
    pub series: Vec<Series>,
}

/// One metric over the runs.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    /// `lane/metric[/param=value...]`.
    pub key: String,
    pub unit: Unit,
    /// In time order.
    pub points: Vec<Point>,
    pub change_points: ChangePoints,
    /// The chart's file, relative to the report.
    pub chart: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangePoints {
    /// Fewer runs than two segments of the detector's minimum size.
    TooFew {
        needs: usize,
    },
    Found(Vec<ChangePoint>),
}

impl History {
    /// Every aggregate's median across `runs` (sorted by start time here),
    /// with change points once there are enough runs.
    pub fn from_runs(profile: &str, runs: &[RunRecord]) -> History {
        let mut order: Vec<&RunRecord> = runs.iter().collect();
        order.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        let mut by_key: BTreeMap<String, (Unit, Vec<Point>)> = BTreeMap::new();
        // Runs of different host fingerprints are never pooled: with more
        // than one host, each metric is one series per host, side by side.
        let hosts: std::collections::BTreeSet<String> =
            order.iter().map(|r| host_label(&r.host)).collect();
        let split = hosts.len() > 1;
        for (i, r) in order.iter().enumerate() {
            for l in &r.lanes {
                for a in &l.aggregates {
                    let key = metric_key(l.lane, a);
                    let key = if split {
                        format!("{key}@{}", host_label(&r.host))
                    } else {
                        key
                    };
                    by_key
                        .entry(key)
                        .or_insert_with(|| (a.unit, Vec::new()))
                        .1
                        .push((i, r.run_id.clone(), a.median));
                }
            }
        }
        let opts = ChangePointOptions::default();
        let series = by_key
            .into_iter()
            .map(|(key, (unit, points))| {
                let values: Vec<f64> = points.iter().map(|p| p.2).collect();
                let change_points = if values.len() < 2 * opts.min_size {
                    ChangePoints::TooFew {
                        needs: 2 * opts.min_size,
                    }
                } else {
                    ChangePoints::Found(detect_change_points(&values, &opts).unwrap_or_default())
                };
                Series {
                    key,
                    unit,
                    points,
                    change_points,
                    chart: None,
                }
            })
            .collect();
        History {
            profile: profile.into(),
            runs: order.len(),
            series,
        }
    }
}

impl Series {
    /// Run indices of the change points (chart markers).
    pub fn markers(&self) -> Vec<f64> {
        match &self.change_points {
            ChangePoints::Found(cps) => cps.iter().map(|c| c.index as f64).collect(),
            ChangePoints::TooFew { .. } => Vec::new(),
        }
    }
}

pub struct HistoryTable;

impl Format for HistoryTable {
    type Input = History;

    fn render(&self, h: &History) -> Result<String> {
        let mut md = String::new();
        writeln!(
            md,
            "# runcost history of `{}`: {} complete run(s)\n",
            h.profile, h.runs
        )?;
        writeln!(
            md,
            "| metric | runs | first | last | change points (run: before → after, p) |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---|")?;
        for s in &h.series {
            let (Some(first), Some(last)) = (s.points.first(), s.points.last()) else {
                continue;
            };
            let cps = match &s.change_points {
                ChangePoints::TooFew { needs } => format!("— (needs {needs} runs)"),
                ChangePoints::Found(cps) if cps.is_empty() => "none".into(),
                ChangePoints::Found(cps) => cps
                    .iter()
                    .map(|c| {
                        format!(
                            "`{}`: {} → {} (p {:.3})",
                            s.points.get(c.index).map(|p| p.1.as_str()).unwrap_or("?"),
                            s.unit.show(c.before_mean),
                            s.unit.show(c.after_mean),
                            c.p_value
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            writeln!(
                md,
                "| {} | {} | {} | {} | {cps} |",
                s.key,
                s.points.len(),
                s.unit.show(first.2),
                s.unit.show(last.2),
            )?;
            if let Some(file) = &s.chart {
                writeln!(md, "\n![{}]({file})\n", s.key)?;
            }
        }
        Ok(md)
    }
}

/// A host fingerprint as a short name safe in a series key and a chart
/// file name: hostname, cores, memory, kernel, engine. Two runs share it
/// exactly when `compare` would see no host difference in those fields.
pub fn host_label(h: &crate::results::HostFingerprint) -> String {
    let raw = format!(
        "{}-{}c-{}g-{}-{}",
        h.hostname,
        h.cores,
        (h.mem_total_bytes as f64 / (1u64 << 30) as f64).round(),
        h.kernel,
        h.engine_version
    );
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::markdown::tests::fixture;
    use crate::results::MetricKind;

    /// Twelve runs: USS 100 MiB ± 0.5 %, then 110 MiB from run 6; threads
    /// flat at 4.
    fn runs() -> Vec<RunRecord> {
        (0..12)
            .map(|i| {
                let mut r = fixture();
                r.run_id = format!("20261120-0000{i:02}-abcd");
                r.started_at = format!("2026-11-20T00:{i:02}:00Z");
                let wobble = [
                    0.0, 0.4, -0.3, 0.2, -0.5, 0.1, 0.3, -0.2, 0.5, -0.1, 0.2, -0.4,
                ][i];
                let v = (if i >= 6 { 110.0 } else { 100.0 } + wobble) * 1048576.0;
                let mut threads = r.lanes[0].aggregates[0].clone();
                threads.metric = MetricKind::Threads;
                threads.unit = Unit::Count;
                threads.median = 4.0;
                r.lanes[0].aggregates[0].median = v;
                r.lanes[0].aggregates.push(threads);
                r
            })
            .rev() // from_runs orders by start time, not by input order
            .collect()
    }

    #[test]
    fn history_table_snapshot() {
        let mut h = History::from_runs("gateway", &runs());
        h.series[0].chart = Some("charts/history-footprint-threads.png".into());
        h.series[1].chart = Some("charts/history-footprint-uss.png".into());
        let few = History::from_runs("gateway", &runs()[..3]);
        let md = HistoryTable.render(&h).unwrap() + "\n" + &HistoryTable.render(&few).unwrap();
        insta::assert_snapshot!(md);
    }

    #[test]
    fn runs_of_two_hosts_are_two_series_never_pooled() {
        let mut runs = runs();
        for r in runs.iter_mut().skip(6) {
            r.host.hostname = "bench-b".into();
        }
        let h = History::from_runs("gateway", &runs);
        let uss: Vec<&Series> = h
            .series
            .iter()
            .filter(|s| s.key.starts_with("footprint/uss@"))
            .collect();
        assert_eq!(
            uss.len(),
            2,
            "{:?}",
            h.series.iter().map(|s| &s.key).collect::<Vec<_>>()
        );
        assert!(uss.iter().all(|s| s.points.len() == 6));
        assert!(uss.iter().any(|s| s.key.contains("bench-b")));
        // One host: the keys are the plain metric keys.
        let one = History::from_runs("gateway", &super::tests::runs());
        assert!(one.series.iter().any(|s| s.key == "footprint/uss"));
    }
}
