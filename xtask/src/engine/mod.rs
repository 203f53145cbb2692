//! The Docker engine: bollard for inspect/exec/kill/pause/listing, the real
//! compose CLI for project lifecycle. Only this module talks to Docker.

mod actions;
pub mod cleanup;
pub mod compose;
mod containers;
pub mod endpoint;
mod exec;
pub mod labels;
mod upload;

use crate::error::BadInput;
use anyhow::{Context, Result};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use bollard::Docker;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

pub use compose::{CellOverride, ComposeCli};
pub use containers::IsolatedContainer;
pub use exec::{ExecChunk, ExecStream};

/// A negotiated connection to the local engine.
#[derive(Clone)]
pub struct Engine {
    /// Private: every Docker call is an `Engine` method in this module.
    docker: Docker,
    pub info: EngineInfo,
    /// The OCI runtime `version`'s components name, when they name one.
    pub runtime: Option<String>,
}

/// What we record about the engine in every result.
#[derive(Clone, Debug, Serialize)]
pub struct EngineInfo {
    pub server_version: String,
    pub api_version: String,
    pub kernel: String,
    pub os: String,
    pub cgroup_version: String,
    pub cgroup_driver: String,
    pub storage_driver: String,
    pub ncpu: i64,
    pub mem_total: i64,
    /// Whose API answered (Docker or Podman's compatibility service).
    pub kind: crate::results::EngineKind,
    /// The engine host's name (`info.Name`): the fingerprint of a remote
    /// engine describes that host, not this one.
    pub hostname: String,
}

/// Facts about a running container the probes need.
#[derive(Clone, Debug)]
pub struct ContainerFacts {
    pub running: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// PID of the container's main process in the host's PID namespace.
    pub host_pid: Option<i32>,
    /// container port → host port on 127.0.0.1.
    pub published: BTreeMap<u16, u16>,
    /// Image id (content digest) and the image name the container runs.
    pub image_id: String,
    pub image: String,
}

impl Engine {
    /// Connects to the engine [`endpoint::install`] chose (the local socket
    /// by default) and negotiates the API version (bollard defaults to a
    /// newer API than the 20.10 engines here speak). An unreachable or too
    /// old engine is refused (exit 2) with the cause and the fix.
    pub async fn connect() -> Result<Engine> {
        let reach = endpoint::reach();
        let not_running = |e: &dyn std::fmt::Display| {
            if let Some(refused) = endpoint::tunnel_refusal() {
                BadInput(format!(
                    "the engine at {} is not reachable through the ssh tunnel ({e}): {refused}",
                    reach.url
                ))
            } else if reach.is_remote() {
                BadInput(format!(
                    "the engine at {} is not reachable ({e}); check that it runs and listens \
                     there (dockerd -H, `podman system service`), that nothing blocks the port, \
                     or drop --engine/DOCKER_HOST to use the local engine",
                    reach.url
                ))
            } else {
                BadInput(format!(
                    "the Docker engine is not reachable ({e}); start it with `cargo xtask setup` \
                     (or `bash scripts/setup`), then check with `cargo xtask doctor`"
                ))
            }
        };
        // DOCKER_HOST (set by `endpoint::install` for --engine) picks unix
        // or tcp; without it, the local socket.
        let docker = if std::env::var_os("DOCKER_HOST").is_some() {
            Docker::connect_with_defaults()
        } else {
            Docker::connect_with_local_defaults()
        }
        .map_err(|e| not_running(&e))?;
        let within = std::time::Duration::from_secs(15);
        let timed_out = |_| not_running(&format!("no answer within {within:?}"));
        let docker = tokio::time::timeout(within, docker.negotiate_version())
            .await
            .map_err(timed_out)?
            .map_err(|e| not_running(&e))?;
        let version = tokio::time::timeout(within, docker.version())
            .await
            .map_err(timed_out)?
            .map_err(|e| not_running(&e))?;
        let server_api = version.api_version.clone().unwrap_or_default();
        endpoint::check_api(&reach.url, &server_api).map_err(BadInput)?;
        let kind = engine_kind(&version);
        let runtime = oci_runtime(&version);
        let info = docker.info().await.context("engine info")?;
        let info = EngineInfo {
            server_version: version.version.unwrap_or_default(),
            api_version: docker.client_version().to_string(),
            kernel: info.kernel_version.unwrap_or_default(),
            os: info.operating_system.unwrap_or_default(),
            cgroup_version: info
                .cgroup_version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "1".into()),
            cgroup_driver: info
                .cgroup_driver
                .map(|v| v.to_string())
                .unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
            ncpu: info.ncpu.unwrap_or(0),
            mem_total: info.mem_total.unwrap_or(0),
            kind,
            hostname: info.name.unwrap_or_default(),
        };
        Ok(Engine {
            docker,
            info,
            runtime,
        })
    }

    /// Fails with the cause and the fix when the engine no longer answers
    /// (a remote engine that went away mid-run).
    pub async fn ping(&self) -> Result<()> {
        let within = std::time::Duration::from_secs(10);
        let url = &endpoint::reach().url;
        let gone = |why: String| {
            BadInput(format!(
                "the engine at {url} stopped answering during the run ({why}); the run is kept \
                 partial and nothing of it is reported as measured; restart the engine, then \
                 `cargo xtask clean --run ID` through it and run again"
            ))
        };
        match tokio::time::timeout(within, self.docker.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(gone(e.to_string()).into()),
            Err(_) => Err(gone(format!("no answer within {within:?}")).into()),
        }
    }

    /// The container of `service` in compose project `project`.
    pub async fn service_container(&self, project: &str, service: &str) -> Result<String> {
        let filters: HashMap<&str, Vec<String>> = HashMap::from([(
            "label",
            vec![
                format!("com.docker.compose.project={project}"),
                format!("com.docker.compose.service={service}"),
            ],
        )]);
        let list = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .with_context(|| format!("list containers of project {project}"))?;
        list.into_iter().find_map(|c| c.id).with_context(|| {
            format!("compose project {project} has no container for service `{service}`")
        })
    }

    pub async fn inspect(&self, id: &str) -> Result<ContainerFacts> {
        let c = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .with_context(|| format!("inspect container {id}"))?;
        let state = c.state.unwrap_or_default();
        let mut published = BTreeMap::new();
        let publish_ip = endpoint::publish_ip().to_string();
        let ports = c.network_settings.and_then(|n| n.ports).unwrap_or_default();
        for (key, bindings) in ports {
            let Some(cport) = key.split('/').next().and_then(|p| p.parse::<u16>().ok()) else {
                continue;
            };
            for b in bindings.unwrap_or_default() {
                // Ours are published on the engine's address (the override).
                let ours = b.host_ip.as_deref().is_some_and(|ip| ip == publish_ip);
                if let (true, Some(hp)) = (ours, b.host_port.and_then(|p| p.parse().ok())) {
                    published.insert(cport, hp);
                }
            }
        }
        Ok(ContainerFacts {
            running: state.running.unwrap_or(false),
            exit_code: state.exit_code,
            oom_killed: state.oom_killed.unwrap_or(false),
            host_pid: state.pid.filter(|p| *p > 0).map(|p| p as i32),
            published,
            image_id: c.image.unwrap_or_default(),
            image: c.config.and_then(|c| c.image).unwrap_or_default(),
        })
    }

    /// Last lines of a container's log, for error messages.
    pub async fn log_tail(&self, id: &str, lines: usize) -> String {
        use futures_util::StreamExt;
        let opts = bollard::query_parameters::LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut out = String::new();
        let mut stream = self.docker.logs(id, Some(opts));
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&chunk.to_string());
        }
        out
    }

    /// The whole log of a container (stdout and stderr interleaved), for
    /// keeping next to a tool's output.
    pub async fn logs_all(&self, id: &str) -> String {
        let (out, err) = self.logs_split(id, true, true).await;
        let mut s = String::from_utf8_lossy(&out).into_owned();
        s.push_str(&String::from_utf8_lossy(&err));
        s
    }

    /// A container's stdout and stderr, separately, as raw bytes.
    async fn logs_split(&self, id: &str, stdout: bool, stderr: bool) -> (Vec<u8>, Vec<u8>) {
        use bollard::container::LogOutput;
        use futures_util::StreamExt;
        let opts = bollard::query_parameters::LogsOptionsBuilder::default()
            .stdout(stdout)
            .stderr(stderr)
            .tail("all")
            .build();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut stream = self.docker.logs(id, Some(opts));
        while let Some(Ok(chunk)) = stream.next().await {
            match chunk {
                LogOutput::StdErr { message } => err.extend_from_slice(&message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    out.extend_from_slice(&message)
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        (out, err)
    }

    /// Sends a signal (e.g. `SIGTERM`) to a container's main process.
    pub async fn signal(&self, id: &str, signal: &str) -> Result<()> {
        let opts = bollard::query_parameters::KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(id, Some(opts))
            .await
            .with_context(|| format!("send {signal} to container {id}"))
    }

    /// Waits until a container is no longer running; its facts then, or
    /// None if it still runs after `timeout`.
    pub async fn wait_stopped(
        &self,
        id: &str,
        timeout: std::time::Duration,
    ) -> Result<Option<ContainerFacts>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let facts = self.inspect(id).await?;
            if !facts.running {
                return Ok(Some(facts));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Runs a short-lived helper container (e.g. `heaptrack_print` on a
    /// trace) to completion: labelled with the run and cell so every reap
    /// finds it, no network (unless `network` names one), removed on every path. `argv` replaces the
    /// image's entrypoint; nothing reaches a shell.
    pub async fn run_helper(&self, h: &Helper<'_>) -> Result<HelperOutput> {
        use bollard::models::{ContainerCreateBody, HostConfig};
        let labels = HashMap::from([
            (labels::RUN.to_string(), h.run_id.to_string()),
            (labels::CELL.to_string(), h.cell.to_string()),
        ]);
        let binds: Vec<String> = h
            .binds
            .iter()
            .map(|(host, target, ro)| {
                format!(
                    "{}:{target}:{}",
                    host.display(),
                    if *ro { "ro" } else { "rw" }
                )
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(h.image.to_string()),
            entrypoint: Some(h.argv.to_vec()),
            cmd: Some(Vec::new()),
            labels: Some(labels),
            network_disabled: Some(h.network.is_none()),
            host_config: Some(HostConfig {
                binds: Some(binds),
                network_mode: Some(h.network.clone().unwrap_or_else(|| "none".into())),
                cpuset_cpus: h.cpuset.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await
            .with_context(|| format!("create a helper container from {}", h.image))?;
        let id = created.id;
        let result = async {
            self.start(&id)
                .await
                .with_context(|| format!("start `{}` in {}", h.argv.join(" "), h.image))?;
            let Some(facts) = self.wait_stopped(&id, h.timeout).await? else {
                anyhow::bail!(
                    "`{}` in {} did not finish within {:?}",
                    h.argv.join(" "),
                    h.image,
                    h.timeout
                );
            };
            let (stdout, stderr) = self.logs_split(&id, true, true).await;
            Ok(HelperOutput {
                exit_code: facts.exit_code.unwrap_or(-1),
                stdout,
                stderr,
            })
        }
        .await;
        if let Err(e) = self.remove(&id).await {
            tracing::warn!("helper container: {e:#}");
        }
        result
    }

    /// Removes every container, network and volume carrying our run label
    /// (any run when `run_id` is None). Containers first: networks and
    /// volumes in use cannot go.
    pub async fn reap(&self, run_id: Option<&str>) -> Result<ReapReport> {
        let label = match run_id {
            Some(id) => format!("{}={id}", labels::RUN),
            None => labels::RUN.to_string(),
        };
        let filters: HashMap<&str, Vec<String>> = HashMap::from([("label", vec![label])]);
        let mut report = ReapReport::default();
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .context("list labelled containers")?;
        for c in containers {
            let Some(id) = c.id else { continue };
            match self.remove(&id).await {
                Ok(()) => report.containers += 1,
                Err(e) => report.errors.push(format!("{e:#}")),
            }
        }
        let networks = self
            .docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .context("list labelled networks")?;
        for n in networks {
            let Some(id) = n.id else { continue };
            match self.docker.remove_network(&id).await {
                Ok(()) => report.networks += 1,
                Err(e) => report.errors.push(format!("network {id}: {e}")),
            }
        }
        let volumes = self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .context("list labelled volumes")?;
        for v in volumes.volumes.unwrap_or_default() {
            let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
            match self.docker.remove_volume(&v.name, Some(opts)).await {
                Ok(()) => report.volumes += 1,
                Err(e) => report.errors.push(format!("volume {}: {e}", v.name)),
            }
        }
        Ok(report)
    }

    /// Counts objects carrying our label (for `doctor`, tests and `clean`).
    pub async fn count_labelled(&self, run_id: Option<&str>) -> Result<(usize, usize, usize)> {
        let label = match run_id {
            Some(id) => format!("{}={id}", labels::RUN),
            None => labels::RUN.to_string(),
        };
        let filters: HashMap<&str, Vec<String>> = HashMap::from([("label", vec![label])]);
        let c = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?
            .len();
        let n = self
            .docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await?
            .len();
        let v = self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await?
            .volumes
            .unwrap_or_default()
            .len();
        Ok((c, n, v))
    }

    /// Image id (content digest) of a local image, for results.
    pub async fn image_id(&self, image: &str) -> Option<String> {
        self.docker
            .inspect_image(image)
            .await
            .ok()
            .and_then(|i| i.id)
    }
}

/// Podman's compatibility API names itself in `version`'s components.
fn engine_kind(v: &bollard::models::SystemVersion) -> crate::results::EngineKind {
    let podman = v
        .components
        .iter()
        .flatten()
        .any(|c| c.name.to_ascii_lowercase().contains("podman"));
    if podman {
        crate::results::EngineKind::Podman
    } else {
        crate::results::EngineKind::Docker
    }
}

/// The OCI runtime among `version`'s components: Podman names it
/// `OCI Runtime (runc)`, Docker lists a `runc` component.
fn oci_runtime(v: &bollard::models::SystemVersion) -> Option<String> {
    v.components.iter().flatten().find_map(|c| {
        let name = c.name.trim();
        if let Some(rest) = name.strip_prefix("OCI Runtime (") {
            return Some(rest.trim_end_matches(')').to_string());
        }
        ["runc", "crun", "runsc"]
            .contains(&name)
            .then(|| name.to_string())
    })
}

/// A resource limit set on the target's container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ulimit {
    /// Compose's name (`nofile`, `nproc`).
    pub name: &'static str,
    pub value: u64,
}

impl std::fmt::Display for Ulimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}:{}", self.name, self.value, self.value)
    }
}

/// Podman's ceilings: rootful Podman asks the runtime for nofile 1048576
/// whatever the host allows, and keeps nproc 32768 for itself, so a
/// container may not have more.
const PODMAN_NOFILE: u64 = 1_048_576;
const PODMAN_NPROC: u64 = 32_768;

/// The limits to set on a target so that the engine can start it. Docker's
/// containers inherit dockerd's limits: none. Podman asks runc for more
/// than a sandbox's hard limits (runc then fails with "error setting
/// rlimit type 7: operation not permitted"), so it gets this process's hard
/// limits, capped at Podman's own: the same limits a Docker container gets
/// from a dockerd started here. `hard(resource)` reads a hard limit.
pub fn target_ulimits(
    kind: crate::results::EngineKind,
    hard: impl Fn(nix::sys::resource::Resource) -> Option<u64>,
) -> Vec<Ulimit> {
    use nix::sys::resource::Resource;
    if kind != crate::results::EngineKind::Podman {
        return Vec::new();
    }
    [
        ("nofile", Resource::RLIMIT_NOFILE, PODMAN_NOFILE),
        ("nproc", Resource::RLIMIT_NPROC, PODMAN_NPROC),
    ]
    .into_iter()
    .map(|(name, res, cap)| Ulimit {
        name,
        value: hard(res).map_or(cap, |h| h.min(cap)),
    })
    .collect()
}

/// This process's hard limit of `res` (None: unlimited or unreadable).
pub fn hard_limit(res: nix::sys::resource::Resource) -> Option<u64> {
    nix::sys::resource::getrlimit(res)
        .ok()
        .map(|(_, hard)| hard)
        .filter(|h| *h != nix::sys::resource::RLIM_INFINITY)
}

impl Engine {
    /// [`target_ulimits`] for this engine, from this process's limits.
    pub fn target_ulimits(&self) -> Vec<Ulimit> {
        target_ulimits(self.info.kind, hard_limit)
    }
}

/// A helper container to run to completion.
pub struct Helper<'a> {
    pub run_id: &'a str,
    pub cell: &'a str,
    pub image: &'a str,
    pub argv: &'a [String],
    /// (host path, container path, read-only)
    pub binds: &'a [(std::path::PathBuf, String, bool)],
    pub timeout: std::time::Duration,
    /// Join this network mode (e.g. `container:<id>`, a target's namespace)
    /// instead of none.
    pub network: Option<String>,
    /// CPUs the helper may use (e.g. "0").
    pub cpuset: Option<String>,
}

/// What a helper container printed and how it exited.
pub struct HelperOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::EngineKind;
    use nix::sys::resource::Resource;

    #[test]
    fn podman_gets_the_hard_limits_here_capped_at_its_own_and_docker_none() {
        let sandbox = |r: Resource| match r {
            Resource::RLIMIT_NOFILE => Some(20_000),
            _ => Some(96_363),
        };
        assert!(target_ulimits(EngineKind::Docker, sandbox).is_empty());
        let set: Vec<String> = target_ulimits(EngineKind::Podman, sandbox)
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(set, ["nofile=20000:20000", "nproc=32768:32768"]);
        let unlimited = target_ulimits(EngineKind::Podman, |_| None);
        assert_eq!(unlimited[0].value, PODMAN_NOFILE);
        assert_eq!(unlimited[1].value, PODMAN_NPROC);
    }

    #[test]
    fn the_oci_runtime_is_read_from_either_engines_components() {
        let comp = |name: &str| bollard::models::SystemVersionComponents {
            name: name.into(),
            version: "1".into(),
            details: None,
        };
        let podman = bollard::models::SystemVersion {
            components: Some(vec![
                comp("Podman Engine"),
                comp("Conmon"),
                comp("OCI Runtime (runc)"),
            ]),
            ..Default::default()
        };
        assert_eq!(oci_runtime(&podman).as_deref(), Some("runc"));
        assert_eq!(engine_kind(&podman), EngineKind::Podman);
        let docker = bollard::models::SystemVersion {
            components: Some(vec![comp("Engine"), comp("containerd"), comp("runc")]),
            ..Default::default()
        };
        assert_eq!(oci_runtime(&docker).as_deref(), Some("runc"));
        assert_eq!(engine_kind(&docker), EngineKind::Docker);
    }
}

#[derive(Debug, Default, Serialize)]
pub struct ReapReport {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
    pub errors: Vec<String>,
}

impl std::fmt::Display for ReapReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed {} container(s), {} network(s), {} volume(s)",
            self.containers, self.networks, self.volumes
        )?;
        if !self.errors.is_empty() {
            write!(
                f,
                "; {} error(s): {}",
                self.errors.len(),
                self.errors.join("; ")
            )?;
        }
        Ok(())
    }
}
