//! Reports: markdown and charts from a run's record and raw samples. Only
//! this module draws. `render` can run again later (`cargo xtask report`).

pub mod boxes;
pub mod charts;
pub mod fault;
pub mod leaks;
pub mod markdown;
pub mod words;

use crate::fs::write_atomic;
use crate::results::RunRecord;
use crate::rundir::RunDir;
use anyhow::Result;

/// Writes `charts/*` and `report.md` into the run directory.
pub fn render(run: &RunDir, record: &RunRecord) -> Result<()> {
    let charts = charts::draw_all(run, record)?;
    let md = markdown::render(record, &charts);
    write_atomic(&run.path("report.md"), md.as_bytes())
}
