//! A small HTTP/1.1 client for readiness and settings checks against
//! 127.0.0.1 (hyper, one connection per request: these are rare).

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use std::time::Duration;

pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

pub async fn get(port: u16, path: &str, timeout: Duration) -> Result<Response> {
    request("GET", port, path, timeout).await
}

pub async fn request(method: &str, port: u16, path: &str, timeout: Duration) -> Result<Response> {
    let fut = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .with_context(|| format!("connect 127.0.0.1:{port}"))?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        let conn = tokio::spawn(conn);
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
            .body(Empty::<Bytes>::new())?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        drop(sender);
        conn.abort();
        Ok::<_, anyhow::Error>(Response { status, body })
    };
    tokio::time::timeout(timeout, fut)
        .await
        .with_context(|| format!("{method} 127.0.0.1:{port}{path} timed out after {timeout:?}"))?
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
