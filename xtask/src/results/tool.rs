//! Tool mode of the load lane (`load.tool`): the service's own load tool
//! ran against the target while runcost sampled the target. What the tool
//! printed is kept verbatim in the run directory; for the tools runcost
//! knows, its figures are read back here. They are the tool's closed-loop
//! numbers (each client sends when its previous answer came back, so a
//! stall delays the requests behind it and is under-counted), not runcost's
//! coordinated-omission-free latency.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Load tools whose output runcost reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// PostgreSQL's pgbench: transactions per second and mean latency.
    Pgbench,
    /// redis-benchmark (`--csv` or `-q`): requests per second and
    /// latency percentiles per test.
    RedisBenchmark,
}

/// One tool run in a cell.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ToolRecord {
    /// Always "closed-loop figures printed by the tool, not runcost's
    /// coordinated-omission-free latency": read `figures` as the tool's.
    pub label: String,
    /// The argv as run (placeholders filled in).
    pub argv: Vec<String>,
    /// The image the tool ran from, in its own container sharing the
    /// target's network namespace.
    pub image: String,
    /// CPUs of the tool's container (the generator's, away from the target).
    pub cpuset: Option<String>,
    pub exit_code: i64,
    /// Wall time of the tool's container run, seconds.
    pub wall_s: f64,
    /// Run-directory paths of what the tool printed, verbatim.
    pub stdout_file: String,
    pub stderr_file: String,
    /// The setup run (`load.tool.setup`) before warm-up, if any.
    pub setup: Option<ToolSetupRecord>,
    /// Which parser read the output; None for a tool runcost does not know.
    pub kind: Option<ToolKind>,
    /// The tool's own figures (empty when unknown or unparsable).
    pub figures: Vec<ToolFigure>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ToolSetupRecord {
    pub argv: Vec<String>,
    pub exit_code: i64,
    pub wall_s: f64,
    pub stdout_file: String,
    pub stderr_file: String,
}

/// One figure line of a tool: a test (redis-benchmark) or the run (pgbench).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolFigure {
    /// The test's name: `GET`, `SET` (redis-benchmark), the transaction
    /// type (pgbench).
    pub test: String,
    /// Requests or transactions per second, as the tool computed it.
    pub throughput_per_s: f64,
    pub latency_avg_ms: Option<f64>,
    pub latency_stddev_ms: Option<f64>,
    pub latency_min_ms: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    /// Completed transactions (pgbench).
    pub count: Option<u64>,
    /// Failed transactions (pgbench).
    pub failed: Option<u64>,
}

/// The label every tool record carries.
pub const TOOL_LABEL: &str =
    "closed-loop figures printed by the tool, not runcost's coordinated-omission-free latency";
