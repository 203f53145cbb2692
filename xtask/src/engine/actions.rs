//! Engine actions the fault lane injects through bollard.

use super::Engine;
use anyhow::{Context, Result};
use bollard::query_parameters::{KillContainerOptionsBuilder, RestartContainerOptionsBuilder};

impl Engine {
    pub async fn pause(&self, id: &str) -> Result<()> {
        self.docker
            .pause_container(id)
            .await
            .with_context(|| format!("pause {id}"))
    }

    pub async fn unpause(&self, id: &str) -> Result<()> {
        self.docker
            .unpause_container(id)
            .await
            .with_context(|| format!("unpause {id}"))
    }

    pub async fn restart(&self, id: &str, grace_s: i32) -> Result<()> {
        let opts = RestartContainerOptionsBuilder::default().t(grace_s).build();
        self.docker
            .restart_container(id, Some(opts))
            .await
            .with_context(|| format!("restart {id}"))
    }

    pub async fn kill(&self, id: &str, signal: &str) -> Result<()> {
        let opts = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(id, Some(opts))
            .await
            .with_context(|| format!("kill {id}"))
    }

    /// Networks the container is attached to.
    pub async fn networks_of(&self, id: &str) -> Result<Vec<String>> {
        let c = self
            .docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await?;
        Ok(c.network_settings
            .and_then(|n| n.networks)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default())
    }

    pub async fn disconnect(&self, id: &str, network: &str) -> Result<()> {
        let req = bollard::models::NetworkDisconnectRequest {
            container: id.to_string(),
            force: Some(true),
        };
        self.docker
            .disconnect_network(network, req)
            .await
            .with_context(|| format!("disconnect {id} from {network}"))
    }

    pub async fn reconnect(&self, id: &str, network: &str) -> Result<()> {
        let req = bollard::models::NetworkConnectRequest {
            container: id.to_string(),
            ..Default::default()
        };
        self.docker
            .connect_network(network, req)
            .await
            .with_context(|| format!("connect {id} to {network}"))
    }
}
