//! One cell: a fresh compose project of the target with the cell's
//! settings, readiness, settings verified, warm-up until steady, a
//! measurement window, teardown. Failures become a `Failed` cell record
//! with the cause; teardown happens on every path (the project's drop
//! guard covers cancellation by a signal).

use super::analysis;
use super::LaneCtx;
use crate::engine::cleanup::Project;
use crate::engine::{labels, CellOverride, ContainerFacts};
use crate::events::Event;
use crate::httpc;
use crate::probe::sampler::{spawn_probe, Sample, Ticker};
use crate::probe::{exec::ExecProbe, host::HostProbe, Probe, Reading, SamplerMode, Target};
use crate::profile::{CheckKind, CheckSpec, EntitySetter, ReadyProbe};
use crate::results::rundir::write_atomic;
use crate::results::{CellRecord, CellStatus};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What a lane asks of one cell.
#[derive(Clone, Debug)]
pub struct CellPlan {
    pub id: String,
    pub repeat: u32,
    pub params: BTreeMap<String, String>,
    /// Environment for the service under test (profile env + lane settings).
    pub env: BTreeMap<String, String>,
    /// Settings to read back from the target before measuring.
    pub verify: Vec<Verify>,
    /// Traffic to send during the window (load lane); the window is then
    /// the generator's measured span instead of an adaptive one.
    pub load: Option<LoadPlan>,
    /// CPUs the target may use (compose `cpuset`), e.g. "1".
    pub cpuset: Option<String>,
    /// Entities to create once the target is ready, through the profile's
    /// `entities.exec` or `entities.memcached` (an `env` count is in `env`).
    pub populate: Option<u64>,
}

/// The entity count a lane other than scaling creates: the profile's
/// `entities.default`, for setters that act after readiness.
pub fn default_populate(profile: &crate::profile::Profile) -> Option<u64> {
    let e = profile.spec.entities.as_ref()?;
    match e.setter() {
        EntitySetter::Env(_) => None,
        _ => e.default,
    }
}

/// Load for a cell: the generator's configuration (its port is the
/// container port; the cell maps it to the published one) and the CPU the
/// generator is pinned to, away from the target's.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub config: runcost_loadgen::Config,
    pub pin_cpu: Option<usize>,
}

/// A setting the target must report back, proving it was applied.
#[derive(Clone, Debug)]
pub struct Verify {
    pub what: String,
    pub check: CheckSpec,
    pub expected: String,
}

/// A measured cell: its record and the raw samples.
pub struct Measured {
    pub record: CellRecord,
    pub samples: Vec<Sample>,
}

/// A probe of the target's processes in the lane's sampler mode.
pub async fn open_probe(ctx: &LaneCtx<'_>, target: &Target) -> Result<Box<dyn Probe>> {
    Ok(match ctx.opts.sampler {
        SamplerMode::Host => Box::new(HostProbe::new(target.clone())?),
        SamplerMode::Exec => Box::new(ExecProbe::start(ctx.engine, target).await?),
    })
}

/// A cell's record before anything happened: failed until it is not.
pub fn empty_record(ctx: &LaneCtx<'_>, plan: &CellPlan) -> CellRecord {
    CellRecord {
        id: plan.id.clone(),
        repeat: plan.repeat,
        params: plan.params.clone(),
        status: CellStatus::Failed,
        error: None,
        container: None,
        image: None,
        ready_s: None,
        steady_after_s: None,
        window: None,
        sampler_mode: ctx.opts.sampler,
        sampler: None,
        samples_csv: None,
        metrics: Vec::new(),
        load: None,
    }
}

pub async fn measure(ctx: &LaneCtx<'_>, plan: &CellPlan, index: usize, of: usize) -> Measured {
    ctx.events.emit(Event::CellStarted {
        cell: plan.id.clone(),
        index,
        of,
    });
    let mut record = empty_record(ctx, plan);
    let origin = Instant::now();
    let mut samples = Vec::new();
    let outcome = match setup(ctx, plan) {
        Ok(project) => {
            let r = run(ctx, plan, &project, origin, &mut record, &mut samples).await;
            let down = project.down().await;
            match (r, down) {
                (Ok(()), Ok(())) => Ok(()),
                (Err(e), _) => Err(e),
                (Ok(()), Err(e)) => Err(e.context("tear down the cell")),
            }
        }
        Err(e) => Err(e),
    };
    if !samples.is_empty() {
        let rel = format!("samples/{}.csv", plan.id);
        match write_atomic(&ctx.run.path(&rel), samples_csv(&samples).as_bytes()) {
            Ok(()) => record.samples_csv = Some(rel),
            Err(e) => tracing::warn!("write samples of {}: {e:#}", plan.id),
        }
    }
    match outcome {
        Ok(()) => {
            let detail = record
                .metrics
                .iter()
                .find(|m| m.metric == crate::results::MetricKind::Uss)
                .map(|m| format!("USS {:.2} MiB", m.value / 1048576.0))
                .unwrap_or_default();
            ctx.events.emit(Event::CellDone {
                cell: plan.id.clone(),
                ok: true,
                detail,
            });
        }
        Err(e) => {
            record.status = CellStatus::Failed;
            record.metrics.clear();
            record.error = Some(format!("{e:#}"));
            ctx.events.emit(Event::CellDone {
                cell: plan.id.clone(),
                ok: false,
                detail: format!("{e:#}"),
            });
        }
    }
    Measured { record, samples }
}

/// Writes the cell's override file and creates the project guard (before
/// `up`, so a signal during `up` still ends in `down`).
pub fn setup(ctx: &LaneCtx<'_>, plan: &CellPlan) -> Result<Project> {
    setup_with(ctx, plan, |_| {})
}

/// [`setup`] with changes to the override (another image, an entrypoint
/// that wraps the target in a tool, bind mounts).
pub fn setup_with(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    change: impl FnOnce(&mut CellOverride),
) -> Result<Project> {
    let profile = ctx.profile;
    let mut ov = CellOverride {
        run_id: ctx.run.id.clone(),
        cell: plan.id.clone(),
        service: profile.spec.service.clone(),
        services: profile.compose_services.clone(),
        env: plan.env.clone(),
        ports: profile.ports(),
        cpuset: plan.cpuset.clone(),
        ..Default::default()
    };
    change(&mut ov);
    let text = ov.render(&profile.compose_file)?;
    let path = ctx
        .run
        .path(&format!("cells/{}/compose.override.yml", plan.id));
    write_atomic(&path, text.as_bytes())?;
    let mut project = Project::new(
        ctx.compose.clone(),
        labels::project_name(&ctx.run.id, &plan.id),
        vec![profile.compose_file.clone(), path],
    );
    project.stop_grace = ctx.opts.stop_grace;
    Ok(project)
}

/// A started, ready target (the project guard tears it down if dropped).
pub struct Started {
    pub container: String,
    pub facts: ContainerFacts,
    pub ready_s: f64,
}

/// Brings the cell's project up and waits until the target is ready and
/// reports the plan's settings.
pub async fn start(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    project: &Project,
    origin: Instant,
) -> Result<Started> {
    let spec = &ctx.profile.spec;
    project
        .up(Duration::from_secs(180))
        .await
        .context("start the target")?;
    let id = ctx
        .engine
        .service_container(&project.name, &spec.service)
        .await?;
    let facts = wait_ready(ctx, &id, origin).await?;
    let ready_s = origin.elapsed().as_secs_f64();
    if let Some(n) = plan.populate {
        populate(ctx, &id, &facts, n).await?;
    }
    // Entities created here are checked even when the lane asked for no
    // check of its own (footprint and the others at the default count).
    let implied = plan
        .populate
        .filter(|_| plan.verify.is_empty())
        .and_then(|n| {
            let check = ctx.profile.spec.entities.as_ref()?.check.clone()?;
            Some(Verify {
                what: format!("entity count {n}"),
                check,
                expected: n.to_string(),
            })
        });
    for v in plan.verify.iter().chain(implied.as_ref()) {
        verify(ctx, &id, &facts, v).await?;
    }
    Ok(Started {
        container: id,
        facts,
        ready_s,
    })
}

async fn run(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    project: &Project,
    origin: Instant,
    record: &mut CellRecord,
    samples_out: &mut Vec<Sample>,
) -> Result<()> {
    let spec = &ctx.profile.spec;
    let Started {
        container: id,
        facts,
        ready_s,
    } = start(ctx, plan, project, origin).await?;
    record.container = Some(id.clone());
    record.image = Some((facts.image.clone(), facts.image_id.clone()));
    record.ready_s = Some(ready_s);
    ctx.events.emit(Event::CellReady {
        cell: plan.id.clone(),
        after_s: ready_s,
    });

    // Sampling starts at readiness and runs through warm-up and window.
    let host_pid = facts.host_pid.context("container has no host PID")?;
    let target = Target {
        container_id: id.clone(),
        host_pid,
        processes: ctx.profile.process_names(),
    };
    let sampler = spawn_probe(open_probe(ctx, &target).await?, ctx.opts.rate_hz, origin);

    // Warm-up: until the USS slope over the trailing window is flat.
    let steady = &spec.steady;
    let warm_start = origin.elapsed().as_secs_f64();
    let mut steady_at = None;
    while origin.elapsed().as_secs_f64() - warm_start < steady.timeout.0.as_secs_f64() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        alive(ctx, &id, &sampler).await?;
        let s = sampler.snapshot();
        let now = origin.elapsed().as_secs_f64();
        let tail: Vec<&Sample> = s
            .iter()
            .filter(|x| x.t >= now - steady.window.0.as_secs_f64())
            .collect();
        if now - warm_start < steady.window.0.as_secs_f64() || tail.len() < 5 {
            continue;
        }
        let t: Vec<f64> = tail.iter().map(|x| x.t).collect();
        let uss: Vec<f64> = tail.iter().map(|x| x.value.uss as f64).collect();
        if analysis::is_flat(&t, &uss, steady.floor_bytes_per_s) {
            steady_at = Some(now);
            break;
        }
    }
    let window_start = origin.elapsed().as_secs_f64();
    match steady_at {
        Some(at) => {
            record.steady_after_s = Some(at - warm_start);
            ctx.events.emit(Event::Steady {
                cell: plan.id.clone(),
                after_s: at - warm_start,
            });
        }
        None => ctx.events.emit(Event::NotSteady {
            cell: plan.id.clone(),
            after_s: window_start - warm_start,
        }),
    }

    // Measurement: under load when the plan has some, else idle.
    let (window_start, window_end) = match &plan.load {
        Some(load) => {
            let port = *facts
                .published
                .get(&load.config.port)
                .with_context(|| format!("load port {} is not published", load.config.port))?;
            let (w0, w1, result) =
                load_window(ctx, plan, load, port, &id, &sampler, origin).await?;
            record.load = Some(result);
            (w0, w1)
        }
        None => (
            window_start,
            idle_window(ctx, plan, &id, &sampler, origin, window_start).await?,
        ),
    };
    let (samples, stats) = sampler.stop();
    record.window = Some((window_start, window_end));
    let in_window: Vec<Sample> = samples
        .iter()
        .filter(|s| s.t >= window_start && s.t <= window_end)
        .copied()
        .collect();
    if in_window.len() < 3 {
        bail!(
            "only {} samples in the measurement window ({} failed reads; last error: {})",
            in_window.len(),
            stats.failed_reads,
            stats.last_error.as_deref().unwrap_or("none")
        );
    }
    record.metrics = analysis::cell_metrics(&in_window);
    record.sampler = Some(stats);
    record.status = if steady_at.is_some() {
        CellStatus::Ok
    } else {
        CellStatus::NotSteady
    };
    *samples_out = samples;
    Ok(())
}

/// The idle window: at least `window`, longer (up to `max_window`) while
/// the USS mean is not yet known to the CI target. Returns its end.
async fn idle_window(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    id: &str,
    sampler: &Ticker<Reading>,
    origin: Instant,
    window_start: f64,
) -> Result<f64> {
    ctx.events.emit(Event::Measuring {
        cell: plan.id.clone(),
        window_s: ctx.opts.window.as_secs_f64(),
    });
    let min_end = window_start + ctx.opts.window.as_secs_f64();
    let max_end = window_start
        + ctx
            .opts
            .max_window
            .as_secs_f64()
            .max(ctx.opts.window.as_secs_f64());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        alive(ctx, id, sampler).await?;
        let now = origin.elapsed().as_secs_f64();
        if now < min_end {
            continue;
        }
        if now >= max_end {
            return Ok(now);
        }
        let s = sampler.snapshot();
        let uss: Vec<f64> = s
            .iter()
            .filter(|x| x.t >= window_start)
            .map(|x| x.value.uss as f64)
            .collect();
        if analysis::precise_enough(&uss, ctx.opts.ci_target) {
            return Ok(now);
        }
    }
}

/// The load window: the generator runs on its own thread and runtime,
/// pinned away from the target's CPU, while the sampler keeps sampling. The
/// window is the generator's measured span (after its warm-up).
async fn load_window(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    load: &LoadPlan,
    host_port: u16,
    id: &str,
    sampler: &Ticker<Reading>,
    origin: Instant,
) -> Result<(f64, f64, runcost_loadgen::LoadResult)> {
    let mut config = load.config.clone();
    config.port = host_port;
    let measured = config.duration.saturating_sub(config.warmup);
    ctx.events.emit(Event::Measuring {
        cell: plan.id.clone(),
        window_s: measured.as_secs_f64(),
    });
    let start = origin.elapsed().as_secs_f64();
    let pin = load.pin_cpu;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let generator = std::thread::Builder::new()
        .name("runcost-loadgen".into())
        .spawn(move || {
            if let Some(cpu) = pin {
                pin_current_thread(cpu);
            }
            // Threads made from here inherit the pinning.
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(
                        anyhow::Error::new(e).context("start the generator runtime")
                    ));
                    return;
                }
            };
            let r = rt.block_on(runcost_loadgen::run_until(config, async {
                let _ = stop_rx.await;
            }));
            let _ = tx.send(r);
        })
        .context("spawn the load generator")?;
    // Dropping `stop_tx` (cancellation, error) stops the generator.
    let _stop = stop_tx;
    let mut rx = rx;
    let result = loop {
        tokio::select! {
            r = &mut rx => break r.context("the load generator vanished")??,
            _ = tokio::time::sleep(Duration::from_millis(250)) => alive(ctx, id, sampler).await?,
        }
    };
    let _ = generator.join();
    let end = origin.elapsed().as_secs_f64();
    let w0 = (start + result.warmup_s).min(end);
    Ok((w0, (w0 + result.duration_s).min(end), result))
}

/// Pins the calling thread (and threads and processes it creates later) to one CPU.
pub fn pin_current_thread(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        if let Err(e) = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set) {
            tracing::warn!("could not pin the load generator to CPU {cpu}: {e}");
        }
    }
}

/// Polls the ready endpoint on the published loopback port until it
/// answers 200, the container exits, or the profile's timeout passes.
async fn wait_ready(ctx: &LaneCtx<'_>, id: &str, origin: Instant) -> Result<ContainerFacts> {
    let ready = &ctx.profile.spec.ready;
    let deadline = origin + ready.timeout.0;
    let mut last;
    loop {
        let facts = ctx.engine.inspect(id).await?;
        if !facts.running {
            let tail = ctx.engine.log_tail(id, 20).await;
            bail!(
                "the target container exited before it was ready (exit code {}{}); last log lines:\n{}",
                facts.exit_code.unwrap_or(-1),
                if facts.oom_killed { ", OOM-killed" } else { "" },
                tail.trim_end()
            );
        }
        let published = |port: u16| published(&facts, port);
        let what = match ready.probe() {
            ReadyProbe::Http(h) => {
                let port = published(h.port)?;
                match httpc::get(port, &h.path, Duration::from_secs(2)).await {
                    Ok(r) if r.status == 200 => return Ok(facts),
                    Ok(r) => last = format!("HTTP {}", r.status),
                    Err(e) => last = format!("{e:#}"),
                }
                format!("GET :{}{} did not answer 200", h.port, h.path)
            }
            ReadyProbe::Tcp(p) => {
                let port = published(p)?;
                let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
                match tokio::time::timeout(Duration::from_secs(2), connect).await {
                    Ok(Ok(_)) => return Ok(facts),
                    Ok(Err(e)) => last = e.to_string(),
                    Err(_) => last = "connect timed out".into(),
                }
                format!("TCP :{p} did not accept a connection")
            }
            ReadyProbe::Exec(argv) => {
                match ctx.engine.exec(id, argv).await {
                    Ok((0, _, _)) => return Ok(facts),
                    Ok((code, out, err)) => {
                        last = format!("exit {code}: {}", first_line(&err, &out))
                    }
                    Err(e) => last = format!("{e:#}"),
                }
                format!("exec {argv:?} did not exit 0")
            }
        };
        if Instant::now() >= deadline {
            bail!(crate::error::BadInput(format!(
                "{}: the service never became ready: {what} within {} \
                 (last: {last}); check `ready:` in the profile or raise `ready.timeout`",
                ctx.profile.path.display(),
                ready.timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn first_line<'a>(err: &'a str, out: &'a str) -> &'a str {
    let text = if err.trim().is_empty() { out } else { err };
    text.trim().lines().next().unwrap_or("")
}

/// Creates `n` entities the profile's way (after readiness).
async fn populate(ctx: &LaneCtx<'_>, id: &str, facts: &ContainerFacts, n: u64) -> Result<()> {
    let Some(e) = &ctx.profile.spec.entities else {
        return Ok(());
    };
    match e.setter() {
        EntitySetter::Env(_) => Ok(()),
        EntitySetter::Exec(argv) => {
            let argv: Vec<String> = argv
                .iter()
                .map(|a| a.replace("{n}", &n.to_string()))
                .collect();
            ctx.engine
                .exec_ok(id, "entities.exec", &argv)
                .await
                .map(drop)
        }
        EntitySetter::Memcached(m) => {
            let mut c = crate::memcached::Memcached::connect(published(facts, m.port)?)
                .await
                .context("entities.memcached: connect")?;
            c.populate(n, m.value_bytes, &m.prefix)
                .await
                .with_context(|| format!("entities.memcached: store {n} items"))
        }
    }
}

/// The host port on 127.0.0.1 that a container port is published on.
fn published(facts: &ContainerFacts, port: u16) -> Result<u16> {
    facts
        .published
        .get(&port)
        .copied()
        .with_context(|| format!("container port {port} is not published on 127.0.0.1"))
}

/// Reads a setting back and compares it with what the plan set.
async fn verify(ctx: &LaneCtx<'_>, id: &str, facts: &ContainerFacts, v: &Verify) -> Result<()> {
    let published = |port: u16| published(facts, port);
    let got: String = match v.check.kind() {
        CheckKind::Http { http, json } => {
            let resp =
                httpc::get(published(http.port)?, &http.path, Duration::from_secs(5)).await?;
            let got = httpc::json_at(&resp.body, json).with_context(|| {
                format!("read {} back from GET :{}{}", v.what, http.port, http.path)
            })?;
            got.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| got.to_string())
        }
        CheckKind::Exec(argv) => ctx
            .engine
            .exec_ok(id, "check", argv)
            .await?
            .trim()
            .to_string(),
        CheckKind::Memcached(m) => {
            let mut c = crate::memcached::Memcached::connect(published(m.port)?)
                .await
                .context("check: connect to memcached")?;
            c.stat_u64(&m.stat).await?.to_string()
        }
    };
    if !same_value(&got, &v.expected) {
        bail!(
            "{} was not applied: {} = {got}, expected {}",
            v.what,
            v.check.describe(),
            v.expected
        );
    }
    Ok(())
}

/// Numbers compare as numbers (`100` = `100.0`), anything else as text.
fn same_value(got: &str, expected: &str) -> bool {
    match (got.trim().parse::<f64>(), expected.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        _ => got.trim() == expected,
    }
}

/// Fails fast when the target died during sampling.
async fn alive(ctx: &LaneCtx<'_>, id: &str, sampler: &Ticker<Reading>) -> Result<()> {
    if !sampler.is_finished() {
        return Ok(());
    }
    let facts = ctx.engine.inspect(id).await?;
    if !facts.running {
        let tail = ctx.engine.log_tail(id, 20).await;
        bail!(
            "the target died during sampling (exit code {}{}); last log lines:\n{}",
            facts.exit_code.unwrap_or(-1),
            if facts.oom_killed { ", OOM-killed" } else { "" },
            tail.trim_end()
        );
    }
    bail!("the sampler stopped after repeated failed reads")
}

/// The samples CSV is a report format; lanes write it through this name.
pub use crate::report::csv::samples_csv;
