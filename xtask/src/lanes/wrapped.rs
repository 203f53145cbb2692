//! A cell whose target runs under a tool (heaptrack, valgrind): the
//! generated override swaps in the profile's `wrap.image`, replaces the
//! entrypoint with the tool's argv followed by `wrap.argv` (a vector, never a
//! shell line) and bind-mounts the cell's `out/` directory, where the tool
//! writes. The target is stopped with SIGTERM, sent to the target process
//! itself (a tool's launcher script may be PID 1 and would ignore it), and
//! given `wrap.stop_grace` to exit so destructors run and the tool writes its
//! final report. A target that dies any other way is reported as crashed.
//! The tool's output and the container's log stay in the run directory on
//! every path.

use super::cell::{self, Body, Cell, CellPlan, Measured};
use super::churn;
use super::{analysis, LaneCtx};
use crate::engine::cleanup::Project;
use crate::engine::CellOverride;
use crate::events::Event;
use crate::fs::write_atomic;
use crate::probe::sampler::spawn_probe;
use crate::results::leaks::TargetExit;
use crate::results::CellStatus;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the tool writes, inside the container.
pub const OUT: &str = "/runcost-out";
/// Where the profile's suppression files are mounted.
pub const SUPP: &str = "/runcost-supp";

/// The tool around the target.
pub struct Wrapping {
    /// "heaptrack" or "valgrind", for messages.
    pub tool: &'static str,
    /// The tool's argv followed by the target's.
    pub argv: Vec<String>,
    /// Extra read-only mounts (host directory, container path).
    pub mounts: Vec<(PathBuf, String)>,
}

/// One cell: the target with or without a tool, for a fixed time.
pub struct ToolCell {
    pub id: String,
    pub params: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    /// None: the plain target (its own image and entrypoint).
    pub wrap: Option<Wrapping>,
    /// How long the target runs after readiness before it is stopped.
    pub duration: Duration,
    /// Churn cycles (profile `churn:`) at the start of the run.
    pub cycles: u32,
    /// Sample these processes (by comm; empty: the container's main
    /// process); None: no sampling.
    pub sample: Option<Vec<String>>,
}

/// A finished tool cell.
pub struct ToolRun {
    pub measured: Measured,
    /// How the target exited after SIGTERM (None if it never got there).
    pub exit: Option<TargetExit>,
    /// The cell's output directory (absolute) and its path in the run dir.
    pub out_dir: PathBuf,
    pub out_rel: String,
    /// The container's log, relative to the run dir, when it was saved.
    pub log_rel: Option<String>,
}

pub async fn run_cell(ctx: &LaneCtx<'_>, tc: &ToolCell, index: usize, of: usize) -> ToolRun {
    let plan = CellPlan {
        id: tc.id.clone(),
        repeat: 0,
        params: tc.params.clone(),
        env: tc.env.clone(),
        verify: Vec::new(),
        load: None,
        cpuset: None,
        populate: super::cell::default_populate(ctx.profile),
    };
    let out_rel = format!("cells/{}/out", tc.id);
    let mut body = Wrapped {
        tc,
        out_dir: ctx.run.path(&out_rel),
        abs_out: PathBuf::new(),
        image: ctx.profile.spec.wrap.as_ref().map(|w| w.image.clone()),
        // Under a tool the target starts much slower: its own ready timeout.
        ready_timeout: match (&tc.wrap, &ctx.profile.spec.wrap) {
            (Some(_), Some(w)) => Some(w.ready_timeout.0),
            _ => None,
        },
        started: false,
        log_rel: None,
        log_shown: None,
    };
    let run = cell::run(ctx, &plan, &mut body, index, of).await;
    ToolRun {
        measured: run.measured,
        exit: run.output,
        out_dir: body.out_dir,
        out_rel,
        log_rel: body.log_rel,
    }
}

/// The body of a tool cell: run for a fixed time (with churn cycles
/// first, if asked), then SIGTERM and wait for the tool's report.
struct Wrapped<'t> {
    tc: &'t ToolCell,
    out_dir: PathBuf,
    /// `out_dir` resolved, for the bind mount.
    abs_out: PathBuf,
    image: Option<String>,
    ready_timeout: Option<Duration>,
    /// Whether the target became ready (start failures are explained apart).
    started: bool,
    log_rel: Option<String>,
    log_shown: Option<PathBuf>,
}

impl Body for Wrapped<'_> {
    type Output = TargetExit;

    fn prepare(&mut self, _ctx: &LaneCtx<'_>) -> Result<()> {
        std::fs::create_dir_all(&self.out_dir)
            .with_context(|| format!("create {}", self.out_dir.display()))?;
        self.abs_out = self
            .out_dir
            .canonicalize()
            .with_context(|| format!("resolve {}", self.out_dir.display()))?;
        Ok(())
    }

    fn adjust(&self, ov: &mut CellOverride) {
        if let Some(w) = &self.tc.wrap {
            ov.image = self.image.clone();
            ov.entrypoint = Some(w.argv.clone());
            ov.binds
                .push((self.abs_out.clone(), OUT.to_string(), false));
            for (host, target) in &w.mounts {
                ov.binds.push((host.clone(), target.clone(), true));
            }
        }
    }

    fn ready_timeout(&self) -> Option<Duration> {
        self.ready_timeout
    }

    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<TargetExit> {
        self.started = true;
        drive(cell, self.tc).await
    }

    /// The container's log is kept on every path, also when the target
    /// exited before it was ready.
    async fn before_down(&mut self, ctx: &LaneCtx<'_>, project: &Project) {
        let service = &ctx.profile.spec.service;
        let Ok(id) = ctx.engine.service_container(&project.name, service).await else {
            return;
        };
        let rel = format!("cells/{}/container.log", self.tc.id);
        let text = ctx.engine.logs_all(&id).await;
        if write_atomic(&ctx.run.path(&rel), text.as_bytes()).is_ok() {
            self.log_shown = Some(ctx.run.path(&rel));
            self.log_rel = Some(rel);
        }
    }

    /// The cause first, then where to look.
    fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        let e = if self.started {
            e
        } else {
            explain_start_failure(e, self.tc)
        };
        let Some(w) = &self.tc.wrap else { return e };
        let mut kept = Vec::new();
        let wrote = std::fs::read_dir(&self.out_dir).is_ok_and(|mut d| d.next().is_some());
        if wrote {
            kept.push(format!(
                "{}'s output is kept in {}",
                w.tool,
                self.out_dir.display()
            ));
        }
        if let Some(log) = &self.log_shown {
            kept.push(format!("the container's log in {}", log.display()));
        }
        if kept.is_empty() {
            e
        } else {
            anyhow::anyhow!("{e:#}\n({})", kept.join("; "))
        }
    }
}

/// Measurement: sample (if asked) for the fixed duration, then stop the
/// target and read how it exited.
async fn drive(cell: &mut Cell<'_, '_>, tc: &ToolCell) -> Result<TargetExit> {
    let ctx = cell.ctx;
    let id = cell.container.clone();
    let host_pid = cell.target(Vec::new())?.host_pid;
    let sampler = match &tc.sample {
        Some(process) => {
            let probe = super::cell::open_probe(ctx, &cell.target(process.clone())?).await?;
            Some(spawn_probe(probe, ctx.opts.rate_hz, cell.origin))
        }
        None => None,
    };
    cell.measuring(tc.duration.as_secs_f64());
    let w0 = cell.origin.elapsed().as_secs_f64();
    let until = Instant::now() + tc.duration;
    if tc.cycles > 0 {
        let spec = ctx
            .profile
            .spec
            .churn
            .as_ref()
            .context("--cycles needs a `churn:` section in the profile")?;
        let mut churner = churn::Churner::new(ctx.engine, &id, &cell.facts, spec)?;
        for k in 0..tc.cycles {
            if let Err(e) = churner.cycle(spec).await {
                still_running(ctx, &id, tc).await?;
                return Err(e.context(format!("churn cycle {}", k + 1)));
            }
        }
    }
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250).min(until - Instant::now())).await;
        still_running(ctx, &id, tc).await?;
    }
    let w1 = cell.origin.elapsed().as_secs_f64();

    // Stop: SIGTERM to the target, then wait for the tool to finish.
    let grace = match (&tc.wrap, &ctx.profile.spec.wrap) {
        (Some(_), Some(w)) => w.stop_grace.0,
        _ => ctx.opts.stop_grace,
    };
    if let Some(w) = &tc.wrap {
        ctx.events.emit(Event::Note(format!(
            "{}: SIGTERM sent; waiting up to {grace:?} for the target to exit and {} to write its report",
            tc.id, w.tool
        )));
    }
    let sent = Instant::now();
    terminate(ctx, &id, host_pid, tc).await?;
    let facts = ctx.engine.wait_stopped(&id, grace).await?;
    let stop_s = sent.elapsed().as_secs_f64();
    if let Some(s) = sampler {
        let (samples, stats) = s.stop();
        let window: Vec<_> = samples
            .iter()
            .filter(|s| s.t >= w0 && s.t <= w1)
            .copied()
            .collect();
        if window.len() >= 3 {
            cell.record.metrics = analysis::cell_metrics(&window);
        }
        cell.record.sampler = Some(stats);
        *cell.samples = samples;
    }
    cell.record.window = Some((w0, w1));
    let Some(facts) = facts else {
        bail!(
            "the target did not exit within {grace:?} after SIGTERM{}; its report is incomplete. \
             Raise `wrap.stop_grace` in the profile, or make the target exit on SIGTERM",
            tc.wrap
                .as_ref()
                .map(|w| format!(" under {}", w.tool))
                .unwrap_or_default()
        );
    };
    let code = facts.exit_code.unwrap_or(-1);
    let how = match code {
        _ if facts.oom_killed => format!("OOM-killed (exit code {code})"),
        0 => "exited 0 after SIGTERM".to_string(),
        143 => "terminated by SIGTERM (no handler: destructors did not run)".to_string(),
        c if c > 128 && c < 128 + 65 => {
            format!("killed by {} (exit code {c})", signal_name(c - 128))
        }
        c => format!("exited with code {c} after SIGTERM"),
    };
    if facts.oom_killed || !(code == 0 || code == 143) {
        let tail = ctx.engine.log_tail(&id, 20).await;
        bail!(
            "the target crashed{}: {how}; last log lines:\n{}",
            tc.wrap
                .as_ref()
                .map(|w| format!(" under {}", w.tool))
                .unwrap_or_default(),
            tail.trim_end()
        );
    }
    cell.record.status = CellStatus::Ok;
    Ok(TargetExit {
        exit_code: code,
        stop_s,
        how,
    })
}

/// Fails when the container has exited before we stopped it: a crash.
async fn still_running(ctx: &LaneCtx<'_>, id: &str, tc: &ToolCell) -> Result<()> {
    let facts = ctx.engine.inspect(id).await?;
    if facts.running {
        return Ok(());
    }
    let code = facts.exit_code.unwrap_or(-1);
    let how = if facts.oom_killed {
        "OOM-killed".to_string()
    } else if code > 128 && code < 128 + 65 {
        format!("killed by {}", signal_name(code - 128))
    } else {
        format!("exited with code {code}")
    };
    let tail = ctx.engine.log_tail(id, 20).await;
    bail!(
        "the target crashed{} before it was stopped: {how} (exit code {code}); last log lines:\n{}",
        tc.wrap
            .as_ref()
            .map(|w| format!(" under {}", w.tool))
            .unwrap_or_default(),
        tail.trim_end()
    )
}

/// SIGTERM to the processes named by the profile's `process:` (under
/// heaptrack the target is a child of the launcher script), else to the
/// container's main process (valgrind runs the target in its own process).
/// Without a view of the host's /proc, the engine signals the main process.
async fn terminate(ctx: &LaneCtx<'_>, id: &str, host_pid: i32, tc: &ToolCell) -> Result<()> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let pids = crate::probe::host::find_processes(host_pid, &ctx.profile.process_names())
        .unwrap_or_else(|_| vec![host_pid]);
    let mut sent = false;
    for pid in pids {
        match kill(Pid::from_raw(pid), Signal::SIGTERM) {
            Ok(()) => sent = true,
            Err(e) => tracing::debug!("{}: SIGTERM to pid {pid}: {e}", tc.id),
        }
    }
    if !sent {
        ctx.engine.signal(id, "SIGTERM").await?;
    }
    Ok(())
}

/// A missing tool shows up as a failed `up`; say what to do.
fn explain_start_failure(e: anyhow::Error, tc: &ToolCell) -> anyhow::Error {
    let msg = format!("{e:#}");
    match &tc.wrap {
        Some(w) if msg.contains("executable file not found") || msg.contains("no such file or directory") => {
            let first = w.argv.first().map(String::as_str).unwrap_or("");
            e.context(format!(
                "`{first}` is not in the image: install {} in `wrap.image` (e.g. `apt-get install -y --no-install-recommends heaptrack valgrind` in its Dockerfile) and run `cargo xtask setup`",
                w.tool
            ))
        }
        Some(w) if msg.contains("exited before it was ready") => e.context(format!(
            "the target did not start under {}: check `wrap.argv` in the profile (it must be the target's command inside the image)",
            w.tool
        )),
        _ => e,
    }
}

fn signal_name(n: i64) -> String {
    let name = match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return format!("signal {n}"),
    };
    name.to_string()
}
