//! The harness's HTTP/1.1 client against 127.0.0.1 (hyper): one
//! keep-alive connection for lanes that send many requests (churn), and
//! one-shot requests for readiness and settings checks.

use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::time::Duration;

pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

pub async fn get(port: u16, path: &str, timeout: Duration) -> Result<Response> {
    request("GET", port, path, timeout).await
}

/// One request on a connection of its own.
pub async fn request(method: &str, port: u16, path: &str, timeout: Duration) -> Result<Response> {
    let mut c = Client::new(port);
    c.timeout = timeout;
    let (status, body) = c.send(method, path, "").await?;
    Ok(Response { status, body })
}

/// One keep-alive HTTP/1.1 connection to the target, reopened if it drops.
pub struct Client {
    port: u16,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    conn: Option<tokio::task::JoinHandle<()>>,
    pub timeout: Duration,
}

impl Client {
    pub fn new(port: u16) -> Client {
        Client {
            port,
            sender: None,
            conn: None,
            timeout: Duration::from_secs(30),
        }
    }

    async fn connect(&mut self) -> Result<()> {
        let stream =
            tokio::net::TcpStream::connect((crate::engine::endpoint::target_ip(), self.port))
                .await
                .with_context(|| {
                    format!(
                        "connect {}:{}",
                        crate::engine::endpoint::target_ip(),
                        self.port
                    )
                })?;
        stream.set_nodelay(true)?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        self.conn = Some(tokio::spawn(async move {
            let _ = conn.await;
        }));
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request; the status and body.
    pub async fn send(&mut self, method: &str, path: &str, body: &str) -> Result<(u16, Bytes)> {
        let shown = format!(
            "{method} {}:{}{path}",
            crate::engine::endpoint::target_ip(),
            self.port
        );
        let timeout = self.timeout;
        let fut = async {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                self.connect().await?;
            }
            let sender = self.sender.as_mut().context("no connection")?;
            sender.ready().await?;
            let mut req = hyper::Request::builder().method(method).uri(path).header(
                hyper::header::HOST,
                format!("{}:{}", crate::engine::endpoint::target_ip(), self.port),
            );
            if !body.is_empty() {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            let req = req.body(Full::new(Bytes::from(body.to_string())))?;
            let resp = sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>((status, bytes))
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r.with_context(|| shown.clone()),
            Err(_) => bail!("{shown} timed out after {timeout:?}"),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            c.abort();
        }
    }
}

/// Reads a JSON pointer from a JSON body.
pub fn json_at(body: &[u8], pointer: &str) -> Result<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(body).context("response is not JSON")?;
    v.pointer(pointer)
        .cloned()
        .with_context(|| format!("response has no value at JSON pointer {pointer}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_pointer() {
        let b = br#"{"entities": 10, "x": {"y": "z"}}"#;
        assert_eq!(
            super::json_at(b, "/entities").unwrap(),
            serde_json::json!(10)
        );
        assert_eq!(super::json_at(b, "/x/y").unwrap(), serde_json::json!("z"));
        assert!(super::json_at(b, "/nope").is_err());
        assert!(super::json_at(b"nope", "/x").is_err());
    }
}
