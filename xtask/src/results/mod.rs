//! Results: the versioned run record (`run.json`) as plain serde types, with
//! its JSON Schema (`docs/run.schema.json`). A leaf: it imports only serde,
//! schemars and the leaf crates (stats, leakparse, loadgen's result types),
//! so every part of the harness can use the record and nothing here does
//! I/O. The run directory is `crate::rundir`, atomic writes `crate::fs`, the
//! host fingerprint `crate::probe::fingerprint`.

pub mod attrib;
pub mod boxaxes;
pub mod boxes;
pub mod engine;
#[cfg(test)]
pub(crate) mod example;
pub mod fault;
pub mod leaks;
pub mod sampling;
pub mod schema;
#[cfg(test)]
mod schema_file;
pub mod suite;
pub mod tool;

pub use engine::{CgroupPlacement, EngineKind, EngineRef, EngineTraits, EngineTransport, Traffic};
pub use sampling::{SamplerMode, TickerStats};
pub use schema::*;
