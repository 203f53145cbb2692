//! A small QMP client (QEMU Machine Protocol: JSON lines over the VM's
//! `-qmp unix:…` socket): the greeting, `qmp_capabilities`, then one
//! command at a time. Asynchronous events arriving between a command and
//! its answer are skipped (the snapshot lane polls `query-migrate` rather
//! than waiting for MIGRATION events).

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

pub struct Qmp {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    timeout: Duration,
}

/// What one QMP answer line is. Pure, so it is tested without a VM.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Return(Value),
    Error(String),
    Event,
    Greeting,
}

pub fn parse_reply(line: &str) -> Result<Reply> {
    let v: Value =
        serde_json::from_str(line).with_context(|| format!("QMP: not JSON: {line:?}"))?;
    if let Some(r) = v.get("return") {
        return Ok(Reply::Return(r.clone()));
    }
    if let Some(e) = v.get("error") {
        return Ok(Reply::Error(format!(
            "{}: {}",
            e["class"].as_str().unwrap_or("?"),
            e["desc"].as_str().unwrap_or("?")
        )));
    }
    if v.get("event").is_some() {
        return Ok(Reply::Event);
    }
    if v.get("QMP").is_some() {
        return Ok(Reply::Greeting);
    }
    bail!("QMP: unexpected message {line:?}")
}

impl Qmp {
    /// Connects (retrying until `limit`: qemu opens the socket as it starts)
    /// and leaves the capabilities negotiation done.
    pub async fn connect(sock: &Path, limit: Duration) -> Result<Qmp> {
        let deadline = Instant::now() + limit;
        let stream = loop {
            match UnixStream::connect(sock).await {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => {
                    return Err(e).with_context(|| format!("connect QMP {}", sock.display()))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        };
        let (r, w) = stream.into_split();
        let mut q = Qmp {
            r: BufReader::new(r),
            w,
            timeout: limit.max(Duration::from_secs(10)),
        };
        match q.line().await? {
            Reply::Greeting => {}
            other => bail!("QMP: expected the greeting, got {other:?}"),
        }
        q.execute("qmp_capabilities", None).await?;
        Ok(q)
    }

    async fn line(&mut self) -> Result<Reply> {
        let mut s = String::new();
        let n = tokio::time::timeout(self.timeout, self.r.read_line(&mut s))
            .await
            .context("QMP: no answer in time")?
            .context("QMP: read")?;
        if n == 0 {
            bail!("QMP: the socket closed (qemu exited)");
        }
        parse_reply(s.trim())
    }

    /// Runs one command; its `return` value, or its error as an error.
    pub async fn execute(&mut self, cmd: &str, args: Option<Value>) -> Result<Value> {
        let mut req = json!({ "execute": cmd });
        if let Some(a) = args {
            req["arguments"] = a;
        }
        let mut text = req.to_string();
        text.push('\n');
        self.w
            .write_all(text.as_bytes())
            .await
            .with_context(|| format!("QMP: send {cmd}"))?;
        loop {
            match self.line().await? {
                Reply::Return(v) => return Ok(v),
                Reply::Error(e) => bail!("QMP {cmd}: {e}"),
                Reply::Event | Reply::Greeting => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_told_apart() {
        assert_eq!(
            parse_reply(r#"{"return": {"status": "completed"}}"#).unwrap(),
            Reply::Return(json!({"status": "completed"}))
        );
        assert_eq!(
            parse_reply(r#"{"error": {"class": "GenericError", "desc": "no file"}}"#).unwrap(),
            Reply::Error("GenericError: no file".into())
        );
        assert_eq!(
            parse_reply(r#"{"timestamp": {"seconds": 1}, "event": "STOP"}"#).unwrap(),
            Reply::Event
        );
        assert_eq!(
            parse_reply(r#"{"QMP": {"version": {}, "capabilities": []}}"#).unwrap(),
            Reply::Greeting
        );
        assert!(parse_reply("{}").is_err());
        assert!(parse_reply("not json").is_err());
    }
}
