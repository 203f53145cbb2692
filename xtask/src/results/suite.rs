//! What a `suite` run adds to the record: the lanes it planned, in order,
//! each with its own settings and how it ended. The lanes' measurements are
//! in `RunRecord::lanes` as for a single lane.

use super::{LaneKind, Settings};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SuiteRecord {
    pub lanes: Vec<SuiteLane>,
}

/// One planned lane of a suite.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SuiteLane {
    pub lane: LaneKind,
    /// The lane's settings, as its own command would record them.
    pub settings: Settings,
    pub status: LaneStatus,
    /// Why the lane failed, or which of its cells did.
    pub error: Option<String>,
    /// Wall-clock seconds the lane took.
    pub seconds: f64,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LaneStatus {
    /// Every cell measured.
    Complete,
    /// Some cells failed; the others are in the record.
    CellsFailed,
    /// No cell measured (or the lane could not start).
    Failed,
}

impl std::fmt::Display for LaneStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LaneStatus::Complete => "complete",
            LaneStatus::CellsFailed => "cells failed",
            LaneStatus::Failed => "FAILED",
        })
    }
}
