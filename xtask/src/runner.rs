//! Service lanes: the typed job, the checks of its arguments against the
//! profile (before any side effect), and the lane run inside the run frame
//! (`frame.rs`). Lanes only measure.

use crate::engine::{ComposeCli, Engine};
use crate::error::BadInput;
use crate::events::Events;
use crate::frame::{Head, Recorded, Uses};
use crate::lanes::{
    churn, fault, footprint, heap, load, memcheck, scaling, sweep, LaneCtx, MeasureOpts,
};
use crate::probe::fingerprint;
use crate::profile::Profile;
use crate::results::suite::{LaneStatus, SuiteLane, SuiteRecord};
use crate::results::{CellStatus, LaneRecord, MetricKind, ProfileRef, RunStatus, Settings};
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Options every command shares.
#[derive(Clone, Debug)]
pub struct Common {
    pub repo_root: PathBuf,
    pub results: PathBuf,
    pub profile: String,
    pub quiet: bool,
    pub json: bool,
    pub seed: u64,
    /// The command line after the program name, recorded in run.json.
    pub argv: Vec<String>,
    /// `--steady-window`: replaces the profile's `steady.window`.
    pub steady_window: Option<Duration>,
}

impl Common {
    /// The run's profile (`--profile`), with this run's overrides applied.
    pub fn profile(&self) -> Result<Profile> {
        let mut p = Profile::resolve(&self.repo_root, &self.profile)?;
        if let Some(w) = self.steady_window {
            p.spec.steady.window = crate::units::HumanDuration(w);
        }
        Ok(p)
    }
}

/// A lane planned from its flags: what it records, how it measures, what it runs.
pub struct Planned {
    pub settings: Settings,
    pub opts: MeasureOpts,
    pub job: Job,
}

impl Planned {
    pub fn into_parts(self) -> (Settings, MeasureOpts, Job) {
        (self.settings, self.opts, self.job)
    }
}

/// The lane to run, with its typed options.
pub enum Job {
    Footprint(footprint::FootprintOpts),
    Scaling(scaling::ScalingOpts),
    Sweep(sweep::SweepOpts),
    Load(load::LoadOpts),
    Heap(heap::HeapOpts),
    Memcheck(memcheck::MemcheckOpts),
    Churn(churn::ChurnOpts),
    Fault(fault::FaultOpts),
}

impl Job {
    fn settings_env(&self) -> BTreeMap<String, String> {
        match self {
            Job::Footprint(o) => o.env.clone(),
            Job::Scaling(o) => o.env.clone(),
            Job::Sweep(o) => o.env.clone(),
            Job::Load(o) => o.env.clone(),
            Job::Heap(o) => o.env.clone(),
            Job::Memcheck(o) => o.env.clone(),
            Job::Churn(o) => o.env.clone(),
            Job::Fault(o) => o.env.clone(),
        }
    }

    /// The image a lane runs besides the profile's own: the tools image.
    fn extra_image<'p>(&self, profile: &'p Profile) -> Option<&'p str> {
        match self {
            Job::Heap(_) | Job::Memcheck(_) => profile.spec.wrap.as_ref().map(|w| w.image.as_str()),
            _ => None,
        }
    }

    /// The metrics the lane's verdict rests on (the probe must read them).
    fn judged(&self, profile: &Profile) -> Vec<MetricKind> {
        match self {
            Job::Scaling(o) => o.metrics.clone(),
            Job::Churn(o) => profile
                .spec
                .churn
                .as_ref()
                .map(|spec| churn::judged(spec, o))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Lane arguments that depend on the profile, checked before any side effect.
    pub fn validate(&self, profile: &Profile) -> Result<()> {
        let file = profile.path.display();
        match self {
            Job::Footprint(_) => Ok(()),
            Job::Fault(_) => match &profile.spec.fault {
                Some(f) if f.client_probe(&profile.spec.ready).is_none() => Err(BadInput(format!(
                    "{file}: the fault lane's client probes the service over the network, and \
                     `ready.exec` is not a network probe; name one in `fault.client` \
                     (`http: {{ port, path }}` or `tcp: PORT`)"
                ))
                .into()),
                Some(_) => Ok(()),
                None => Err(BadInput(format!(
                    "{file}: the profile has no `fault:` section; the fault lane needs one \
                     (an action: http, exec or engine; see README, \"Writing a profile\")"
                ))
                .into()),
            },
            Job::Heap(heap::HeapOpts { cycles, .. })
            | Job::Memcheck(memcheck::MemcheckOpts { cycles, .. }) => {
                if profile.spec.wrap.is_none() {
                    return Err(BadInput(format!(
                        "{file}: the profile has no `wrap:` section; the heap and memcheck lanes need one \
                         (the target's argv and an image with heaptrack and valgrind; see README, \"Writing a profile\")"
                    ))
                    .into());
                }
                if *cycles > 0 && profile.spec.churn.is_none() {
                    return Err(BadInput(format!(
                        "--cycles {cycles}: {file} has no `churn:` section saying how to create and delete objects"
                    ))
                    .into());
                }
                Ok(())
            }
            Job::Churn(_) => match &profile.spec.churn {
                Some(_) => Ok(()),
                None => Err(BadInput(format!(
                    "{file}: the profile has no `churn:` section; the churn lane needs one \
                     (a port, a create and a delete request; see README, \"Writing a profile\")"
                ))
                .into()),
            },
            Job::Load(_) => match &profile.spec.load {
                Some(_) => Ok(()),
                None if profile.spec.ready.http.is_none() => Err(BadInput(format!(
                    "{file}: the load lane speaks HTTP only, and this target is not an HTTP service \
                     (its profile has no `load:` section and a non-HTTP ready probe); \
                     its own protocol's load tool (e.g. redis-benchmark, memtier) is the way to load it"
                ))
                .into()),
                None => Err(BadInput(format!(
                    "{file}: the profile has no `load:` section; the load lane needs one (a port and a request mix; see README, \"Writing a profile\")"
                ))
                .into()),
            },
            Job::Scaling(_) => match &profile.spec.entities {
                Some(_) => Ok(()),
                None => Err(BadInput(format!(
                    "{file}: the profile declares no `entities:`; the scaling lane needs it \
                     (how to set the count: `env`, `exec` or `memcached`, and a check that reads it back)"
                ))
                .into()),
            },
            Job::Sweep(o) => {
                if profile.spec.knobs.contains_key(&o.knob) {
                    Ok(())
                } else {
                    let known: Vec<&str> = profile.spec.knobs.keys().map(String::as_str).collect();
                    Err(BadInput(format!(
                        "--knob {}: {file} declares no such knob; it declares: {}",
                        o.knob,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ))
                    .into())
                }
            }
        }
    }
}

pub use crate::frame::{now_rfc3339, Outcome};

/// A service lane: checks before any side effect, then the run frame
/// around the lane, then the run's status from its cells.
pub async fn run(
    common: &Common,
    settings: Settings,
    opts: MeasureOpts,
    job: Job,
    events: &dyn Events,
) -> Result<Outcome> {
    // Checks before any side effect: bad input leaves nothing behind.
    let profile = common.profile()?;
    job.validate(&profile)?;
    let engine = Engine::connect().await?;
    let compose = ComposeCli::detect()?;
    let images = images_present(&engine, &profile, std::slice::from_ref(&job)).await?;
    let head = head(
        common,
        &engine,
        &compose,
        &profile,
        images,
        Settings {
            env: job.settings_env(),
            command: common.argv.clone(),
            ..settings
        },
    );
    let mut frame = Recorded::open(
        &common.results,
        &common.repo_root,
        Uses::Engine,
        head,
        events,
    )?;
    let Measured {
        lane,
        refusal,
        failed,
        all_failed,
    } = match measure(&frame, &engine, &compose, &profile, opts, &job).await {
        Ok(m) => m,
        Err(sig) => return Err(frame.interrupted(sig)),
    };
    note_cgroup(&mut frame);

    // An engine that stopped answering (a remote one gone mid-run) makes
    // the run partial with nothing reported measured: its cells failed for
    // the engine, not for the target.
    if !failed.is_empty() {
        if let Err(gone) = engine.ping().await {
            let why = format!("{gone:#}");
            let outcome = frame.finish(Vec::new(), RunStatus::Partial, Some(why.clone()))?;
            return Err(BadInput(format!(
                "{why} (run kept in {})",
                outcome.run.root.display()
            ))
            .into());
        }
    }
    // The run's status: failed when every cell failed.
    let status = if all_failed {
        RunStatus::Failed
    } else {
        RunStatus::Complete
    };
    let reason = (!failed.is_empty()).then(|| format!("{} cell(s) failed", failed.len()));
    keep_images(&mut frame, &lane);
    let cells = lane.cells.len();
    let reason = refusal.clone().or(reason);
    let outcome = frame.finish(vec![lane], status, reason)?;
    if let Some(why) = refusal {
        return Err(BadInput(format!(
            "{why} (results kept in {})",
            outcome.run.root.display()
        ))
        .into());
    }
    if let Some(first) = failed.first() {
        return Err(BadInput(format!(
            "{} of {cells} cell(s) failed (results kept in {}); first: {first}",
            failed.len(),
            outcome.run.root.display()
        ))
        .into());
    }
    Ok(outcome)
}

/// Reports the suite's progress between lanes.
pub trait SuiteProgress {
    /// Lane `i` (0-based) of the suite is about to start.
    fn lane_started(&self, i: usize);
    /// Lane `i` ended.
    fn lane_done(&self, i: usize, status: LaneStatus, seconds: f64);
}

/// Several lanes in ONE frame: one run directory, one record with every
/// lane, one host-load record, one report. A lane whose cells all fail is
/// recorded failed with its cause and the next lane still runs; the record
/// says per lane how it ended (`suite`).
pub async fn run_suite(
    common: &Common,
    profile: &Profile,
    items: Vec<Planned>,
    events: &dyn Events,
    progress: &dyn SuiteProgress,
) -> Result<Outcome> {
    for it in &items {
        it.job.validate(profile)?;
    }
    let Some(first) = items.first() else {
        return Err(BadInput(format!(
            "{}: the suite has no lane to run",
            profile.path.display()
        ))
        .into());
    };
    let engine = Engine::connect().await?;
    let compose = ComposeCli::detect()?;
    let jobs: Vec<&Job> = items.iter().map(|i| &i.job).collect();
    let mut images = BTreeMap::new();
    for j in jobs {
        images.extend(images_present(&engine, profile, std::slice::from_ref(j)).await?);
    }
    // The run's settings are the first lane's (what a single-lane reader
    // expects); every lane's own are in `suite.lanes`.
    let settings = Settings {
        command: common.argv.clone(),
        ..first.settings.clone()
    };
    let head = head(common, &engine, &compose, profile, images, settings);
    let mut frame = Recorded::open(
        &common.results,
        &common.repo_root,
        Uses::Engine,
        head,
        events,
    )?;
    let mut suite = SuiteRecord { lanes: Vec::new() };
    let mut lanes = Vec::new();
    for (i, it) in items.into_iter().enumerate() {
        let Planned {
            settings,
            opts,
            job,
        } = it;
        progress.lane_started(i);
        let started = std::time::Instant::now();
        let Measured {
            lane,
            refusal,
            failed,
            all_failed,
        } = match measure(&frame, &engine, &compose, profile, opts, &job).await {
            Ok(m) => m,
            Err(sig) => {
                frame.record.lanes.extend(lanes);
                frame.record.suite = Some(suite);
                return Err(frame.interrupted(sig));
            }
        };
        let status = if all_failed || lane.cells.is_empty() && lane.findings.is_empty() {
            LaneStatus::Failed
        } else if failed.is_empty() {
            LaneStatus::Complete
        } else {
            LaneStatus::CellsFailed
        };
        let error = match (status, failed.first()) {
            _ if refusal.is_some() => refusal,
            (LaneStatus::Complete, _) => None,
            (_, Some(first)) => Some(format!(
                "{} of {} cell(s) failed; first: {first}",
                failed.len(),
                lane.cells.len()
            )),
            (_, None) => Some(
                lane.skipped
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "the lane measured nothing".into()),
            ),
        };
        let seconds = started.elapsed().as_secs_f64();
        progress.lane_done(i, status, seconds);
        keep_images(&mut frame, &lane);
        suite.lanes.push(SuiteLane {
            lane: lane.lane,
            settings: Settings {
                env: job.settings_env(),
                ..settings
            },
            status,
            error,
            seconds,
        });
        lanes.push(lane);
    }
    let failed: Vec<String> = suite
        .lanes
        .iter()
        .filter(|l| l.status != LaneStatus::Complete)
        .map(|l| format!("{} {}", l.lane, l.status))
        .collect();
    let status = if suite.lanes.iter().all(|l| l.status == LaneStatus::Failed) {
        RunStatus::Failed
    } else {
        RunStatus::Complete
    };
    let reason = (!failed.is_empty()).then(|| failed.join(", "));
    frame.record.suite = Some(suite);
    note_cgroup(&mut frame);
    frame.finish(lanes, status, reason)
}

/// The run's head: tool, host, profile, settings, the images it uses.
fn head(
    common: &Common,
    engine: &Engine,
    compose: &ComposeCli,
    profile: &Profile,
    images: BTreeMap<String, String>,
    settings: Settings,
) -> Head {
    Head {
        tool: fingerprint::tool(&common.repo_root),
        host: fingerprint::host(&engine.info, compose),
        profile: ProfileRef {
            name: profile.name().into(),
            path: profile.path.display().to_string(),
            sha256: profile.hash.clone(),
        },
        settings,
        seed: common.seed,
        images,
        engine: Some(crate::results::EngineRef {
            traits: Some(engine_traits(engine, compose)),
            ..crate::engine::endpoint::reach().record(engine.info.kind)
        }),
    }
}

/// What the run knows before its first cell of what differs on this
/// engine; the cgroup placement comes with the first target
/// ([`note_cgroup`]).
fn engine_traits(engine: &Engine, compose: &ComposeCli) -> crate::results::EngineTraits {
    crate::results::EngineTraits {
        runtime: engine.runtime.clone(),
        ulimits: engine
            .target_ulimits()
            .iter()
            .map(|u| u.to_string())
            .collect(),
        cgroup: None,
        compose: format!("{:?} {}", compose.variant, compose.version).to_lowercase(),
    }
}

/// Records where the run's first target's cgroup was, as the sampler's
/// visibility check found it.
fn note_cgroup(frame: &mut Recorded<'_>) {
    let seen = crate::probe::visibility::first_placement();
    if let Some(t) = frame.record.engine.as_mut().and_then(|e| e.traits.as_mut()) {
        t.cgroup = t.cgroup.take().or(seen);
    }
}

/// One lane measured in the run's frame, with what its cells said.
struct Measured {
    lane: LaneRecord,
    /// Why a cell's probe refused the lane (bad input), if one did.
    refusal: Option<String>,
    /// The failed cells ("id: cause").
    failed: Vec<String>,
    /// Every cell failed.
    all_failed: bool,
}

/// Runs one lane inside the frame's signal race; `Err` is the signal.
async fn measure(
    frame: &Recorded<'_>,
    engine: &Engine,
    compose: &ComposeCli,
    profile: &Profile,
    opts: MeasureOpts,
    job: &Job,
) -> Result<Measured, &'static str> {
    let ctx = LaneCtx {
        engine,
        compose,
        profile,
        run: &frame.scope.run,
        opts,
        events: frame.events(),
        judged: job.judged(profile),
        refusal: Default::default(),
    };
    let lane = frame.measure(run_job(&ctx, job)).await?;
    let (failed, all_failed) = failed_cells(&lane);
    Ok(Measured {
        refusal: ctx.refusal.get().cloned(),
        lane,
        failed,
        all_failed,
    })
}

async fn run_job(ctx: &LaneCtx<'_>, job: &Job) -> LaneRecord {
    match job {
        Job::Footprint(o) => footprint::run(ctx, o).await,
        Job::Scaling(o) => scaling::run(ctx, o).await,
        Job::Sweep(o) => sweep::run(ctx, o).await,
        Job::Load(o) => load::run(ctx, o).await,
        Job::Heap(o) => heap::run(ctx, o).await,
        Job::Memcheck(o) => memcheck::run(ctx, o).await,
        Job::Churn(o) => churn::run(ctx, o).await,
        Job::Fault(o) => fault::run(ctx, o).await,
    }
}

/// The failed cells ("id: cause"), and whether every cell failed.
fn failed_cells(lane: &LaneRecord) -> (Vec<String>, bool) {
    let failed: Vec<String> = lane
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Failed)
        .map(|c| format!("{}: {}", c.id, c.error.as_deref().unwrap_or("failed")))
        .collect();
    let all = !lane.cells.is_empty() && failed.len() == lane.cells.len();
    (failed, all)
}

/// The images the cells really ran, whether or not runcost built them.
fn keep_images(frame: &mut Recorded<'_>, lane: &LaneRecord) {
    for c in &lane.cells {
        if let Some((name, id)) = &c.image {
            frame
                .record
                .images
                .entry(name.clone())
                .or_insert_with(|| id.clone());
        }
    }
}

/// The profile's image and the lanes' extra images, with their ids;
/// refused before any side effect when one is not built.
async fn images_present(
    engine: &Engine,
    profile: &Profile,
    jobs: &[Job],
) -> Result<BTreeMap<String, String>> {
    let mut images = BTreeMap::new();
    let wanted = profile
        .spec
        .build
        .as_ref()
        .map(|b| b.image.as_str())
        .into_iter()
        .chain(jobs.iter().filter_map(|j| j.extra_image(profile)));
    for image in wanted {
        match engine.image_id(image).await {
            Some(id) => {
                images.insert(image.to_string(), id);
            }
            None => {
                return Err(BadInput(format!(
                    "image {image} of profile {} is not built; run `cargo xtask setup`",
                    profile.name()
                ))
                .into())
            }
        }
    }
    Ok(images)
}
