//! Which engine a run used and how it was reached: what run.json keeps of
//! `engine::endpoint` and the engine's own answer to `version`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The engine of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EngineRef {
    /// The URL as given (`--engine`, `DOCKER_HOST`) or the local socket.
    pub url: String,
    pub transport: EngineTransport,
    pub kind: EngineKind,
    /// Whether traffic to the target's published ports (readiness, checks,
    /// the load generator in this process) crossed a network.
    pub traffic: Traffic,
    /// What differs on this engine, detected during the run (absent in
    /// records older than it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traits: Option<EngineTraits>,
}

/// What is not the same on every engine kind: the OCI runtime, limits
/// runcost had to set, where the target's cgroup is, the compose CLI that
/// drove the engine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EngineTraits {
    /// The OCI runtime `version`'s components name (`runc`, `crun`).
    pub runtime: Option<String>,
    /// Limits set on the target's container because the engine's defaults
    /// cannot be applied here (Podman asks for more than the hard limits),
    /// as `NAME=SOFT:HARD`; empty when the engine's defaults are used.
    pub ulimits: Vec<String>,
    /// Where the first target's memory cgroup was, as this host saw it.
    pub cgroup: Option<CgroupPlacement>,
    /// The compose CLI that created the projects on this engine (`v1
    /// 1.29.2`): recorded only from a run whose targets it started.
    pub compose: String,
}

/// The target's memory cgroup seen from this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CgroupPlacement {
    /// `/proc/PID/cgroup` names the container.
    Visible {
        /// `1` (a `memory` controller line) or `2` (the `0::` line).
        version: String,
        /// The path under the controller (`/docker/ID`, `/libpod_parent/libpod-ID`).
        memory: String,
        /// Whether that directory exists under /sys/fs/cgroup here.
        mounted_here: bool,
    },
    /// The container's processes are not this host's (exec sampler).
    NotVisible { why: String },
}

impl std::fmt::Display for CgroupPlacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CgroupPlacement::Visible {
                version,
                memory,
                mounted_here,
            } => write!(
                f,
                "cgroup v{version} memory {memory} ({})",
                if *mounted_here {
                    "under /sys/fs/cgroup here"
                } else {
                    "not mounted here"
                }
            ),
            CgroupPlacement::NotVisible { .. } => f.write_str("cgroup not visible from this host"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngineTransport {
    Unix,
    Tcp,
    /// A unix socket forwarded over `ssh -L`.
    Ssh,
}

/// Whose API answered (`version`'s components).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    Docker,
    /// Podman's Docker-compatible service (`podman system service`).
    Podman,
}

/// Where the harness's traffic to the target went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Traffic {
    /// Published on 127.0.0.1 of this host: no network crossed.
    Loopback,
    /// Published on the engine's address: every request crossed a network.
    Network { address: String },
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        })
    }
}
