//! The frame around every measuring lane: checks before any side effect,
//! the run directory (written `partial` first), the cleanup guard, host-load
//! sampling, the race against SIGINT/SIGTERM, and the final record and
//! report. Lanes only measure.

use crate::engine::cleanup::{shutdown_signal, RunGuard};
use crate::engine::{ComposeCli, Engine};
use crate::error::{BadInput, Interrupted};
use crate::events::{Event, Events};
use crate::lanes::cell::Measured;
use crate::lanes::{
    churn, fault, footprint, heap, load, memcheck, scaling, sweep, LaneCtx, MeasureOpts,
};
use crate::probe::{fingerprint, hostload};
use crate::profile::Profile;
use crate::results::{
    CellStatus, LaneRecord, LoadSummary, ProfileRef, RunRecord, RunStatus, Settings, SCHEMA_VERSION,
};
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

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

    /// Lane arguments that depend on the profile, checked before any side effect.
    fn validate(&self, profile: &Profile) -> Result<()> {
        let file = profile.path.display();
        match self {
            Job::Footprint(_) => Ok(()),
            Job::Fault(_) => match &profile.spec.fault {
                Some(_) if profile.spec.ready.port().is_none() => Err(BadInput(format!(
                    "{file}: the fault lane's client probes the ready endpoint over the network; \
                     give the profile `ready.http` or `ready.tcp` instead of `ready.exec`"
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

/// The outcome a command turns into an exit code.
pub struct Outcome {
    pub run: RunDir,
    pub record: RunRecord,
}

pub async fn run(
    common: &Common,
    settings: Settings,
    opts: MeasureOpts,
    job: Job,
    events: &dyn Events,
) -> Result<Outcome> {
    // Checks before any side effect: bad input leaves nothing behind.
    let profile = Profile::resolve(&common.repo_root, &common.profile)?;
    job.validate(&profile)?;
    let engine = Engine::connect().await?;
    let compose = ComposeCli::detect()?;
    let mut images = BTreeMap::new();
    let wanted = profile
        .spec
        .build
        .as_ref()
        .map(|b| b.image.as_str())
        .into_iter()
        .chain(job.extra_image(&profile));
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

    let run = RunDir::create(&common.results)?;
    let mut guard = RunGuard::new(&run.id);
    let mut record = RunRecord {
        schema_version: SCHEMA_VERSION.into(),
        run_id: run.id.clone(),
        started_at: now_rfc3339(),
        finished_at: None,
        status: RunStatus::Partial,
        status_reason: Some("running".into()),
        tool: fingerprint::tool(&common.repo_root),
        host: fingerprint::host(&engine.info, &compose),
        profile: ProfileRef {
            name: profile.name().into(),
            path: profile.path.display().to_string(),
            sha256: profile.hash.clone(),
        },
        settings: Settings {
            env: job.settings_env(),
            command: common.argv.clone(),
            ..settings
        },
        seed: common.seed,
        images,
        lanes: Vec::new(),
        host_load: LoadSummary::default(),
    };
    run.write_record(&record)?;
    run.mark_latest()?;
    events.emit(Event::Note(format!(
        "run {} → {}",
        run.id,
        run.root.display()
    )));

    let origin = Instant::now();
    let load = hostload::spawn(origin);
    let ctx = LaneCtx {
        engine: &engine,
        compose: &compose,
        profile: &profile,
        run: &run,
        opts,
        events,
    };
    let lane = async {
        match &job {
            Job::Footprint(o) => footprint::run(&ctx, o).await,
            Job::Scaling(o) => scaling::run(&ctx, o).await,
            Job::Sweep(o) => sweep::run(&ctx, o).await,
            Job::Load(o) => load::run(&ctx, o).await,
            Job::Heap(o) => heap::run(&ctx, o).await,
            Job::Memcheck(o) => memcheck::run(&ctx, o).await,
            Job::Churn(o) => churn::run(&ctx, o).await,
            Job::Fault(o) => (fault::run(&ctx, o).await, Vec::new()),
        }
    };
    let result: std::result::Result<(LaneRecord, Vec<Measured>), &'static str> = tokio::select! {
        r = lane => Ok(r),
        sig = shutdown_signal() => Err(sig),
    };
    let (load_samples, _) = load.stop();
    record.host_load = summarize_load(&load_samples, record.host.cores);
    let _ = crate::fs::write_atomic(
        &run.path("samples/hostload.csv"),
        load_csv(&load_samples).as_bytes(),
    );
    record.finished_at = Some(now_rfc3339());

    let (lane, _measured) = match result {
        Ok(r) => r,
        Err(sig) => {
            // The lane future was dropped: its project guards have run `down`.
            let reaped = engine.reap(Some(&run.id)).await;
            guard.disarm();
            record.status = RunStatus::Partial;
            record.status_reason = Some(format!("interrupted by {sig}"));
            run.write_record(&record)?;
            if let Ok(r) = reaped {
                tracing::debug!("after {sig}: {r}");
            }
            return Err(Interrupted(sig).into());
        }
    };

    let failed: Vec<String> = lane
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Failed)
        .map(|c| format!("{}: {}", c.id, c.error.as_deref().unwrap_or("failed")))
        .collect();
    let all_failed = !lane.cells.is_empty() && failed.len() == lane.cells.len();
    record.status = if all_failed {
        RunStatus::Failed
    } else {
        RunStatus::Complete
    };
    record.status_reason = (!failed.is_empty()).then(|| format!("{} cell(s) failed", failed.len()));
    // The images the cells really ran, whether or not runcost built them.
    for c in &lane.cells {
        if let Some((name, id)) = &c.image {
            record
                .images
                .entry(name.clone())
                .or_insert_with(|| id.clone());
        }
    }
    record.lanes.push(lane);
    run.write_record(&record)?;
    crate::report::render(&run, &record).context("render the report")?;

    // Everything the run started is gone by now; make sure of it.
    let left = engine.reap(Some(&run.id)).await?;
    if left.containers + left.networks + left.volumes > 0 {
        tracing::warn!("removed leftovers of run {}: {left}", run.id);
    }
    guard.disarm();

    if !failed.is_empty() {
        let first = failed.first().cloned().unwrap_or_default();
        let msg = format!(
            "{} of {} cell(s) failed (results kept in {}); first: {first}",
            failed.len(),
            record.lanes.iter().map(|l| l.cells.len()).sum::<usize>(),
            run.root.display()
        );
        return Err(BadInput(msg).into());
    }
    Ok(Outcome { run, record })
}

pub(crate) fn summarize_load(
    samples: &[crate::probe::sampler::Timed<hostload::HostLoad>],
    cores: usize,
) -> LoadSummary {
    let n = samples.len();
    if n == 0 {
        return LoadSummary {
            cores,
            ..Default::default()
        };
    }
    let loads: Vec<f64> = samples.iter().map(|s| s.value.load1).collect();
    let over = loads.iter().filter(|l| **l > cores as f64).count();
    LoadSummary {
        cores,
        samples: n,
        mean_load1: loads.iter().sum::<f64>() / n as f64,
        max_load1: loads.iter().cloned().fold(f64::MIN, f64::max),
        max_cpu_psi: samples
            .iter()
            .filter_map(|s| s.value.cpu_psi)
            .reduce(f64::max),
        overloaded: over * 10 > n,
    }
}

pub(crate) fn load_csv(samples: &[crate::probe::sampler::Timed<hostload::HostLoad>]) -> String {
    let mut s = String::from("t_s,load1,cpu_psi_some_avg10\n");
    for x in samples {
        s.push_str(&format!(
            "{:.3},{},{}\n",
            x.t,
            x.value.load1,
            x.value.cpu_psi.map(|v| v.to_string()).unwrap_or_default()
        ));
    }
    s
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
