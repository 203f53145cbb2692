//! What a comparison concluded, in a few fields: written beside the compare
//! table as `compare-<name>.json` so the results index (`report::index`)
//! shows each run's verdict without judging it again. The table stays the
//! record a reader is pointed at; this is its summary for machines.

use super::judge::{Check, Comparison, Verdict};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareSummary {
    /// The baseline judged against; None: the profile's budgets only.
    pub baseline: Option<String>,
    pub run: String,
    /// The worst verdict of any item (the gate's outcome).
    pub verdict: Verdict,
    /// Items judged.
    pub items: usize,
    /// Keys of the REGRESSED and WARN items (a budget row as `KEY budget`).
    pub regressed: Vec<String>,
    pub warned: Vec<String>,
    /// RFC 3339, UTC: the latest comparison of a run is its verdict.
    pub judged_at: String,
}

impl CompareSummary {
    pub fn of(c: &Comparison, judged_at: String) -> CompareSummary {
        let keys = |v: Verdict| -> Vec<String> {
            c.rows
                .iter()
                .filter(|r| r.verdict == v)
                .map(|r| match r.check {
                    Check::Baseline => r.key.clone(),
                    Check::Budget { .. } => format!("{} budget", r.key),
                })
                .collect()
        };
        CompareSummary {
            baseline: c.baseline.clone(),
            run: c.run.clone(),
            verdict: c.worst(),
            items: c.rows.len(),
            regressed: keys(Verdict::Regressed),
            warned: keys(Verdict::Warn),
            judged_at,
        }
    }

    /// The file stem both outputs of a comparison share.
    pub fn stem(baseline: Option<&str>) -> String {
        format!("compare-{}", baseline.unwrap_or("budgets"))
    }
}
