//! The run frame, the same for every command that measures (service lanes,
//! box lanes, selfchecks): one run directory, one guard that removes
//! everything the run started (labelled engine objects and tracked VMs of
//! this run id only) on success, error, signal and panic, host-load
//! sampling, an event log, and the race of the measurement against
//! SIGINT/SIGTERM. [`Recorded`] adds the versioned run record: written
//! `partial` first, then final, then the report.

use crate::engine::cleanup::{reap_blocking, shutdown_signal};
use crate::error::Interrupted;
use crate::events::{Event, Events};
use crate::fs::write_atomic;
use crate::probe::hostload::{self, HostLoad};
use crate::probe::sampler::{Ticker, Timed};
use crate::results::{
    HostFingerprint, LaneRecord, LoadSummary, ProfileRef, RunRecord, RunStatus, Settings, ToolInfo,
    SCHEMA_VERSION,
};
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// What the run may have started, and so what its guard removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uses {
    /// Containers, networks, volumes of the Docker engine (and maybe VMs).
    Engine,
    /// Only VMs runcost tracks itself (no engine is needed or touched).
    VmsOnly,
}

/// Removes what a run started when dropped armed: labelled engine objects
/// of this run id, and VMs recorded under this run id.
struct Reaper {
    run_id: String,
    repo_root: PathBuf,
    uses: Uses,
    armed: bool,
}

impl Reaper {
    /// Stops everything of the run still alive; how many objects.
    fn reap(&self) -> usize {
        let vms = crate::boxes::track::reap(&self.repo_root, Some(&self.run_id));
        let mut n = vms.killed;
        if self.uses == Uses::Engine {
            match reap_blocking(Some(&self.run_id)) {
                Ok(r) => n += r.containers + r.networks + r.volumes,
                Err(e) => eprintln!("runcost: cleanup of run {} failed: {e:#}", self.run_id),
            }
        }
        n
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.armed {
            self.reap();
        }
    }
}

/// Lanes' events go to the user's reporter and to `events.jsonl` in the
/// run directory (what happened when, for the user and for tests).
pub struct EventLog<'e> {
    outer: &'e dyn Events,
    file: Mutex<Option<std::fs::File>>,
    origin: Instant,
}

impl Events for EventLog<'_> {
    fn emit(&self, event: Event) {
        if let Some(f) = self.file.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let line = serde_json::json!({
                "t_s": self.origin.elapsed().as_secs_f64(),
                "event": &event,
            });
            // A full disk loses the log, never the run.
            let _ = writeln!(f, "{line}");
        }
        self.outer.emit(event);
    }
}

/// One run: its directory, its guard, host load and the event log.
pub struct Scope<'e> {
    pub run: RunDir,
    reaper: Reaper,
    load: Option<Ticker<HostLoad>>,
    pub events: EventLog<'e>,
}

impl<'e> Scope<'e> {
    /// Creates the run directory. Checks of the user's input come before
    /// this: a refusal leaves nothing behind.
    pub fn open(
        results: &Path,
        repo_root: &Path,
        uses: Uses,
        events: &'e dyn Events,
    ) -> Result<Scope<'e>> {
        let run = RunDir::create(results)?;
        let file = std::fs::File::create(run.path("events.jsonl"))
            .map_err(|e| tracing::warn!("no event log for run {}: {e}", run.id))
            .ok();
        let origin = Instant::now();
        Ok(Scope {
            reaper: Reaper {
                run_id: run.id.clone(),
                repo_root: repo_root.to_path_buf(),
                uses,
                armed: true,
            },
            run,
            load: Some(hostload::spawn(origin)),
            events: EventLog {
                outer: events,
                file: Mutex::new(file),
                origin,
            },
        })
    }

    /// Runs the measurement unless SIGINT or SIGTERM comes first; then the
    /// measurement's future is dropped (its cells' and boxes' guards run)
    /// and the signal's name is the error.
    pub async fn race<T>(
        &self,
        measure: impl std::future::Future<Output = T>,
    ) -> Result<T, &'static str> {
        tokio::select! {
            r = measure => Ok(r),
            sig = shutdown_signal() => Err(sig),
        }
    }

    /// Stops host-load sampling and keeps its samples in the run.
    fn stop_load(&mut self, cores: usize) -> LoadSummary {
        let Some(load) = self.load.take() else {
            return LoadSummary {
                cores,
                ..Default::default()
            };
        };
        let (samples, _) = load.stop();
        if let Err(e) = write_atomic(
            &self.run.path("samples/hostload.csv"),
            load_csv(&samples).as_bytes(),
        ) {
            tracing::warn!("write host load samples: {e:#}");
        }
        summarize_load(&samples, cores)
    }

    /// Removes whatever the run left (nothing, when every guard did its
    /// job) and disarms the guard.
    pub fn close(mut self) -> RunDir {
        let _ = self.stop_load(0);
        let left = self.reaper.reap();
        self.reaper.armed = false;
        if left > 0 {
            tracing::warn!("removed {left} leftover object(s) of run {}", self.run.id);
        }
        self.run
    }
}

/// What a run record says before anything is measured.
pub struct Head {
    pub tool: ToolInfo,
    pub host: HostFingerprint,
    pub profile: ProfileRef,
    pub settings: Settings,
    pub seed: u64,
    pub images: BTreeMap<String, String>,
    /// The engine and how it is reached (`None`: a run without one).
    pub engine: Option<crate::results::EngineRef>,
}

/// A run with a versioned record (`run.json`) and a report.
pub struct Recorded<'e> {
    pub scope: Scope<'e>,
    pub record: RunRecord,
}

/// The outcome a command turns into an exit code.
pub struct Outcome {
    pub run: RunDir,
    pub record: RunRecord,
}

impl<'e> Recorded<'e> {
    /// Opens the scope and writes the record `partial` (status "running").
    pub fn open(
        results: &Path,
        repo_root: &Path,
        uses: Uses,
        head: Head,
        events: &'e dyn Events,
    ) -> Result<Recorded<'e>> {
        let scope = Scope::open(results, repo_root, uses, events)?;
        let record = RunRecord {
            schema_version: SCHEMA_VERSION.into(),
            run_id: scope.run.id.clone(),
            started_at: now_rfc3339(),
            finished_at: None,
            status: RunStatus::Partial,
            status_reason: Some("running".into()),
            tool: head.tool,
            host: head.host,
            profile: head.profile,
            settings: head.settings,
            seed: head.seed,
            images: head.images,
            lanes: Vec::new(),
            host_load: LoadSummary::default(),
            suite: None,
            engine: head.engine,
        };
        scope.run.write_record(&record)?;
        scope.run.mark_latest()?;
        scope.events.emit(Event::RunStarted {
            run: scope.run.id.clone(),
            dir: scope.run.root.display().to_string(),
        });
        Ok(Recorded { scope, record })
    }

    /// The lanes' event sink.
    pub fn events(&self) -> &EventLog<'e> {
        &self.scope.events
    }

    /// Runs the measurement; on SIGINT/SIGTERM the run is reaped, kept
    /// `partial` with the reason, and the error is [`Interrupted`].
    pub async fn measure<T>(
        &self,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, &'static str> {
        self.scope.race(fut).await
    }

    /// After an interruption: everything reaped, the record kept partial.
    pub fn interrupted(mut self, sig: &'static str) -> anyhow::Error {
        self.record.host_load = self.scope.stop_load(self.record.host.cores);
        self.record.finished_at = Some(now_rfc3339());
        self.record.status = RunStatus::Partial;
        self.record.status_reason = Some(format!("interrupted by {sig}"));
        self.scope.events.emit(Event::RunFinished {
            status: RunStatus::Partial,
        });
        let write = self
            .scope
            .run
            .write_record(&self.record)
            .and_then(|()| refresh_index(&self.scope.run));
        self.scope.close();
        match write {
            Ok(()) => Interrupted(sig).into(),
            Err(e) => e.context(format!("interrupted by {sig}")),
        }
    }

    /// The final record and report; then everything of the run is reaped.
    pub fn finish(
        mut self,
        lanes: Vec<LaneRecord>,
        status: RunStatus,
        reason: Option<String>,
    ) -> Result<Outcome> {
        self.record.host_load = self.scope.stop_load(self.record.host.cores);
        self.record.finished_at = Some(now_rfc3339());
        self.record.lanes.extend(lanes);
        self.record.status = status;
        self.record.status_reason = reason;
        self.scope.events.emit(Event::RunFinished { status });
        self.scope.run.write_record(&self.record)?;
        let report = crate::report::render(&self.scope.run, &self.record)
            .context("render the report")
            .and_then(|()| refresh_index(&self.scope.run));
        let Recorded { scope, record } = self;
        let run = scope.close();
        report?;
        Ok(Outcome { run, record })
    }
}

pub(crate) fn summarize_load(samples: &[Timed<HostLoad>], cores: usize) -> LoadSummary {
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

fn load_csv(samples: &[Timed<HostLoad>]) -> String {
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

/// `results/index.html` lists the run as it now stands.
fn refresh_index(run: &RunDir) -> Result<()> {
    let results = run.root.parent().context("run dir has no parent")?;
    crate::report::index::refresh(results).context("write the results index")?;
    Ok(())
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
