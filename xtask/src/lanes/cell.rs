//! The cell frame: one fresh compose project of the target with the
//! cell's settings, started, ready, its entities created and settings
//! verified, then the lane's [`Body`] (warm-up, measurement, analysis),
//! then teardown. Every lane's cells run through [`run`]; a lane supplies
//! only its body. Failures become a `Failed` cell record with the cause;
//! teardown happens on every path (the project's drop guard covers
//! cancellation by a signal).

use super::{analysis, warmup, LaneCtx};
use crate::engine::cleanup::Project;
use crate::engine::{labels, CellOverride, ContainerFacts};
use crate::events::Event;
use crate::fs::write_atomic;
use crate::httpc;
use crate::probe::sampler::{spawn_probe, Sample, Ticker, TickerStats};
use crate::probe::{exec::ExecProbe, host::HostProbe, Probe, Reading, SamplerMode, Target};
use crate::profile::{CheckKind, CheckSpec, EntitySetter, ReadyProbe};
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
    /// Connections held open through the window (`load.hold`).
    pub hold: Option<super::hold::HoldPlan>,
    /// Tool mode: the service's own load tool runs instead of the
    /// generator (`config` is then unused).
    pub tool: Option<super::loadtool::ToolPlan>,
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
    Ok(
        match crate::probe::visibility::resolve(ctx.opts.sampler, target)? {
            SamplerMode::Host | SamplerMode::Auto => Box::new(HostProbe::new(target.clone())?),
            SamplerMode::Exec => Box::new(ExecProbe::start(ctx.engine, target).await?),
        },
    )
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
        hold: Vec::new(),
        tool: None,
        attribution: None,
    }
}

/// What a lane does with a ready target, between readiness and teardown:
/// the only part of a cell that differs from lane to lane. The frame
/// ([`run`]) does the rest the same way for every lane: the override and
/// project guard, start, readiness, entities and settings verified,
/// teardown on every path, the samples CSV, and the events.
pub trait Body {
    type Output;

    /// Before the project exists (directories the override mounts).
    fn prepare(&mut self, _ctx: &LaneCtx<'_>) -> Result<()> {
        Ok(())
    }

    /// Changes to the cell's compose override (another image, an
    /// entrypoint that wraps the target in a tool, bind mounts).
    fn adjust(&self, _ov: &mut CellOverride) {}

    /// How long the target may take to become ready, when not the
    /// profile's `ready.timeout` (a target under valgrind starts slowly).
    fn ready_timeout(&self) -> Option<Duration> {
        None
    }

    /// Warm-up, measurement and analysis of one cell.
    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<Self::Output>;

    /// Runs once the project exists, on every path, before `down` (to keep
    /// the container's log, say).
    async fn before_down(&mut self, _ctx: &LaneCtx<'_>, _project: &Project) {}

    /// Adds to a failure what the user needs to know (where output was kept).
    fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        e
    }
}

/// A ready target, as a [`Body`] sees it.
pub struct Cell<'c, 'a> {
    pub ctx: &'c LaneCtx<'a>,
    pub plan: &'c CellPlan,
    /// The cell's clock starts when the cell does.
    pub origin: Instant,
    pub container: String,
    pub facts: ContainerFacts,
    pub record: &'c mut CellRecord,
    /// The raw samples, written to the cell's CSV by the frame.
    pub samples: &'c mut Vec<Sample>,
    /// Connections held open since readiness (closed when dropped).
    pub held: Vec<super::hold::Held>,
}

/// A finished cell: the record and samples, and what the body returned
/// when it succeeded.
pub struct CellRun<O> {
    pub measured: Measured,
    pub output: Option<O>,
}

/// Answers "is the target still there?" for a lane's loops.
pub struct Liveness<'e> {
    engine: &'e crate::engine::Engine,
    container: String,
}

impl Liveness<'_> {
    /// Fails fast when the target died during sampling.
    pub async fn check(&self, sampler: &Ticker<Reading>) -> Result<()> {
        if !sampler.is_finished() {
            return Ok(());
        }
        self.running().await?;
        bail!("the sampler stopped after repeated failed reads")
    }

    /// Fails when the target's container is no longer running.
    pub async fn running(&self) -> Result<()> {
        let facts = self.engine.inspect(&self.container).await?;
        if facts.running {
            return Ok(());
        }
        let tail = self.engine.log_tail(&self.container, 20).await;
        bail!(
            "the target died during sampling (exit code {}{}); last log lines:\n{}",
            facts.exit_code.unwrap_or(-1),
            if facts.oom_killed { ", OOM-killed" } else { "" },
            tail.trim_end()
        );
    }
}

/// Runs one cell around `body`: setup, start and readiness, the body,
/// teardown, samples, events. A failure anywhere becomes a `Failed` record
/// with the cause; teardown happens on every path (the project's drop
/// guard covers cancellation by a signal).
pub async fn run<B: Body>(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    body: &mut B,
    index: usize,
    of: usize,
) -> CellRun<B::Output> {
    ctx.events.emit(Event::CellStarted {
        cell: plan.id.clone(),
        index,
        of,
    });
    let mut record = empty_record(ctx, plan);
    if let Some(why) = ctx.refusal.get() {
        record.status = CellStatus::Failed;
        record.error = Some(format!("not run: {why}"));
        return CellRun {
            measured: Measured {
                record,
                samples: Vec::new(),
            },
            output: None,
        };
    }
    let mut samples = Vec::new();
    let origin = Instant::now();
    let outcome = async {
        body.prepare(ctx)?;
        let project = setup(ctx, plan, |ov| body.adjust(ov))?;
        let measured = async {
            let timeout = body
                .ready_timeout()
                .unwrap_or(ctx.profile.spec.ready.timeout.0);
            let started = start(ctx, plan, &project, origin, timeout).await?;
            record.container = Some(started.container.clone());
            record.image = Some((started.facts.image.clone(), started.facts.image_id.clone()));
            record.ready_s = Some(started.ready_s);
            if let Some(pid) = started.facts.host_pid {
                let target = Target {
                    container_id: started.container.clone(),
                    host_pid: pid,
                    processes: Vec::new(),
                };
                record.sampler_mode = crate::probe::visibility::resolve(ctx.opts.sampler, &target)?;
            }
            ctx.events.emit(Event::CellReady {
                cell: plan.id.clone(),
                after_s: started.ready_s,
            });
            let mut cell = Cell {
                ctx,
                plan,
                origin,
                container: started.container,
                facts: started.facts,
                record: &mut record,
                samples: &mut samples,
                held: started.held,
            };
            body.measure(&mut cell).await
        }
        .await;
        body.before_down(ctx, &project).await;
        let down = project.down().await;
        ctx.events.emit(Event::TornDown {
            cell: plan.id.clone(),
        });
        match (measured, down) {
            (Ok(o), Ok(())) => Ok(o),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e.context("tear down the cell")),
        }
    }
    .await;
    if !samples.is_empty() {
        let rel = format!("samples/{}.csv", plan.id);
        match write_atomic(&ctx.run.path(&rel), samples_csv(&samples).as_bytes()) {
            Ok(()) => record.samples_csv = Some(rel),
            Err(e) => tracing::warn!("write samples of {}: {e:#}", plan.id),
        }
    }
    let output = match outcome {
        Ok(o) => {
            // A body that returned without judging the cell (the selfchecks
            // measure the harness, not a steady state) completed it; a body
            // that failed it said why in `error`.
            if record.status == CellStatus::Failed && record.error.is_none() {
                record.status = CellStatus::Ok;
            }
            let detail = match &record.error {
                Some(e) => e.clone(),
                None => record
                    .metrics
                    .iter()
                    .find(|m| m.metric == crate::results::MetricKind::Uss)
                    .map(|m| format!("USS {:.2} MiB", m.value / 1048576.0))
                    .unwrap_or_default(),
            };
            ctx.events.emit(Event::CellDone {
                cell: plan.id.clone(),
                ok: record.status != CellStatus::Failed,
                detail,
            });
            Some(o)
        }
        Err(e) => {
            let e = body.explain(e);
            record.status = CellStatus::Failed;
            record.metrics.clear();
            record.error = Some(format!("{e:#}"));
            ctx.events.emit(Event::CellDone {
                cell: plan.id.clone(),
                ok: false,
                detail: format!("{e:#}"),
            });
            None
        }
    };
    CellRun {
        measured: Measured { record, samples },
        output,
    }
}

impl<'a> Cell<'_, 'a> {
    /// The target's processes by `comm` (empty: the main process).
    pub fn target(&self, processes: Vec<String>) -> Result<Target> {
        Ok(Target {
            container_id: self.container.clone(),
            host_pid: self.facts.host_pid.context("container has no host PID")?,
            processes,
        })
    }

    /// A probe of the profile's `process:` processes in the lane's sampler mode.
    /// Refuses (exit 2) when it cannot read a metric the lane judges.
    pub async fn probe(&self) -> Result<Box<dyn Probe>> {
        let probe = open_probe(self.ctx, &self.target(self.ctx.profile.process_names())?).await?;
        if let Some(why) = crate::probe::refusal(&self.ctx.judged, &probe.unavailable()) {
            let why = self.ctx.refusal.get_or_init(|| why).clone();
            return Err(crate::error::BadInput(why).into());
        }
        Ok(probe)
    }

    /// The fixed-rate sampler of the profile's processes, started now.
    #[allow(dead_code)] // bodies that sample without attribution
    pub async fn sampler(&self) -> Result<Ticker<Reading>> {
        Ok(spawn_probe(
            self.probe().await?,
            self.ctx.opts.rate_hz,
            self.origin,
        ))
    }

    /// The main sampler and, where the probe offers one (host PIDs, or the
    /// exec stream's second loop), the attribution sampler beside it
    /// ([`crate::probe::attrib`]), both started now.
    pub async fn samplers(
        &self,
    ) -> Result<(Ticker<Reading>, Option<crate::probe::attrib::AttribSampler>)> {
        let mut probe = self.probe().await?;
        let attrib = probe
            .attrib_reader(self.origin)
            .map(|r| crate::probe::attrib::AttribSampler::spawn(r, self.origin));
        Ok((
            spawn_probe(probe, self.ctx.opts.rate_hz, self.origin),
            attrib,
        ))
    }

    /// Where the cost went over the recorded window (after [`Cell::conclude`]).
    pub fn conclude_attribution(&mut self, attrib: crate::probe::attrib::AttribSampler) {
        let (reads, stats, end_read) = attrib.finish();
        if let Some(window) = self.record.window {
            self.record.attribution = super::attrib::summarise(&reads, window, end_read, stats);
        }
    }

    /// The host port on 127.0.0.1 that a container port is published on.
    pub fn published(&self, port: u16) -> Result<u16> {
        published(&self.facts, port)
    }

    /// Warm-up by the one rule ([`warmup`]): records and announces how long
    /// it took; `None` when the target never settled.
    pub async fn warm_up(
        &mut self,
        source: &mut impl warmup::Source,
        how: warmup::WarmUp,
    ) -> Result<Option<f64>> {
        let began = Instant::now();
        let waited =
            warmup::until_steady(source, &self.ctx.profile.spec.steady, how, self.origin).await?;
        self.record.steady_after_s = waited;
        let cell = self.plan.id.clone();
        self.ctx.events.emit(match waited {
            Some(after_s) => Event::Steady { cell, after_s },
            None => Event::NotSteady {
                cell,
                after_s: began.elapsed().as_secs_f64(),
            },
        });
        Ok(waited)
    }

    /// Announces the measurement (its planned length; 0 when it is not timed).
    pub fn measuring(&self, window_s: f64) {
        self.ctx.events.emit(Event::Measuring {
            cell: self.plan.id.clone(),
            window_s,
        });
    }

    /// Whether the target still runs, without borrowing the cell.
    pub fn liveness(&self) -> Liveness<'a> {
        Liveness {
            engine: self.ctx.engine,
            container: self.container.clone(),
        }
    }

    /// The record of a sampled window: metrics of the samples inside
    /// `[w0, w1]` (at least 3), the sampler's figures, the status, and all
    /// samples kept for the CSV.
    pub fn conclude(
        &mut self,
        samples: Vec<Sample>,
        stats: TickerStats,
        (w0, w1): (f64, f64),
        steady: bool,
    ) -> Result<()> {
        self.record.window = Some((w0, w1));
        let in_window: Vec<Sample> = samples
            .iter()
            .filter(|s| s.t >= w0 && s.t <= w1)
            .copied()
            .collect();
        *self.samples = samples;
        if in_window.len() < 3 {
            bail!(
                "only {} samples in the measurement window ({} failed reads; last error: {})",
                in_window.len(),
                stats.failed_reads,
                stats.last_error.as_deref().unwrap_or("none")
            );
        }
        self.record.metrics = analysis::cell_metrics(&in_window);
        self.record.sampler = Some(stats);
        self.record.status = if steady {
            CellStatus::Ok
        } else {
            CellStatus::NotSteady
        };
        Ok(())
    }
}

/// Writes the cell's override file and creates the project guard (before
/// `up`, so a signal during `up` still ends in `down`).
fn setup(
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
        ulimits: ctx.engine.target_ulimits(),
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
struct Started {
    container: String,
    facts: ContainerFacts,
    ready_s: f64,
    held: Vec<super::hold::Held>,
}

/// Brings the cell's project up and waits until the target is ready and
/// reports the plan's settings.
async fn start(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    project: &Project,
    origin: Instant,
    ready_timeout: Duration,
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
    let facts = wait_ready(ctx, &id, origin, ready_timeout).await?;
    let ready_s = origin.elapsed().as_secs_f64();
    let mut held = Vec::new();
    if let Some(n) = plan.populate {
        match ctx.profile.spec.entities.as_ref().map(|e| e.setter()) {
            // Held connections are entities that live in the harness: the
            // cell keeps them open until its teardown.
            Some(EntitySetter::Hold(h)) => {
                let hold = super::hold::HoldPlan {
                    port: h.port,
                    request: crate::profile::hold::request_of(&h.request),
                    connections: n as usize,
                    timeout: h.timeout.0,
                    entity: true,
                };
                held.push(super::hold::Held::open(&hold, published(&facts, h.port)?, None).await?);
            }
            _ => populate(ctx, &id, &facts, n).await?,
        }
    }
    if let Some((hold, load)) = plan
        .load
        .as_ref()
        .and_then(|l| l.hold.as_ref().map(|h| (h, l)))
    {
        held.push(
            super::hold::Held::open(hold, published(&facts, hold.port)?, load.pin_cpu).await?,
        );
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
    if let Some(p) = &spec.prewarm {
        ctx.engine.exec_ok(&id, "prewarm.exec", &p.exec).await?;
    }
    Ok(Started {
        container: id,
        facts,
        ready_s,
        held,
    })
}

/// Polls the ready endpoint on the published loopback port until it
/// answers 200, the container exits, or the profile's timeout passes.
async fn wait_ready(
    ctx: &LaneCtx<'_>,
    id: &str,
    origin: Instant,
    timeout: Duration,
) -> Result<ContainerFacts> {
    let ready = &ctx.profile.spec.ready;
    let deadline = origin + timeout;
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
                let connect =
                    tokio::net::TcpStream::connect((crate::engine::endpoint::target_ip(), port));
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
                crate::units::HumanDuration(timeout)
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
        // Opened by `start`, which keeps them.
        EntitySetter::Env(_) | EntitySetter::Hold(_) => Ok(()),
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
    facts.published.get(&port).copied().with_context(|| {
        format!(
            "container port {port} is not published on {}",
            crate::engine::endpoint::publish_ip()
        )
    })
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

/// The samples CSV is a report format; lanes write it through this name.
pub use crate::report::csv::samples_csv;
