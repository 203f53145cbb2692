//! `cargo xtask export --format bmf|gab|gab-bigger`: a run's aggregates in
//! the formats users already push results into.

use crate::compare::metric_key;
use crate::error::ExitCode;
use crate::results::{Direction, RunRecord};
use crate::rundir::resolve_run;
use crate::runner::Common;
use anyhow::Result;
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Bencher Metric Format.
    Bmf,
    /// github-action-benchmark `customSmallerIsBetter` (lower-is-better metrics).
    Gab,
    /// github-action-benchmark `customBiggerIsBetter` (higher-is-better metrics).
    GabBigger,
}

pub fn run(common: &Common, run: Option<&str>, format: Format) -> Result<ExitCode> {
    let dir = resolve_run(&common.results, run)?;
    let record = dir.read_record()?;
    println!(
        "{}",
        serde_json::to_string_pretty(&render(&record, format))?
    );
    Ok(ExitCode::Ok)
}

pub fn render(record: &RunRecord, format: Format) -> Value {
    let items = record
        .lanes
        .iter()
        .flat_map(|l| l.aggregates.iter().map(move |a| (l.lane, a)));
    match format {
        Format::Bmf => {
            // benchmark = profile + lane + setting; measure = metric.
            let mut out = Map::new();
            for (lane, a) in items {
                let key = metric_key(lane, a);
                let mut parts = key.split('/');
                let (lane_name, metric) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let setting: Vec<&str> = parts.collect();
                let bench = [record.profile.name.as_str(), lane_name]
                    .into_iter()
                    .chain(setting)
                    .collect::<Vec<_>>()
                    .join("/");
                let mut measure = Map::new();
                measure.insert("value".into(), json!(a.median));
                if let Some((lo, hi)) = a.ci95 {
                    measure.insert("lower_value".into(), json!(lo));
                    measure.insert("upper_value".into(), json!(hi));
                }
                let entry = out
                    .entry(bench)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(metric.to_string(), Value::Object(measure));
                }
            }
            Value::Object(out)
        }
        Format::Gab | Format::GabBigger => {
            let want = if format == Format::Gab {
                Direction::LowerIsBetter
            } else {
                Direction::HigherIsBetter
            };
            let arr: Vec<Value> = items
                .filter(|(_, a)| a.direction == want)
                .map(|(lane, a)| {
                    let unit = serde_json::to_value(a.unit).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                    let range = a.ci95.map(|(lo, hi)| format!("± {}", (hi - lo) / 2.0));
                    let mut v = json!({
                        "name": format!("{} {}", record.profile.name, metric_key(lane, a)),
                        "unit": unit,
                        "value": a.median,
                        "extra": format!("run {} · n={} ({}) · per repeat {:?}", record.run_id, a.n, a.tier, a.per_repeat),
                    });
                    if let (Some(r), Value::Object(m)) = (range, &mut v) {
                        m.insert("range".into(), json!(r));
                    }
                    v
                })
                .collect();
            Value::Array(arr)
        }
    }
}
