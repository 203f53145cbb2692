//! Teardown on every exit path. A compose project is brought `down -v` by
//! its owner on success; if the owner is dropped first (error, panic,
//! cancellation by a signal) the guard's `Drop` does it synchronously. As a
//! second net, [`RunGuard`] removes whatever still carries the run's label.

use super::ComposeCli;
use anyhow::Result;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// One compose project instance (a cell). Created before `up`, so that a
/// signal arriving mid-`up` still leads to `down`.
pub struct Project {
    pub name: String,
    pub files: Vec<PathBuf>,
    compose: ComposeCli,
    /// Grace period `down` gives containers between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    downed: bool,
}

impl Project {
    pub fn new(compose: ComposeCli, name: String, files: Vec<PathBuf>) -> Project {
        Project {
            name,
            files,
            compose,
            stop_grace: Duration::from_secs(10),
            downed: false,
        }
    }

    pub async fn up(&self, timeout: Duration) -> Result<()> {
        // --no-build: images come from `setup`; a build here would be timed
        // as part of the cell.
        self.compose
            .run(
                &self.name,
                &self.files,
                &["up", "-d", "--no-build"],
                timeout,
            )
            .await?;
        Ok(())
    }

    pub async fn down(mut self) -> Result<()> {
        let grace = self.stop_grace.as_secs().max(1).to_string();
        let timeout = self.stop_grace + Duration::from_secs(60);
        let r = self
            .compose
            .run(
                &self.name,
                &self.files,
                &["down", "-v", "--remove-orphans", "-t", &grace],
                timeout,
            )
            .await;
        self.downed = r.is_ok();
        r.map(|_| ())
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if self.downed {
            return;
        }
        tracing::debug!(project = %self.name, "tearing down from drop guard");
        let _ = self
            .compose
            .command_blocking(
                &self.name,
                &self.files,
                &["down", "-v", "--remove-orphans", "-t", "2"],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Reaps labelled objects from synchronous code (drop paths, even inside a
/// runtime): a fresh thread with its own runtime.
pub fn reap_blocking(run_id: Option<&str>) -> Result<super::ReapReport> {
    let run_id = run_id.map(str::to_owned);
    std::thread::spawn(move || -> Result<super::ReapReport> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let engine = super::Engine::connect().await?;
            engine.reap(run_id.as_deref()).await
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("cleanup thread panicked"))?
}

/// Removes one container from synchronous code (a guard's `Drop`, even
/// inside a runtime): the docker CLI on a plain thread, errors ignored —
/// the run's label reap is the second net.
pub fn remove_container_blocking(id: &str) {
    let id = id.to_string();
    let _ = std::thread::spawn(move || {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", "-v", &id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    })
    .join();
}

/// Resolves when SIGINT or SIGTERM arrives, naming it.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without handlers the default action (terminate) applies; `clean` reaps.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
