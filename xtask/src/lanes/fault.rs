//! Fault: what a burst of faults costs and how the target recovers.
//!
//! Setup: a fresh target per repeat. Warm-up: the target's ready endpoint
//! answers. Measurement: the sampler runs at ≥ 20 Hz on its own thread and a
//! client probes the ready endpoint at a fixed rate from its own task
//! throughout a baseline window, the burst (injected from this task, which
//! never blocks either) and an observation window. Analysis: per repeat,
//! the baseline, peak Δ, the time after the burst until USS, RSS and CPU
//! re-enter and stay within ±5 % of their baseline (or `not recovered`),
//! memory retained at the window's end, the same for the container cgroup's
//! memory and CPU (forked processes included), the process count, and what
//! the client saw: the longest gap between successful answers, errors,
//! latency before, during and after. Verdict: from each judged metric's
//! [`Recovery::outcome`], the one the table shows.

use super::cell::{self, Body, Cell, CellPlan};
use super::recovery::{longest_gap, recovery, Recovery};
use super::LaneCtx;
use crate::events::Event;
use crate::fs::write_atomic;
use crate::httpc;
use crate::probe::sampler::{spawn_probe_tolerant, Sample, Ticker};
use crate::probe::Reading;
use crate::probe::Target;
use crate::profile::{EngineOp, FaultAction, FaultSpec};
use crate::results::fault::{FaultFinding, FaultRepeat, ProbeStats, ProcessRecovery};
use crate::results::{CellStatus, Finding, LaneKind, LaneRecord};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct FaultOpts {
    pub burst: u32,
    pub repeats: u32,
    pub before: Duration,
    pub after: Duration,
    pub probe_rate: f64,
    pub band_frac: f64,
    pub env: BTreeMap<String, String>,
}

pub async fn run(ctx: &LaneCtx<'_>, opts: &FaultOpts) -> LaneRecord {
    let Some(spec) = ctx.profile.spec.fault.clone() else {
        let mut lane = LaneRecord::new(LaneKind::Fault);
        lane.skipped
            .push("the profile has no `fault:` section".into());
        return lane;
    };

    // Setup, then each repeat: baseline, burst, observation.
    ctx.events.emit(Event::LaneStarted {
        lane: LaneKind::Fault.to_string(),
        cells: opts.repeats as usize,
    });
    let mut cells = Vec::new();
    let mut repeats = Vec::new();
    for r in 0..opts.repeats {
        let mut env = ctx.profile.spec.env.clone();
        env.extend(opts.env.clone());
        let plan = CellPlan {
            id: format!("fault-r{r}"),
            repeat: r,
            params: BTreeMap::from([("burst".to_string(), opts.burst.to_string())]),
            env,
            verify: vec![],
            load: None,
            cpuset: None,
            populate: cell::default_populate(ctx.profile),
        };
        let mut body = Burst { spec: &spec, opts };
        let run = cell::run(ctx, &plan, &mut body, r as usize + 1, opts.repeats as usize).await;
        let (record, repeat) = (run.measured.record, run.output);
        cells.push(record);
        repeats.extend(repeat);
    }

    // Verdict: from the same per-metric outcomes the table shows.
    let verdict = crate::results::fault::verdict(&repeats);
    let finding = FaultFinding {
        action: describe(&spec.action),
        burst: opts.burst,
        band_frac: opts.band_frac,
        repeats,
        verdict,
    };
    // Where the memory and CPU went over the repeats' windows.
    let attribution = super::attrib::lane_finding(&cells, None);
    LaneRecord {
        lane: LaneKind::Fault,
        cells,
        aggregates: vec![],
        skipped: vec![],
        findings: std::iter::once(Finding::Fault(Box::new(finding)))
            .chain(attribution)
            .collect(),
    }
}

fn describe(a: &FaultAction) -> String {
    match a {
        FaultAction::Http(h) => format!("{} :{}{}", h.method, h.port, h.path),
        FaultAction::Exec(argv) => format!("exec {}", argv.join(" ")),
        FaultAction::Engine(e) => format!(
            "engine {:?}{}",
            e.op,
            e.duration.map(|d| format!(" for {d}")).unwrap_or_default()
        )
        .to_lowercase(),
    }
}

/// One repeat: baseline window, burst, observation window.
struct Burst<'a> {
    spec: &'a FaultSpec,
    opts: &'a FaultOpts,
}

impl Body for Burst<'_> {
    type Output = FaultRepeat;

    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<FaultRepeat> {
        let repeat = measure(cell, self.spec, self.opts).await?;
        cell.record.status = match repeat.died_at {
            Some(t) => {
                cell.record.error =
                    Some(format!("target died at t={t:.2} s and did not come back"));
                CellStatus::Failed
            }
            None => CellStatus::Ok,
        };
        Ok(repeat)
    }
}

type Answers = Arc<Mutex<Vec<(f64, bool, f64)>>>;

async fn measure(
    cell: &mut Cell<'_, '_>,
    spec: &FaultSpec,
    opts: &FaultOpts,
) -> Result<FaultRepeat> {
    let (ctx, plan, origin) = (cell.ctx, cell.plan, cell.origin);
    let id = cell.container.clone();
    let names = ctx.profile.process_names();
    let target = cell.target(names.clone())?;
    // The samplers ride out the whole observation window of unreadable
    // target (an engine restart replaces its processes; the probes find the
    // new ones); whether it died is the engine's answer, not theirs.
    let tolerate = opts.after + Duration::from_secs(5);
    let mut probe = cell::open_probe(ctx, &target).await?;
    // Attribution beside it, as in the other lanes: its ticker tolerates
    // any number of failed reads, so it rides out the restart too, and
    // reads the new processes once the main probe has found them.
    let attrib = probe
        .attrib_reader(origin)
        .map(|r| crate::probe::attrib::AttribSampler::spawn(r, origin));
    let sampler = spawn_probe_tolerant(probe, ctx.opts.rate_hz, origin, tolerate);
    // With several named processes, each is also sampled on its own.
    let mut each: Vec<(String, Ticker<Reading>)> = Vec::new();
    if names.len() > 1 {
        for name in &names {
            let one = Target {
                processes: vec![name.clone()],
                ..target.clone()
            };
            let probe = cell::open_probe(ctx, &one).await?;
            each.push((
                name.clone(),
                spawn_probe_tolerant(probe, ctx.opts.rate_hz, origin, tolerate),
            ));
        }
    }

    // The client's view: one request per tick, each in its own task so a
    // stalled answer never delays the next request.
    // It asks `fault.client`, else what readiness asks: an HTTP GET
    // answering 200, or a TCP connection accepted.
    let (inner_port, path) = spec.client_probe(&ctx.profile.spec.ready).context(
        "the fault lane needs a network probe: `fault.client` or `ready.http`/`ready.tcp`",
    )?;
    let probe_port = cell.published(inner_port)?;
    let answers: Answers = Arc::new(Mutex::new(Vec::new()));
    let total = opts.before + opts.after + Duration::from_secs(30);
    let max_answers = (opts.probe_rate * total.as_secs_f64()).ceil() as usize;
    let client = {
        let answers = answers.clone();
        let period = Duration::from_secs_f64(1.0 / opts.probe_rate);
        // An engine restart publishes the port anew (another host port):
        // after a failure the client asks the engine again, as a real
        // client's service discovery would.
        let port = Arc::new(std::sync::atomic::AtomicU16::new(probe_port));
        let (engine, cid) = (ctx.engine.clone(), id.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut last_lookup = Instant::now();
            for _ in 0..max_answers {
                tick.tick().await;
                let failing = answers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .last()
                    .is_some_and(|a| !a.1);
                if failing && last_lookup.elapsed() > Duration::from_millis(250) {
                    last_lookup = Instant::now();
                    if let Ok(f) = engine.inspect(&cid).await {
                        if let Some(p) = f.published.get(&inner_port) {
                            port.store(*p, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                let (answers, path) = (answers.clone(), path.clone());
                let probe_port = port.load(std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(async move {
                    let sent = origin.elapsed().as_secs_f64();
                    let t0 = Instant::now();
                    let ok = match &path {
                        Some(path) => {
                            matches!(httpc::get(probe_port, path, Duration::from_secs(1)).await, Ok(r) if r.status == 200)
                        }
                        None => matches!(
                            tokio::time::timeout(
                                Duration::from_secs(1),
                                tokio::net::TcpStream::connect((
                                    crate::engine::endpoint::target_ip(),
                                    probe_port
                                ))
                            )
                            .await,
                            Ok(Ok(_))
                        ),
                    };
                    let ms = t0.elapsed().as_secs_f64() * 1e3;
                    answers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((sent, ok, ms));
                });
            }
        })
    };
    ctx.events.emit(Event::Measuring {
        cell: plan.id.clone(),
        window_s: (opts.before + opts.after).as_secs_f64(),
    });

    // Baseline window, burst, observation window.
    tokio::time::sleep(opts.before).await;
    let burst_start = origin.elapsed().as_secs_f64();
    inject(ctx, &id, spec, opts.burst)
        .await
        .context("inject the fault burst")?;
    let burst_end = origin.elapsed().as_secs_f64();
    // Observation: when the samples stop coming, ask the engine whether the
    // target is down; it has died if it is still down at the window's end.
    let deadline = Instant::now() + opts.after;
    let mut down_since: Option<f64> = None;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let last = sampler
            .snapshot()
            .last()
            .map(|s| s.t)
            .unwrap_or(burst_start);
        if origin.elapsed().as_secs_f64() - last > 1.0 || sampler.is_finished() {
            let running = ctx
                .engine
                .inspect(&id)
                .await
                .map(|f| f.running)
                .unwrap_or(false);
            if running {
                down_since = None;
            } else if down_since.is_none() {
                down_since = Some(last);
            }
        } else {
            down_since = None;
        }
    }
    let died_at = down_since;
    client.abort();
    let (samples, stats) = sampler.stop();
    let mut processes = Vec::new();
    for (name, ticker) in each {
        let (own, _) = ticker.stop();
        let rel = format!("samples/{}-{name}.csv", plan.id);
        let csv = (!own.is_empty())
            .then(|| write_atomic(&ctx.run.path(&rel), cell::samples_csv(&own).as_bytes()))
            .transpose()?
            .map(|()| rel);
        let r = recoveries(&own, burst_start, burst_end, opts);
        processes.push(ProcessRecovery {
            name,
            uss: r.uss,
            cpu: r.cpu,
            samples_csv: csv,
        });
    }
    cell.record.sampler = Some(stats);
    cell.record.window = Some((0.0, origin.elapsed().as_secs_f64()));
    if let Some(a) = attrib {
        cell.conclude_attribution(a);
    }
    // The frame writes the cell's CSV from these.
    *cell.samples = samples;
    let samples = &*cell.samples;
    let mut answers = answers.lock().unwrap_or_else(|p| p.into_inner()).clone();
    answers.sort_by(|a, b| a.0.total_cmp(&b.0));
    let answers_csv = format!("samples/{}-probe.csv", plan.id);
    let csv: String = std::iter::once("sent_s,ok,latency_ms\n".to_string())
        .chain(
            answers
                .iter()
                .map(|(t, ok, ms)| format!("{t:.4},{},{ms:.3}\n", u8::from(*ok))),
        )
        .collect();
    write_atomic(&ctx.run.path(&answers_csv), csv.as_bytes())?;
    if samples.len() < 10 {
        bail!(
            "only {} samples: the sampler could not follow the target",
            samples.len()
        );
    }
    let mut repeat = analyse(
        samples,
        &answers,
        burst_start,
        burst_end,
        opts,
        died_at,
        plan,
        answers_csv,
    );
    repeat.processes = processes;
    Ok(repeat)
}

struct Recoveries {
    uss: Option<Recovery>,
    rss: Option<Recovery>,
    cpu: Option<Recovery>,
    cgroup_mem: Option<Recovery>,
    cgroup_cpu: Option<Recovery>,
}

/// USS, RSS and CPU (as ~1 s rates: tick counters are 10 ms coarse) of the
/// sampled processes, and the cgroup's memory and CPU, around the burst.
fn recoveries(
    samples: &[Sample],
    burst_start: f64,
    burst_end: f64,
    opts: &FaultOpts,
) -> Recoveries {
    let tail_s = (opts.after.as_secs_f64() / 4.0).max(1.0);
    let mib = 1048576.0;
    let band = opts.band_frac;
    let level = |get: &dyn Fn(&Reading) -> Option<f64>| {
        let (t, y): (Vec<f64>, Vec<f64>) = samples
            .iter()
            .filter_map(|s| get(&s.value).map(|v| (s.t, v)))
            .unzip();
        recovery(&t, &y, burst_start, burst_end, band, mib, tail_s)
    };
    let rate = |get: &dyn Fn(&Reading) -> Option<f64>| {
        let (t, y) = rates(samples, get);
        recovery(&t, &y, burst_start, burst_end, band, 0.02, tail_s)
    };
    Recoveries {
        uss: level(&|r| Some(r.uss as f64)),
        rss: level(&|r| Some(r.rss as f64)),
        cpu: rate(&|r| Some(r.cpu_s)),
        cgroup_mem: level(&|r| r.cgroup_mem.map(|v| v as f64)),
        cgroup_cpu: rate(&|r| r.cgroup_cpu_s),
    }
}

/// ~1 s rates of a cumulative counter, at the end of each step; samples
/// without the counter are left out.
fn rates(samples: &[Sample], get: &dyn Fn(&Reading) -> Option<f64>) -> (Vec<f64>, Vec<f64>) {
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| get(&s.value).map(|v| (s.t, v)))
        .collect();
    let step = points.len().clamp(1, 20);
    points
        .windows(step + 1)
        .step_by(step)
        .filter_map(|w| {
            let (a, b) = (w.first()?, w.last()?);
            // A restart resets the counters: no rate across it.
            (b.0 > a.0 && b.1 >= a.1).then(|| (b.0, (b.1 - a.1) / (b.0 - a.0)))
        })
        .unzip()
}

/// Sends the burst. HTTP paths containing `{burst}` get the count in one
/// request; otherwise the action repeats `burst` times, `interval` apart.
async fn inject(ctx: &LaneCtx<'_>, id: &str, spec: &FaultSpec, burst: u32) -> Result<()> {
    let once = spec.action.takes_count();
    let times = if once { 1 } else { burst };
    for i in 0..times {
        if i > 0 && !spec.interval.0.is_zero() {
            tokio::time::sleep(spec.interval.0).await;
        }
        match &spec.action {
            FaultAction::Http(h) => {
                let facts = ctx.engine.inspect(id).await?;
                let port = *facts
                    .published
                    .get(&h.port)
                    .with_context(|| format!("fault port {} is not published", h.port))?;
                let path = h.path.replace("{burst}", &burst.to_string());
                let r = httpc::request(&h.method, port, &path, Duration::from_secs(60)).await?;
                if !(200..300).contains(&r.status) {
                    bail!(
                        "{} {path} answered HTTP {}: {}",
                        h.method,
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    );
                }
            }
            FaultAction::Exec(argv) => {
                let argv: Vec<String> = argv
                    .iter()
                    .map(|a| a.replace("{burst}", &burst.to_string()))
                    .collect();
                ctx.engine.exec_ok(id, "fault exec", &argv).await?;
            }
            FaultAction::Engine(e) => {
                let hold = e.duration.map(|d| d.0).unwrap_or(Duration::from_secs(1));
                match e.op {
                    EngineOp::Pause => {
                        ctx.engine.pause(id).await?;
                        tokio::time::sleep(hold).await;
                        ctx.engine.unpause(id).await?;
                    }
                    EngineOp::Restart => ctx.engine.restart(id, 10).await?,
                    EngineOp::Kill => ctx.engine.kill(id, "SIGKILL").await?,
                    EngineOp::Disconnect => {
                        let nets = ctx.engine.networks_of(id).await?;
                        for n in &nets {
                            ctx.engine.disconnect(id, n).await?;
                        }
                        tokio::time::sleep(hold).await;
                        for n in &nets {
                            ctx.engine.reconnect(id, n).await?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn analyse(
    samples: &[Sample],
    answers: &[(f64, bool, f64)],
    burst_start: f64,
    burst_end: f64,
    opts: &FaultOpts,
    died_at: Option<f64>,
    plan: &CellPlan,
    answers_csv: String,
) -> FaultRepeat {
    let r = recoveries(samples, burst_start, burst_end, opts);
    let sample_gap_s = samples
        .windows(2)
        .filter(|w| w[1].t >= burst_start)
        .map(|w| w[1].t - w[0].t)
        .max_by(f64::total_cmp);
    let p50 = |lo: f64, hi: f64| {
        let mut v: Vec<f64> = answers
            .iter()
            .filter(|a| a.1 && a.0 >= lo && a.0 < hi)
            .map(|a| a.2)
            .collect();
        v.sort_by(f64::total_cmp);
        runcost_stats::percentile::percentile_nearest_rank(&v, 0.5).ok()
    };
    let gap = longest_gap(
        &answers
            .iter()
            .map(|a| (a.0 + a.2 / 1e3, a.1))
            .collect::<Vec<_>>(),
    );
    FaultRepeat {
        cell: plan.id.clone(),
        burst: (burst_start, burst_end),
        uss: r.uss,
        rss: r.rss,
        cpu: r.cpu,
        cgroup_mem: r.cgroup_mem,
        cgroup_cpu: r.cgroup_cpu,
        procs_min: samples.iter().map(|s| s.value.procs).min(),
        procs_max: samples.iter().map(|s| s.value.procs).max(),
        probe: ProbeStats {
            rate_per_s: opts.probe_rate,
            sent: answers.len(),
            ok: answers.iter().filter(|a| a.1).count(),
            errors: answers.iter().filter(|a| !a.1).count(),
            longest_gap_s: gap.map(|g| g.0),
            gap_started_at: gap.map(|g| g.1),
            p50_before_ms: p50(f64::MIN, burst_start),
            p50_during_ms: p50(burst_start, burst_end.max(burst_start + 1.0)),
            p50_after_ms: p50(burst_end.max(burst_start + 1.0), f64::MAX),
            answers_csv: Some(answers_csv),
        },
        died_at,
        sample_gap_s,
        processes: vec![],
    }
}
