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

    /// Runs a profile's command in the container and returns its stdout; a
    /// non-zero exit is an error naming `what`, the command, its exit code
    /// and its stderr.
    pub async fn exec_ok(&self, id: &str, what: &str, argv: &[String]) -> Result<String> {
        let (code, out, err) = self
            .exec(id, argv)
            .await
            .with_context(|| format!("{what}: exec {argv:?}"))?;
        if code != 0 {
            // The engine reports a command it cannot start on stdout.
            let said = match (err.trim(), out.trim()) {
                ("", "") => "stderr: (empty)".to_string(),
                ("", out) => format!("stderr: (empty); stdout: {out}"),
                (err, _) => format!("stderr: {err}"),
            };
            anyhow::bail!("{what}: {argv:?} exited {code}; {said}");
        }
        Ok(out)
    }

    /// Runs argv in the container; returns exit code, stdout and stderr.
    pub async fn exec(&self, id: &str, argv: &[String]) -> Result<(i64, String, String)> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        use futures_util::StreamExt;
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(argv.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("exec {argv:?} in {id}"))?;
        let (mut out, mut err) = (String::new(), String::new());
        if let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&exec.id, None).await?
        {
            while let Some(chunk) = output.next().await {
                match chunk? {
                    bollard::container::LogOutput::StdErr { message } => {
                        err.push_str(&String::from_utf8_lossy(&message))
                    }
                    other => out.push_str(&other.to_string()),
                }
            }
        }
        let code = self
            .docker
            .inspect_exec(&exec.id)
            .await?
            .exit_code
            .unwrap_or(-1);
        Ok((code, out, err))
    }
}
