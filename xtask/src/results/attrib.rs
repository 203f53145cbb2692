//! Where the cost goes, as run.json keeps it: memory by mapping category
//! and CPU by thread group over one cell's window (`CellRecord::attribution`),
//! and across repeats and sizes in a lane's `Finding::Attribution`.
//! `probe::attrib` reads; `lanes::attrib` summarises.

use super::sampling::TickerStats;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One cell's attribution over its measurement window.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct CellAttribution {
    /// Attribution reads inside the window (1 Hz and one at its end).
    pub reads: usize,
    /// Memory by category (`heap`, `stack`, `anon`, `anon:NAME`,
    /// `memfd:NAME`, `shmem`, `binary`, `lib:NAME`, `lib:(other)`, `tmpfs`,
    /// `file`, `kernel`), summed over the sampled processes, window means,
    /// largest USS first. They add up to the read's totals.
    pub memory: Vec<CategoryMem>,
    /// Page tables (VmPTE), bytes, window mean.
    pub page_tables: f64,
    /// CPU by (process, thread group) between the window's first and last
    /// read, busiest first.
    pub threads: Vec<ThreadGroupCpu>,
    /// USS by category at each read (seconds since cell start, bytes), for
    /// the stacked chart; the same categories as `memory`.
    pub series: Vec<(f64, BTreeMap<String, u64>)>,
    /// Processes that exited during a read, mappings skipped as torn,
    /// threads that vanished between listing and read: counted, never a
    /// wrong sum.
    pub vanished_processes: u64,
    pub skipped_mappings: u64,
    pub vanished_threads: u64,
    /// The attribution reader's own ticker: its CPU is its cost.
    pub sampler: TickerStats,
}

/// One memory category over a window, bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CategoryMem {
    pub category: String,
    pub uss: f64,
    pub pss: f64,
    pub rss: f64,
    /// Autocorrelation-corrected 95 % interval of the USS window mean.
    pub uss_ci: Option<(f64, f64)>,
}

/// One (process, thread group) over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThreadGroupCpu {
    /// The process's title or comm (`nginx: worker process`).
    pub process: String,
    /// The thread name with its numeric suffix folded (`worker-N`).
    pub group: String,
    pub cores: f64,
    pub threads: u32,
}

/// A lane's attribution across its cells: each category's USS per
/// parameter set (median and interval over repeats) and, in scaling, the
/// exponent of each category with the same fit and rules as the total.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AttributionFinding {
    pub categories: Vec<CategoryAggregate>,
    pub threads: Vec<ThreadAggregate>,
    /// Scaling only: cost(n) = a + b·n^k per category (USS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exponents: Vec<CategoryExponent>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CategoryAggregate {
    pub category: String,
    pub params: BTreeMap<String, String>,
    /// USS window means of the repeats, bytes.
    pub per_repeat: Vec<f64>,
    pub median: f64,
    /// Student-t 95 % interval of the repeat mean.
    pub ci95: Option<(f64, f64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ThreadAggregate {
    pub process: String,
    pub group: String,
    pub params: BTreeMap<String, String>,
    /// Cores of the repeats.
    pub per_repeat: Vec<f64>,
    pub median: f64,
    pub ci95: Option<(f64, f64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CategoryExponent {
    pub category: String,
    pub points: usize,
    pub outcome: runcost_stats::powerlaw::ScalingOutcome,
}
