//! Held connections in a cell: opened once the target is ready (before
//! warm-up, so the target settles with them open), kept through the
//! window, counted at its start and end, closed at teardown (the holder's
//! drop). Two sources: `load.hold` in the load lane, and `entities.hold`,
//! where the count is the entity count (scaling, or `entities.default`).

use anyhow::{Context, Result};
use runcost_loadgen::{HoldConfig, HoldCounts, HoldRecord, HoldRequest, Holder};
use std::time::Duration;

/// Connections to hold in a cell, on a container port.
#[derive(Clone, Debug)]
pub struct HoldPlan {
    pub port: u16,
    pub request: HoldRequest,
    pub connections: usize,
    pub timeout: Duration,
    /// The held count is the cell's entity count: losing one fails the cell.
    pub entity: bool,
}

/// Connections held open in a ready cell.
pub struct Held {
    holder: Holder,
    plan: HoldPlan,
    open_after_s: f64,
    at_start: Option<HoldCounts>,
}

impl Held {
    /// Opens every connection on the published port, or fails with how
    /// many were held and why the rest were not (closing those that were).
    pub async fn open(plan: &HoldPlan, published: u16, pin_cpu: Option<usize>) -> Result<Held> {
        crate::profile::hold::check_count(plan.connections as u64)
            .map_err(crate::error::BadInput)?;
        crate::profile::hold::raise_nofile();
        let holder = Holder::start(HoldConfig {
            host: crate::engine::endpoint::target_ip(),
            port: published,
            connections: plan.connections,
            request: plan.request.clone(),
            connect_timeout: Duration::from_secs(5),
            pin_cpu,
        })?;
        let open_after_s = holder.wait_all_open(plan.timeout).await.with_context(|| {
            format!(
                "hold {} connections on port {}",
                plan.connections, plan.port
            )
        })?;
        Ok(Held {
            holder,
            plan: plan.clone(),
            open_after_s,
            at_start: None,
        })
    }

    /// The window starts: counts now.
    pub fn window_starts(&mut self) {
        self.at_start = Some(self.holder.counts());
    }

    /// The window ended: its record; an entity hold that lost connections
    /// fails the cell (its entity count was not what it claims).
    pub fn window_ends(&self) -> Result<HoldRecord> {
        let at_start = self.at_start.unwrap_or_else(|| self.holder.counts());
        let r = self.holder.record(self.open_after_s, at_start);
        if self.plan.entity && (r.at_start.open < r.requested || r.at_end.open < r.requested) {
            anyhow::bail!(
                "held connections are this cell's entities, but not all stayed open: {}; last error: {}",
                r.summary(),
                r.last_error.as_deref().unwrap_or("none")
            );
        }
        Ok(r)
    }
}
