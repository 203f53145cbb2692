//! One trait for every output format. A format is a pure function from a
//! plain results value to text: no files, no clock, no engine, so each is
//! pinned by an insta snapshot on a hand-built value. Commands load their
//! input, call a format, and write or print what it returns.
//!
//! The formats: the run report (`markdown::RunReport`), the compare table
//! (`compare::CompareTable`), the history table (`history::HistoryTable`),
//! Bencher Metric Format (`bmf::Bmf`), github-action-benchmark JSON
//! (`gab::Gab`) and the samples CSV (`csv::SamplesCsv`).

use anyhow::Result;

pub trait Format {
    /// What the format renders (a record, a comparison, samples).
    type Input: ?Sized;

    fn render(&self, input: &Self::Input) -> Result<String>;
}
