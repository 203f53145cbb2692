//! Tool mode of the load lane (`--mode tool`): the service's own load tool
//! (the profile's `load.tool`) runs in its own container, in the target's
//! network namespace (it reaches the target on 127.0.0.1 as a local client
//! would, but its CPU and memory are in its own cgroup, not the target's),
//! pinned to the generator's CPU, while the cell's sampler measures the
//! target. Setup (`load.tool.setup`) runs the same way before warm-up. What
//! the tool prints is written verbatim under `cells/<id>/`; for the tools
//! runcost knows, [`parse`] reads the tool's own closed-loop figures.

pub mod parse;

use super::cell::Cell;
use crate::engine::Helper;
use crate::fs::write_atomic;
use crate::probe::sampler::Ticker;
use crate::probe::Reading;
use crate::results::tool::{ToolKind, ToolRecord, ToolSetupRecord, TOOL_LABEL};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

/// One tool run in a cell, its placeholders filled in.
#[derive(Clone, Debug)]
pub struct ToolPlan {
    pub argv: Vec<String>,
    pub setup: Option<Vec<String>>,
    /// None: the target's own image.
    pub image: Option<String>,
    pub kind: Option<ToolKind>,
    /// The tool container's CPUs (the generator's), None on one CPU.
    pub cpuset: Option<String>,
    pub timeout: Duration,
}

/// What one container run of the tool left.
struct Ran {
    exit_code: i64,
    wall_s: f64,
    stdout_file: String,
    stderr_file: String,
    stdout: String,
    stderr: String,
}

impl ToolPlan {
    fn image(&self, cell: &Cell<'_, '_>) -> String {
        self.image
            .clone()
            .unwrap_or_else(|| cell.facts.image.clone())
    }

    /// Runs `argv` to completion in a tool container, checking all the
    /// while that the target is still alive; writes its output verbatim.
    async fn run_one(
        &self,
        cell: &Cell<'_, '_>,
        argv: &[String],
        stem: &str,
        sampler: Option<&Ticker<Reading>>,
    ) -> Result<Ran> {
        let image = self.image(cell);
        let helper = Helper {
            run_id: &cell.ctx.run.id,
            cell: &cell.plan.id,
            image: &image,
            argv,
            binds: &[],
            timeout: self.timeout,
            network: Some(format!("container:{}", cell.container)),
            cpuset: self.cpuset.clone(),
        };
        let live = cell.liveness();
        let t0 = Instant::now();
        let run = cell.ctx.engine.run_helper(&helper);
        tokio::pin!(run);
        let out = loop {
            tokio::select! {
                out = &mut run => break out.with_context(|| format!("run `{}` in {image}", argv.join(" ")))?,
                _ = tokio::time::sleep(Duration::from_millis(250)), if sampler.is_some() => {
                    if let Some(s) = sampler {
                        live.check(s).await?;
                    }
                }
            }
        };
        let wall_s = t0.elapsed().as_secs_f64();
        let dir = format!("cells/{}", cell.plan.id);
        let (stdout_file, stderr_file) = (
            format!("{dir}/{stem}.stdout"),
            format!("{dir}/{stem}.stderr"),
        );
        write_atomic(&cell.ctx.run.path(&stdout_file), &out.stdout)?;
        write_atomic(&cell.ctx.run.path(&stderr_file), &out.stderr)?;
        Ok(Ran {
            exit_code: out.exit_code,
            wall_s,
            stdout_file,
            stderr_file,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The setup run before warm-up; a failed setup fails the cell.
    pub async fn setup(&self, cell: &Cell<'_, '_>) -> Result<Option<ToolSetupRecord>> {
        let Some(argv) = &self.setup else {
            return Ok(None);
        };
        let ran = self.run_one(cell, argv, "tool-setup", None).await?;
        if ran.exit_code != 0 {
            bail!(
                "`{}` (load.tool.setup) exited {}: {}",
                argv.join(" "),
                ran.exit_code,
                tail(&ran.stderr)
            );
        }
        Ok(Some(ToolSetupRecord {
            argv: argv.clone(),
            exit_code: ran.exit_code,
            wall_s: ran.wall_s,
            stdout_file: ran.stdout_file,
            stderr_file: ran.stderr_file,
        }))
    }

    /// The window: the tool's run. Returns the window's bounds on the
    /// cell's clock and the tool's record; a tool that exits non-zero is
    /// recorded and then fails the cell.
    pub async fn window(
        &self,
        cell: &Cell<'_, '_>,
        sampler: &Ticker<Reading>,
        setup: Option<ToolSetupRecord>,
    ) -> (Result<(f64, f64)>, Option<ToolRecord>) {
        let start = cell.origin.elapsed().as_secs_f64();
        let ran = match self.run_one(cell, &self.argv, "tool", Some(sampler)).await {
            Ok(r) => r,
            Err(e) => return (Err(e), None),
        };
        let end = cell.origin.elapsed().as_secs_f64();
        let record = ToolRecord {
            label: TOOL_LABEL.into(),
            argv: self.argv.clone(),
            image: self.image(cell),
            cpuset: self.cpuset.clone(),
            exit_code: ran.exit_code,
            wall_s: ran.wall_s,
            stdout_file: ran.stdout_file,
            stderr_file: ran.stderr_file,
            setup,
            kind: self.kind,
            figures: self
                .kind
                .map(|k| parse::figures(k, &ran.stdout))
                .unwrap_or_default(),
        };
        let verdict = if ran.exit_code != 0 {
            Err(anyhow::anyhow!(
                "`{}` (load.tool) exited {}: {}",
                self.argv.join(" "),
                ran.exit_code,
                tail(&ran.stderr)
            ))
        } else if record.kind.is_some() && record.figures.is_empty() {
            Err(anyhow::anyhow!(
                "`{}` printed no figures runcost could read (see {})",
                self.argv[0],
                record.stdout_file
            ))
        } else {
            Ok((start, end))
        };
        (verdict, Some(record))
    }
}

/// The last lines of a tool's stderr, for an error message.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let t = lines[lines.len().saturating_sub(3)..].join(" / ");
    if t.is_empty() {
        "(nothing on stderr)".into()
    } else {
        t
    }
}
