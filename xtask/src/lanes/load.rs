//! Load: latency and throughput under HTTP or TCP request/response load
//! (the profile's `load.protocol`), and what the load costs the target.
//!
//! Setup: one fresh target per (rate, repeat), in seeded random order within
//! each repeat; where there are two or more cores the target is confined to
//! the last CPU (compose `cpuset`) and the generator pinned to CPU 0, so the
//! two do not share a core. Warm-up: the target settles idle as in
//! footprint, then the generator's own warm-up traffic is sent and not
//! recorded. Measurement: open loop sends at the intended rate and times
//! each request from its intended start (no coordinated omission); closed
//! loop sends as answers come, for maximum throughput. The target is sampled
//! throughout. Analysis: per rate, latency percentiles quoted only where the
//! sample count allows, error counts by kind, achieved vs intended rate,
//! and the target's memory/CPU over the window. Verdict: a rate whose
//! generator fell behind is flagged; a rate with no successful response has
//! no latency at all.

use super::cell::{self, CellPlan, LoadPlan};
use super::{analysis, order, window, LaneCtx};
use crate::events::Event;
use crate::results::{CellMetric, CellRecord, CellStatus, LaneKind, LaneRecord, MetricKind};
use runcost_loadgen::{Config, Mode, RequestSpec};
use runcost_stats::percentile::Tier;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum LoadMode {
    /// Constant intended rate; latency from each request's intended start.
    Open,
    /// Each connection sends when the previous answer arrived.
    Closed,
    /// The profile's `load.tool` (the service's own load tool) runs while
    /// runcost samples the target; its figures are the tool's (closed loop).
    Tool,
}

pub struct LoadOpts {
    pub mode: LoadMode,
    /// Intended rates (open loop); ignored (empty) in closed loop.
    pub rates: Vec<f64>,
    /// Generator run per cell, warm-up included.
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: Option<usize>,
    pub repeats: u32,
    pub env: BTreeMap<String, String>,
    pub seed: u64,
}

pub async fn run(ctx: &LaneCtx<'_>, opts: &LoadOpts) -> LaneRecord {
    let Some(spec) = ctx.profile.spec.load.clone() else {
        let mut lane = LaneRecord::new(LaneKind::Load);
        lane.skipped
            .push("the profile has no `load:` section".into());
        return lane;
    };
    let refuse = |why: &str| {
        let mut lane = LaneRecord::new(LaneKind::Load);
        lane.skipped.push(why.into());
        lane
    };
    match opts.mode {
        LoadMode::Tool if spec.tool.is_none() => {
            return refuse(
                "the profile's `load:` has no `tool:`; give one or use --mode open/closed",
            )
        }
        LoadMode::Open | LoadMode::Closed if spec.requests.is_empty() => {
            return refuse("the profile's `load:` has only a `tool:`; run it with --mode tool")
        }
        _ => {}
    }
    // Setup: levels, pinning, plans.
    let levels: Vec<(String, Mode)> = match opts.mode {
        LoadMode::Open => opts
            .rates
            .iter()
            .map(|&r| (fmt_rate(r), Mode::Open { rate_per_s: r }))
            .collect(),
        LoadMode::Closed => vec![("closed".to_string(), Mode::Closed)],
        LoadMode::Tool => vec![("tool".to_string(), Mode::Closed)],
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (cpuset, pin) = if cores >= 2 {
        (Some((cores - 1).to_string()), Some(0))
    } else {
        (None, None)
    };
    let mut skipped = Vec::new();
    if pin.is_none() {
        skipped.push("one CPU only: the generator and the target share it".into());
    }
    let mix: Vec<RequestSpec> = spec.http_mix();
    // Held connections open before the window and stay through it.
    let hold = spec.hold.as_ref().map(|h| super::hold::HoldPlan {
        port: spec.port,
        request: crate::profile::hold::request_of(&h.request),
        connections: h.connections,
        timeout: h.timeout.0,
        entity: false,
    });
    let tcp = spec.tcp();
    // Tool mode: the tool's argv with its placeholders filled in, in its
    // own container on the generator's CPU.
    let tool = (opts.mode == LoadMode::Tool)
        .then_some(spec.tool.as_ref())
        .flatten()
        .map(|t| {
            let fill = crate::profile::tool::Fill {
                port: spec.port,
                connections: opts.connections.unwrap_or(spec.connections),
                seconds: opts.duration.saturating_sub(opts.warmup).as_secs().max(1),
            };
            super::loadtool::ToolPlan {
                argv: crate::profile::tool::fill(&t.argv, fill),
                setup: t
                    .setup
                    .as_ref()
                    .map(|a| crate::profile::tool::fill(a, fill)),
                image: t.image.clone(),
                kind: t.kind(),
                cpuset: pin.map(|c| c.to_string()),
                timeout: t.timeout.0,
            }
        });
    let plans: Vec<CellPlan> = order::blocked(levels.len(), opts.repeats, opts.seed)
        .into_iter()
        .map(|(repeat, i)| {
            let (label, mode) = &levels[i];
            let mut env = ctx.profile.spec.env.clone();
            env.extend(opts.env.clone());
            let mut config = Config::new(spec.port, mode.clone());
            config.host = crate::engine::endpoint::target_ip();
            config.connections = opts.connections.unwrap_or(spec.connections);
            config.duration = opts.duration;
            config.warmup = opts.warmup;
            config.timeout = spec.timeout.0;
            if let Some(t) = &tcp {
                config.tcp = Some(t.clone());
                if opts.mode == LoadMode::Closed {
                    config.pipeline = spec.pipeline;
                }
            } else {
                config.mix = mix.clone();
            }
            config.rand_max = spec.rand_max;
            config.seed = opts.seed.wrapping_add(u64::from(repeat) * 1000 + i as u64);
            let param = match opts.mode {
                LoadMode::Open => ("rate".to_string(), label.clone()),
                LoadMode::Closed | LoadMode::Tool => ("mode".to_string(), label.clone()),
            };
            CellPlan {
                id: format!("load-{}-r{repeat}", label.replace('.', "p")),
                repeat,
                params: BTreeMap::from([param]),
                env,
                verify: Vec::new(),
                load: Some(LoadPlan {
                    config,
                    pin_cpu: pin,
                    hold: hold.clone(),
                    tool: tool.clone(),
                }),
                cpuset: cpuset.clone(),
                populate: cell::default_populate(ctx.profile),
            }
        })
        .collect();
    ctx.events.emit(Event::LaneStarted {
        lane: LaneKind::Load.to_string(),
        cells: plans.len(),
    });

    // Warm-up and measurement.
    let mut cells = window::measure_all(ctx, &plans).await;
    for c in &mut cells {
        // No successful answer: there is no latency to report, only errors.
        if let Some(r) = c.load.as_ref().filter(|r| !r.latency_valid()) {
            let codes: Vec<String> = r
                .status_counts
                .iter()
                .map(|(c, n)| format!("{n}× HTTP {c}"))
                .collect();
            let tcp = if r.protocol == "tcp" {
                format!(
                    ", {} unexpected replies, {} protocol errors",
                    r.mismatches, r.protocol_errors
                )
            } else {
                String::new()
            };
            c.status = CellStatus::Failed;
            c.error = Some(format!(
                "no successful response: {} sent, {} timeouts, {} connect errors, {} I/O errors{tcp}{}{}",
                r.requests_sent,
                r.timeouts,
                r.connect_errors,
                r.io_errors,
                if codes.is_empty() { "" } else { ", " },
                codes.join(", ")
            ));
        }
        if let Some(r) = c.load.as_ref().filter(|r| r.latency_valid()) {
            c.metrics.extend(load_metrics(r));
        }
    }
    let position = |c: &CellRecord| {
        levels
            .iter()
            .position(|(l, _)| c.params.values().any(|v| v == l))
    };
    cells.sort_by_key(|c| (position(c), c.repeat));
    let mut aggregates = Vec::new();
    for (label, _) in &levels {
        let key = if opts.mode == LoadMode::Open {
            "rate"
        } else {
            "mode"
        };
        let params = BTreeMap::from([(key.to_string(), label.clone())]);
        aggregates.extend(analysis::aggregate(&cells, &MetricKind::FOOTPRINT, &params));
        aggregates.extend(analysis::aggregate(&cells, &MetricKind::LOAD, &params));
    }
    for c in &cells {
        if let Some(r) = &c.load {
            if r.intended_rate_per_s.is_some() && !r.kept_up {
                let lag = r
                    .schedule
                    .as_ref()
                    .map(|s| s.timer_lag.p99_us as f64 / 1000.0)
                    .unwrap_or(f64::NAN);
                skipped.push(format!(
                    "{}: the generator did not keep its schedule ({:.0}/s sent of {:.0}/s intended, its own timer lag p99 {lag:.2} ms): treat these latencies as an upper bound",
                    c.id,
                    r.achieved_rate_per_s,
                    r.intended_rate_per_s.unwrap_or(0.0)
                ));
            }
        }
    }
    for c in &cells {
        if let Some(t) = &c.tool {
            skipped.push(format!(
                "{}: throughput and latency are {}'s: {}",
                c.id,
                t.argv[0],
                crate::results::tool::TOOL_LABEL
            ));
        }
        for h in &c.hold {
            let errors = h.errors_in_window();
            if errors > 0 || h.at_end.open < h.requested {
                skipped.push(format!("{}: {}", c.id, h.summary()));
            }
        }
    }
    // Where the cost goes, across the cells.
    let findings = super::attrib::lane_finding(&cells, None)
        .into_iter()
        .collect();
    LaneRecord {
        lane: LaneKind::Load,
        cells,
        aggregates,
        skipped,
        findings,
    }
}

/// The generator's view of a cell as per-cell metrics, so that repeats
/// aggregate and compare like any other metric. p99 only where at least
/// 500 requests were recorded (below that it is a gate on the maximum).
fn load_metrics(r: &runcost_loadgen::LoadResult) -> Vec<CellMetric> {
    let n = r.latency.count as usize;
    let one = |metric, value: f64| CellMetric {
        metric,
        value,
        ci: None,
        n,
        n_eff: n as f64,
        lag1: None,
    };
    let mut out = vec![
        one(MetricKind::LatencyP50, r.latency.p50_us as f64 * 1e-6),
        one(MetricKind::Throughput, r.throughput_ok_per_s),
        one(MetricKind::ErrorRate, r.error_rate()),
    ];
    if Tier::from_n(n).may_quote(0.99) {
        out.push(one(MetricKind::LatencyP99, r.latency.p99_us as f64 * 1e-6));
    }
    out
}

/// `1000` for whole rates, `0.5` otherwise.
fn fmt_rate(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r}")
    }
}
