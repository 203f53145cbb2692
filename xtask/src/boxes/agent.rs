//! The host end of the box agent protocol (`runcost_boxagent`), over the
//! unix socket qemu connects to the guest's second serial port.

use super::ExecOutput;
use anyhow::{bail, Context, Result};
use runcost_boxagent::{decode, encode, find_sync, Frame};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

pub struct AgentConn {
    stream: UnixStream,
    buf: Vec<u8>,
    synced: bool,
}

impl AgentConn {
    pub fn new(stream: UnixStream) -> AgentConn {
        AgentConn {
            stream,
            buf: Vec::new(),
            synced: false,
        }
    }

    /// A connection to an agent already past its hello (a restored VM:
    /// its agent said hello before the snapshot, to another host end).
    pub fn resumed(stream: UnixStream) -> AgentConn {
        AgentConn {
            stream,
            buf: Vec::new(),
            synced: true,
        }
    }

    async fn fill(&mut self) -> Result<()> {
        let mut chunk = vec![0u8; 256 * 1024];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .context("read from the box agent")?;
        if n == 0 {
            bail!("the box agent's port closed (the VM exited)");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn frame(&mut self) -> Result<Frame> {
        loop {
            if !self.synced {
                if let Some(at) = find_sync(&self.buf) {
                    self.buf.drain(..at);
                    self.synced = true;
                    continue;
                }
                // Keep only a tail that could still hold the start of SYNC.
                let keep = runcost_boxagent::SYNC.len();
                if self.buf.len() > keep {
                    self.buf.drain(..self.buf.len() - keep);
                }
            } else if let Some((f, used)) =
                decode(&self.buf).map_err(|e| anyhow::anyhow!("box agent protocol: {e}"))?
            {
                self.buf.drain(..used);
                return Ok(f);
            }
            self.fill().await?;
        }
    }

    /// Waits for the agent's hello; returns the guest's uptime then.
    pub async fn hello(&mut self) -> Result<Duration> {
        match self.frame().await? {
            Frame::Hello { version, uptime_ms } => {
                if version != runcost_boxagent::VERSION {
                    bail!(
                        "box agent speaks protocol {version}, the harness {}; rebuild the guest with `cargo xtask setup`",
                        runcost_boxagent::VERSION
                    );
                }
                Ok(Duration::from_millis(uptime_ms))
            }
            other => bail!("expected the agent's hello, got {other:?}"),
        }
    }

    pub async fn exec(&mut self, argv: &[String], stdin: &[u8]) -> Result<ExecOutput> {
        let req = Frame::Exec {
            argv: argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
            stdin: stdin.to_vec(),
        };
        self.stream
            .write_all(&encode(&req))
            .await
            .context("send to the box agent")?;
        match self.frame().await? {
            Frame::Done {
                exit_code,
                stdout,
                stderr,
            } => Ok(ExecOutput {
                exit_code,
                stdout,
                stderr,
            }),
            Frame::Error { message } => bail!("the box agent refused the request: {message}"),
            other => bail!("expected a command's result, got {other:?}"),
        }
    }

    /// Sends one request and waits for its answer.
    async fn ask(&mut self, req: &Frame) -> Result<Frame> {
        self.stream
            .write_all(&encode(req))
            .await
            .context("send to the box agent")?;
        self.frame().await
    }

    /// Writes `data` into the file `path` in the box, in chunks of at most
    /// [`runcost_boxagent::MAX_CHUNK`], each acknowledged with its length.
    pub async fn write_file(&mut self, path: &str, data: &[u8]) -> Result<()> {
        let mut offset = 0usize;
        // An empty file is still created (one empty chunk at offset 0).
        loop {
            let end = (offset + runcost_boxagent::MAX_CHUNK).min(data.len());
            let req = Frame::Write {
                path: path.as_bytes().to_vec(),
                offset: offset as u64,
                data: data[offset..end].to_vec(),
            };
            match self.ask(&req).await? {
                Frame::Wrote { len } if len as usize == end - offset => {}
                Frame::Wrote { len } => bail!(
                    "the box agent wrote {len} of {} bytes at {offset} of {path}",
                    end - offset
                ),
                Frame::Error { message } => bail!("the box agent: {message}"),
                other => bail!("expected a write acknowledgement, got {other:?}"),
            }
            offset = end;
            if offset >= data.len() {
                return Ok(());
            }
        }
    }

    /// Reads `len` bytes of the file `path` in the box, in bounded chunks;
    /// a file shorter than `len` is an error naming both lengths.
    pub async fn read_file(&mut self, path: &str, len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let want = (len - out.len()).min(runcost_boxagent::MAX_CHUNK);
            let req = Frame::Read {
                path: path.as_bytes().to_vec(),
                offset: out.len() as u64,
                len: want as u32,
            };
            match self.ask(&req).await? {
                Frame::Data { data } if data.len() == want => out.extend_from_slice(&data),
                Frame::Data { data } => bail!(
                    "{path} in the box ended at {} bytes; {len} were asked for",
                    out.len() + data.len()
                ),
                Frame::Error { message } => bail!("the box agent: {message}"),
                other => bail!("expected file data, got {other:?}"),
            }
        }
        Ok(out)
    }

    pub async fn shutdown(&mut self) -> Result<()> {
        self.stream
            .write_all(&encode(&Frame::Shutdown))
            .await
            .context("send shutdown to the box agent")
    }
}
