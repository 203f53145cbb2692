//! Lanes: one file per lane, each reading like a method section: setup,
//! warm-up, measurement, analysis, verdict. Shared cell mechanics live in
//! `cell`, numerical analysis in `analysis` (over the pure stats crate).

pub mod analysis;
pub mod attrib;
pub mod boxes;
pub mod cell;
pub mod churn;
pub mod fault;
pub mod footprint;
pub mod heap;
pub mod hold;
pub mod load;
pub mod loadtool;
pub mod memcheck;
pub mod order;
pub mod recovery;
pub mod scaling;
pub mod sites;
pub mod sweep;
pub mod warmup;
pub mod window;
pub mod wrapped;

use crate::engine::{ComposeCli, Engine};
use crate::events::Events;
use crate::probe::SamplerMode;
use crate::profile::Profile;
use crate::rundir::RunDir;
use std::time::Duration;

/// How a cell is measured; lanes fill it from their typed options.
#[derive(Clone, Debug)]
pub struct MeasureOpts {
    pub rate_hz: f64,
    pub sampler: SamplerMode,
    /// Minimum measurement window after warm-up.
    pub window: Duration,
    /// The window grows until the USS mean's CI half-width is within
    /// `ci_target` of the mean, or it reaches this length.
    pub max_window: Duration,
    pub ci_target: f64,
    /// Grace between SIGTERM and SIGKILL at teardown.
    pub stop_grace: Duration,
}

/// Everything a lane needs, built once by the command.
pub struct LaneCtx<'a> {
    pub engine: &'a Engine,
    pub compose: &'a ComposeCli,
    pub profile: &'a Profile,
    pub run: &'a RunDir,
    pub opts: MeasureOpts,
    pub events: &'a dyn Events,
    /// The metrics the lane's verdict rests on: a probe that cannot read
    /// one refuses the lane (exit 2) instead of judging nothing.
    pub judged: Vec<crate::results::MetricKind>,
    /// Set by the first cell whose probe refused; later cells do not start.
    pub refusal: std::sync::OnceLock<String>,
}
