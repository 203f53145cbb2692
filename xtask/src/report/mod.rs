//! Reports: every output format (`format::Format`, one file each) and the
//! charts, from a run's record and raw samples. Only this module draws or
//! formats. `render` can run again later (`cargo xtask report`).

pub mod attrib;
pub mod bmf;
pub mod box_snapshot;
pub mod boxaxes;
pub mod boxes;
pub mod charts;
pub mod compare;
pub mod csv;
pub mod fault;
pub mod format;
pub mod gab;
pub mod history;
pub mod hold;
pub mod html;
pub mod index;
pub mod leaks;
pub mod markdown;
pub mod tool;
pub mod words;

use crate::fs::write_atomic;
use crate::results::RunRecord;
use crate::rundir::RunDir;
use anyhow::Result;
use format::Format;

/// Writes `charts/*` and `report.md` into the run directory.
pub fn render(run: &RunDir, record: &RunRecord) -> Result<()> {
    let charts = charts::draw_all(run, record)?;
    let md = markdown::RunReport { charts: &charts }.render(record)?;
    write_atomic(&run.path("report.md"), md.as_bytes())
}
