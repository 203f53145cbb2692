//! Commands in running containers through the engine's exec API: run to
//! completion (`exec`, `exec_ok`, `exec_with_stdin`) or keep one open as a
//! stream (`exec_stream`, the exec-stream probe's shell loop). Output comes
//! back as plain bytes tagged by stream, so callers never see bollard.

use super::Engine;
use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// One chunk of an exec's output.
#[derive(Debug)]
pub enum ExecChunk {
    /// stdout, or the console of an exec with a TTY.
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// A running exec with stdin and output attached.
pub struct ExecStream {
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
    pub output: Pin<Box<dyn Stream<Item = Result<ExecChunk>> + Send>>,
}

/// How an exec run to completion ended and what it printed.
#[derive(Debug, Default)]
pub struct ExecResult {
    /// -1 when the engine reports no exit code.
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// stdin echoes carry nothing the caller asked for.
fn chunk(o: LogOutput) -> Option<ExecChunk> {
    match o {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some(ExecChunk::Stdout(message.to_vec()))
        }
        LogOutput::StdErr { message } => Some(ExecChunk::Stderr(message.to_vec())),
        LogOutput::StdIn { .. } => None,
    }
}

impl Engine {
    /// Creates and starts an exec of `argv` in container `id`, attached.
    /// None when the engine started it detached.
    async fn start_attached(
        &self,
        id: &str,
        argv: &[String],
        stdin: bool,
    ) -> Result<(String, Option<ExecStream>)> {
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(argv.to_vec()),
                    attach_stdin: Some(stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("create exec {argv:?} in {id}"))?;
        let started = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .with_context(|| format!("start exec {argv:?} in {id}"))?;
        let stream = match started {
            StartExecResults::Attached { output, input } => Some(ExecStream {
                input,
                output: Box::pin(output.filter_map(|r| async move {
                    match r {
                        Ok(o) => chunk(o).map(Ok),
                        Err(e) => Some(Err(anyhow::Error::new(e))),
                    }
                })),
            }),
            StartExecResults::Detached => None,
        };
        Ok((exec.id, stream))
    }

    /// Starts `argv` in container `id` with stdin, stdout and stderr
    /// attached, for a long-lived command fed line by line.
    pub async fn exec_stream(&self, id: &str, argv: &[String]) -> Result<ExecStream> {
        match self.start_attached(id, argv, true).await? {
            (_, Some(s)) => Ok(s),
            (_, None) => anyhow::bail!("exec {argv:?} in {id} started detached"),
        }
    }

    /// Runs `argv` in container `id` to completion, feeding it `stdin`
    /// (none attached when empty); its exit code and output as bytes.
    pub async fn exec_with_stdin(
        &self,
        id: &str,
        argv: &[String],
        stdin: &[u8],
    ) -> Result<ExecResult> {
        let (exec_id, stream) = self.start_attached(id, argv, !stdin.is_empty()).await?;
        let mut r = ExecResult::default();
        if let Some(ExecStream {
            mut input,
            mut output,
        }) = stream
        {
            if !stdin.is_empty() {
                input.write_all(stdin).await?;
                input.shutdown().await?;
            }
            drop(input);
            while let Some(c) = output.next().await {
                match c? {
                    ExecChunk::Stdout(b) => r.stdout.extend_from_slice(&b),
                    ExecChunk::Stderr(b) => r.stderr.extend_from_slice(&b),
                }
            }
        }
        r.exit_code = self
            .docker
            .inspect_exec(&exec_id)
            .await
            .with_context(|| format!("inspect exec {argv:?} in {id}"))?
            .exit_code
            .unwrap_or(-1);
        Ok(r)
    }

    /// Runs argv in the container; returns exit code, stdout and stderr.
    pub async fn exec(&self, id: &str, argv: &[String]) -> Result<(i64, String, String)> {
        let r = self.exec_with_stdin(id, argv, &[]).await?;
        Ok((
            r.exit_code,
            String::from_utf8_lossy(&r.stdout).into_owned(),
            String::from_utf8_lossy(&r.stderr).into_owned(),
        ))
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
}
