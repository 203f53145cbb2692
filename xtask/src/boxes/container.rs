//! Container boxes through the Docker engine (bollard): one container of the
//! base image per box, labelled with the run so every exit path and `clean`
//! reap it by label. The box's command runs through the engine's exec API
//! with the same argv semantics as the VM agent.

use super::{BackendKind, BoxBackend, ExecOutput, Started};
use crate::engine::{labels, Engine};
use anyhow::{Context, Result};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use tokio::io::AsyncWriteExt;

pub const IMAGE: &str = "runcost/base:bookworm";

#[derive(Clone)]
pub struct ContainerBackend {
    pub engine: Engine,
    pub run_id: String,
    pub image: String,
    pub memory_mib: u32,
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
            // Dropped while it exists (error, signal race, panic): remove it
            // from a plain thread; the run's label reap is the second net.
            let id = self.id.clone();
            let _ = std::thread::spawn(move || {
                let _ = std::process::Command::new("docker")
                    .args(["rm", "-f", "-v", &id])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            })
            .join();
        }
    }
}

impl BoxBackend for ContainerBackend {
    type Handle = ContainerBox;

    fn kind(&self) -> BackendKind {
        BackendKind::Container
    }

    async fn create(&self, name: &str) -> Result<ContainerBox> {
        let labels = HashMap::from([
            (labels::RUN.to_string(), self.run_id.clone()),
            (labels::CELL.to_string(), name.to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: Some(vec!["sleep".into(), "infinity".into()]),
            cmd: Some(Vec::new()),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                // tini as PID 1 passes SIGTERM on, so `stop` is prompt.
                init: Some(true),
                memory: Some(i64::from(self.memory_mib) << 20),
                ..Default::default()
            }),
            ..Default::default()
        };
        let cname = format!("runcost-{}-{name}", self.run_id);
        let created = self
            .engine
            .docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&cname)
                        .build(),
                ),
                body,
            )
            .await
            .with_context(|| format!("create container box {cname} from {}", self.image))?;
        Ok(ContainerBox {
            name: name.to_string(),
            id: created.id,
            host_pid: None,
            live: true,
        })
    }

    async fn start(&self, b: &mut ContainerBox) -> Result<Started> {
        self.engine
            .docker
            .start_container(
                &b.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
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
        let d = &self.engine.docker;
        let exec = d
            .create_exec(
                &b.id,
                CreateExecOptions {
                    cmd: Some(argv.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    attach_stdin: Some(!stdin.is_empty()),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("box {}: exec {argv:?}", b.name))?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        if let StartExecResults::Attached {
            mut output,
            mut input,
        } = d.start_exec(&exec.id, None).await?
        {
            if !stdin.is_empty() {
                input.write_all(stdin).await?;
                input.shutdown().await?;
            }
            drop(input);
            while let Some(chunk) = output.next().await {
                match chunk? {
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.extend_from_slice(&message)
                    }
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => {
                        stdout.extend_from_slice(&message)
                    }
                    bollard::container::LogOutput::StdIn { .. } => {}
                }
            }
        }
        let code = d.inspect_exec(&exec.id).await?.exit_code.unwrap_or(-1);
        Ok(ExecOutput {
            exit_code: code as i32,
            stdout,
            stderr,
        })
    }

    async fn stop(&self, b: &mut ContainerBox) -> Result<()> {
        self.engine
            .docker
            .stop_container(
                &b.id,
                Some(StopContainerOptionsBuilder::default().t(5).build()),
            )
            .await
            .with_context(|| format!("stop container box {}", b.name))
    }

    async fn remove(&self, mut b: ContainerBox) -> Result<()> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        self.engine
            .docker
            .remove_container(&b.id, Some(opts))
            .await
            .with_context(|| format!("remove container box {}", b.name))?;
        b.live = false;
        Ok(())
    }

    /// The container's processes and its containerd shim (whose memory is
    /// per-box cost just as the VMM's is).
    fn host_pids(&self, b: &ContainerBox) -> Vec<i32> {
        let Some(root) = b.host_pid else {
            return Vec::new();
        };
        let mut pids = descendants(root);
        if let Some(shim) = parent(root) {
            let comm = std::fs::read_to_string(format!("/proc/{shim}/comm")).unwrap_or_default();
            if comm.starts_with("containerd-shim") {
                pids.push(shim);
            }
        }
        pids
    }
}

fn parent(pid: i32) -> Option<i32> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    crate::probe::parse::parse_stat(&st).ok().map(|s| s.ppid)
}

/// `pid` and all its descendants.
fn descendants(pid: i32) -> Vec<i32> {
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
