//! github-action-benchmark JSON (`cargo xtask export --format gab` /
//! `gab-bigger`): its `customSmallerIsBetter` and `customBiggerIsBetter`
//! tools each take the metrics of one direction; value = the median,
//! range = half the 95 % interval of the mean.

use super::format::Format;
use crate::compare::metric_key;
use crate::results::{Direction, RunRecord};
use anyhow::Result;
use serde_json::{json, Value};

pub struct Gab {
    /// Which metrics go in: the tool of that direction.
    pub direction: Direction,
}

impl Format for Gab {
    type Input = RunRecord;

    fn render(&self, record: &RunRecord) -> Result<String> {
        let mut out = Vec::new();
        for l in &record.lanes {
            for a in l
                .aggregates
                .iter()
                .filter(|a| a.direction == self.direction)
            {
                let mut v = json!({
                    "name": format!("{} {}", record.profile.name, metric_key(l.lane, a)),
                    "unit": serde_json::to_value(a.unit)?,
                    "value": a.median,
                    "extra": format!(
                        "run {} · n={} ({}) · per repeat {:?}",
                        record.run_id, a.n, a.tier, a.per_repeat
                    ),
                });
                if let (Some((lo, hi)), Value::Object(m)) = (a.ci95, &mut v) {
                    m.insert("range".into(), json!(format!("± {}", (hi - lo) / 2.0)));
                }
                out.push(v);
            }
        }
        Ok(serde_json::to_string_pretty(&Value::Array(out))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::bmf::tests::record;

    #[test]
    fn gab_snapshots() {
        for (name, direction) in [
            ("smaller", Direction::LowerIsBetter),
            ("bigger", Direction::HigherIsBetter),
        ] {
            insta::assert_snapshot!(name, Gab { direction }.render(&record()).unwrap());
        }
    }
}
