//! Measurements of runcost itself, printed as ratios from one run.
//! The selfchecks that need a running target measure it in one cell of
//! the usual frames (run scope, cell frame): the same guard, teardown and
//! signal handling as every lane.

pub mod load;
pub mod quota;
pub mod sampling;
pub mod scaling;

use crate::engine::{ComposeCli, Engine};
use crate::error::Interrupted;
use crate::events::Events;
use crate::frame::{Scope, Uses};
use crate::lanes::cell::{self, Body, CellPlan};
use crate::lanes::{LaneCtx, MeasureOpts};
use crate::probe::SamplerMode;
use crate::rundir::RunDir;
use crate::runner::Common;
use anyhow::{anyhow, Result};
use std::collections::BTreeMap;
use std::time::Duration;

/// Runs `body` in one cell of the profile's target (its own environment;
/// `cpuset` for the target if given); the run directory and what the body
/// returned.
pub async fn in_one_cell<B: Body>(
    common: &Common,
    id: &str,
    cpuset: Option<String>,
    body: &mut B,
    events: &dyn Events,
) -> Result<(RunDir, B::Output)> {
    let profile = common.profile()?;
    let engine = Engine::connect().await?;
    let compose = ComposeCli::detect()?;
    let scope = Scope::open(&common.results, &common.repo_root, Uses::Engine, events)?;
    let ctx = LaneCtx {
        engine: &engine,
        compose: &compose,
        profile: &profile,
        run: &scope.run,
        opts: MeasureOpts {
            rate_hz: 10.0,
            sampler: SamplerMode::Host,
            window: Duration::from_secs(1),
            max_window: Duration::from_secs(1),
            ci_target: 0.0,
            stop_grace: Duration::from_secs(5),
        },
        events: &scope.events,
        judged: Vec::new(),
        refusal: Default::default(),
    };
    let plan = CellPlan {
        id: id.into(),
        repeat: 0,
        params: BTreeMap::new(),
        env: profile.spec.env.clone(),
        verify: vec![],
        load: None,
        cpuset,
        populate: None,
    };
    let result = scope.race(cell::run(&ctx, &plan, body, 1, 1)).await;
    let run = scope.close();
    let cell = result.map_err(Interrupted)?;
    match cell.output {
        Some(o) => Ok((run, o)),
        None => Err(anyhow!(
            "{}",
            cell.measured
                .record
                .error
                .unwrap_or_else(|| "the selfcheck cell failed".into())
        )),
    }
}
