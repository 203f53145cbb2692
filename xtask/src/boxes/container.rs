//! Container boxes through the Docker engine: one container of the
//! base image per box, labelled with the run so every exit path and `clean`
//! reap it by label. The box's command runs through the engine's exec API
//! with the same argv semantics as the VM agent.

use super::{BackendKind, BoxBackend, ExecOutput, Started};
use crate::engine::{cleanup, Engine, IsolatedContainer};
use anyhow::{Context, Result};
use std::collections::HashMap;

pub const IMAGE: &str = "runcost/base:bookworm";

#[derive(Clone)]
pub struct ContainerBackend {
    pub engine: Engine,
    pub run_id: String,
    pub image: String,
    pub memory_mib: u32,
    /// The engine's runtime (`--runtime`); None = the engine's default.
    pub runtime: Option<String>,
}

pub struct ContainerBox {
    name: String,
    id: String,
    host_pid: Option<i32>,
    live: bool,
}

impl Drop for ContainerBox {
    fn drop(&mut self) {
        if self.live {
            // Dropped while it exists (error, signal race, panic).
            cleanup::remove_container_blocking(&self.id);
        }
    }
}

impl BoxBackend for ContainerBackend {
    type Handle = ContainerBox;

    fn kind(&self) -> BackendKind {
        BackendKind::Container
    }

    async fn create(&self, name: &str) -> Result<ContainerBox> {
        let cname = format!("runcost-{}-{name}", self.run_id);
        let id = self
            .engine
            .create_isolated(&IsolatedContainer {
                name: &cname,
                image: &self.image,
                entrypoint: &["sleep".into(), "infinity".into()],
                run_id: &self.run_id,
                cell: name,
                memory_bytes: u64::from(self.memory_mib) << 20,
                runtime: self.runtime.as_deref(),
            })
            .await
            .with_context(|| format!("create container box {cname}"))?;
        Ok(ContainerBox {
            name: name.to_string(),
            id,
            host_pid: None,
            live: true,
        })
    }

    async fn start(&self, b: &mut ContainerBox) -> Result<Started> {
        self.engine
            .start(&b.id)
            .await
            .with_context(|| format!("start container box {}", b.name))?;
        b.host_pid = self.engine.inspect(&b.id).await?.host_pid;
        Ok(Started::default())
    }

    async fn exec(
        &self,
        b: &mut ContainerBox,
        argv: &[String],
        stdin: &[u8],
    ) -> Result<ExecOutput> {
        let r = self
            .engine
            .exec_with_stdin(&b.id, argv, stdin)
            .await
            .with_context(|| format!("box {}: exec {argv:?}", b.name))?;
        Ok(ExecOutput {
            exit_code: r.exit_code as i32,
            stdout: r.stdout,
            stderr: r.stderr,
        })
    }

    async fn stop(&self, b: &mut ContainerBox) -> Result<()> {
        self.engine
            .stop(&b.id, 5)
            .await
            .with_context(|| format!("stop container box {}", b.name))
    }

    async fn remove(&self, mut b: ContainerBox) -> Result<()> {
        self.engine
            .remove(&b.id)
            .await
            .with_context(|| format!("remove container box {}", b.name))?;
        b.live = false;
        Ok(())
    }

    /// The engine's exec API runs each exec as its own process in the
    /// container: the `n` execs really run at once.
    async fn exec_at_once(
        &self,
        b: &mut ContainerBox,
        argv: &[String],
        n: usize,
    ) -> (
        crate::results::boxaxes::ParallelMode,
        Vec<Result<(ExecOutput, std::time::Duration)>>,
    ) {
        let t = std::time::Instant::now();
        let b = &*b;
        let one = || async move {
            let r = self.exec_shared(b, argv).await;
            r.map(|o| (o, t.elapsed()))
        };
        let all = futures_util::future::join_all((0..n).map(|_| one())).await;
        (crate::results::boxaxes::ParallelMode::Concurrent, all)
    }

    /// The container's containerd shim and everything under it (the
    /// container's processes; for gVisor also the sandbox and the gofer,
    /// which are the shim's children beside the container's init): all of
    /// it is per-box cost just as the VMM is.
    fn host_pids(&self, b: &ContainerBox) -> Vec<i32> {
        let Some(root) = b.host_pid else {
            return Vec::new();
        };
        if let Some(shim) = parent(root) {
            let comm = std::fs::read_to_string(format!("/proc/{shim}/comm")).unwrap_or_default();
            if comm.starts_with("containerd-shim") {
                return descendants(shim);
            }
        }
        descendants(root)
    }
}

impl ContainerBackend {
    async fn exec_shared(&self, b: &ContainerBox, argv: &[String]) -> Result<ExecOutput> {
        let r = self
            .engine
            .exec_with_stdin(&b.id, argv, &[])
            .await
            .with_context(|| format!("box {}: exec {argv:?}", b.name))?;
        Ok(ExecOutput {
            exit_code: r.exit_code as i32,
            stdout: r.stdout,
            stderr: r.stderr,
        })
    }
}

fn parent(pid: i32) -> Option<i32> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    crate::probe::parse::parse_stat(&st).ok().map(|s| s.ppid)
}

/// `pid` and all its descendants.
pub(crate) fn descendants(pid: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(d) = std::fs::read_dir("/proc") {
        for e in d.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(pp) = parent(p) {
                children.entry(pp).or_default().push(p);
            }
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        out.push(p);
        if let Some(k) = children.get(&p) {
            stack.extend(k);
        }
    }
    out
}
