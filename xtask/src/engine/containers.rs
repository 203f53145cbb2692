//! Plain containers the harness creates itself (container boxes): create,
//! start, stop and remove by id, each labelled with the run so `clean` and
//! every reap find them.

use super::{labels, Engine};
use anyhow::{Context, Result};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder,
};
use std::collections::HashMap;

/// A container with no network (or, asked for, the host's network
/// namespace) that runs `entrypoint` under an init.
pub struct IsolatedContainer<'a> {
    /// Container name on the engine.
    pub name: &'a str,
    pub image: &'a str,
    pub entrypoint: &'a [String],
    pub run_id: &'a str,
    pub cell: &'a str,
    pub memory_bytes: u64,
    /// Memory + swap limit (the engine's `--memory-swap`); equal to
    /// `memory_bytes` the box cannot swap and really meets its OOM killer.
    /// None: the engine's default.
    pub memory_swap_bytes: Option<u64>,
    /// The engine's OCI runtime (`--runtime`); None = the engine's default.
    pub runtime: Option<&'a str>,
    /// Read and write limit on one block device, bytes/s (the engine's
    /// `--device-read-bps`/`--device-write-bps`): (device path, rate).
    pub disk_bps: Option<(&'a str, u64)>,
    /// Network mode `host` instead of `none`: the box throughput lane's
    /// TCP sink listens on the host's 127.0.0.1 (loopback only).
    pub host_network: bool,
}

fn throttle(d: Option<(&str, u64)>) -> Result<Option<Vec<bollard::models::ThrottleDevice>>> {
    d.map(|(path, bps)| {
        Ok(vec![bollard::models::ThrottleDevice {
            path: Some(path.to_string()),
            rate: Some(i64::try_from(bps).context("disk rate")?),
        }])
    })
    .transpose()
}

impl Engine {
    /// The engine's data root (`info.DockerRootDir`): where container
    /// filesystems live, so the block device a disk limit applies to.
    pub async fn root_dir(&self) -> Result<String> {
        let info = self.docker.info().await.context("engine info")?;
        info.docker_root_dir
            .context("the engine reports no DockerRootDir")
    }

    /// Creates (does not start) the container; its id.
    pub async fn create_isolated(&self, c: &IsolatedContainer<'_>) -> Result<String> {
        let labels = HashMap::from([
            (labels::RUN.to_string(), c.run_id.to_string()),
            (labels::CELL.to_string(), c.cell.to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(c.image.to_string()),
            entrypoint: Some(c.entrypoint.to_vec()),
            cmd: Some(Vec::new()),
            labels: Some(labels),
            network_disabled: Some(!c.host_network),
            host_config: Some(HostConfig {
                network_mode: Some(if c.host_network { "host" } else { "none" }.into()),
                // tini as PID 1 passes SIGTERM on, so `stop` is prompt.
                init: Some(true),
                memory: Some(i64::try_from(c.memory_bytes).context("memory limit")?),
                memory_swap: c
                    .memory_swap_bytes
                    .map(i64::try_from)
                    .transpose()
                    .context("memory + swap limit")?,
                runtime: c.runtime.map(str::to_owned),
                blkio_device_read_bps: throttle(c.disk_bps)?,
                blkio_device_write_bps: throttle(c.disk_bps)?,
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(c.name)
                        .build(),
                ),
                body,
            )
            .await
            .with_context(|| format!("create container {} from {}", c.name, c.image))?;
        Ok(created.id)
    }

    pub async fn start(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .with_context(|| format!("start container {id}"))
    }

    /// SIGTERM, then SIGKILL after `grace_s` seconds.
    pub async fn stop(&self, id: &str, grace_s: i32) -> Result<()> {
        self.docker
            .stop_container(
                id,
                Some(StopContainerOptionsBuilder::default().t(grace_s).build()),
            )
            .await
            .with_context(|| format!("stop container {id}"))
    }

    /// Removes a container, running or not, with its anonymous volumes.
    pub async fn remove(&self, id: &str) -> Result<()> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        self.docker
            .remove_container(id, Some(opts))
            .await
            .with_context(|| format!("remove container {id}"))
    }
}
