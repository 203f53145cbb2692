//! `cargo xtask export --format bmf|gab|gab-bigger`: a run's aggregates in
//! the formats users already push results into (`report::bmf`,
//! `report::gab`), on stdout.

use crate::error::ExitCode;
use crate::report::bmf::Bmf;
use crate::report::format::Format as _;
use crate::report::gab::Gab;
use crate::results::Direction;
use crate::rundir::resolve_run;
use crate::runner::Common;
use anyhow::Result;

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
    let record = resolve_run(&common.results, run)?.read_record()?;
    let text = match format {
        Format::Bmf => Bmf.render(&record)?,
        Format::Gab => Gab {
            direction: Direction::LowerIsBetter,
        }
        .render(&record)?,
        Format::GabBigger => Gab {
            direction: Direction::HigherIsBetter,
        }
        .render(&record)?,
    };
    println!("{text}");
    Ok(ExitCode::Ok)
}
