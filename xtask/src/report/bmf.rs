//! Bencher Metric Format (`cargo xtask export --format bmf`): benchmark =
//! profile/lane[/setting...], measure = metric, value = the median with the
//! 95 % interval of the mean as its bounds.

use super::format::Format;
use crate::compare::metric_key;
use crate::results::RunRecord;
use anyhow::Result;
use serde_json::{json, Map, Value};

pub struct Bmf;

impl Format for Bmf {
    type Input = RunRecord;

    fn render(&self, record: &RunRecord) -> Result<String> {
        let mut out = Map::new();
        for l in &record.lanes {
            for a in &l.aggregates {
                let key = metric_key(l.lane, a);
                let mut parts = key.split('/');
                let (lane, metric) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let bench = [record.profile.name.as_str(), lane]
                    .into_iter()
                    .chain(parts)
                    .collect::<Vec<_>>()
                    .join("/");
                let mut measure = Map::new();
                measure.insert("value".into(), json!(a.median));
                if let Some((lo, hi)) = a.ci95 {
                    measure.insert("lower_value".into(), json!(lo));
                    measure.insert("upper_value".into(), json!(hi));
                }
                if let Value::Object(m) = out
                    .entry(bench)
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    m.insert(metric.to_string(), Value::Object(measure));
                }
            }
        }
        Ok(serde_json::to_string_pretty(&Value::Object(out))?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::markdown::tests::fixture;
    use crate::results::{Aggregate, LaneKind, LaneRecord, MetricKind};

    /// The markdown fixture plus a load lane: throughput (higher is better)
    /// and p99 latency (lower) at two rates, with intervals.
    pub(crate) fn record() -> RunRecord {
        let mut r = fixture();
        let agg = |metric: MetricKind, rate: &str, per_repeat: Vec<f64>| {
            let mean = per_repeat.iter().sum::<f64>() / per_repeat.len() as f64;
            Aggregate {
                metric,
                unit: metric.unit(),
                direction: metric.direction(),
                params: [("rate".to_string(), rate.to_string())].into(),
                n: per_repeat.len(),
                tier: "tiny".into(),
                median: per_repeat[per_repeat.len() / 2],
                mean,
                iqr: None,
                ci95: Some((mean * 0.98, mean * 1.02)),
                per_repeat,
            }
        };
        r.lanes.push(LaneRecord {
            lane: LaneKind::Load,
            cells: vec![],
            aggregates: vec![
                agg(MetricKind::Throughput, "1000", vec![999.0, 1000.0, 1000.5]),
                agg(MetricKind::LatencyP99, "1000", vec![0.0021, 0.0025, 0.0030]),
                agg(MetricKind::Throughput, "5000", vec![4990.0, 5000.0, 4999.0]),
            ],
            skipped: vec![],
            findings: vec![],
        });
        r
    }

    #[test]
    fn bmf_snapshot() {
        insta::assert_snapshot!(Bmf.render(&record()).unwrap());
    }
}
