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
