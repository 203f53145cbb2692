//! The holder against real loopback servers: every connection held, a
//! non-200 answer rejected, a connection the server ends counted as a
//! drop and reopened.

use std::time::Duration;

use runcost_loadgen::{HoldConfig, HoldRequest, Holder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers each connection with `reply` after its request, then holds it
/// open (or closes it after `close_after`).
async fn server(reply: &'static [u8], close_after: Option<Duration>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply).await;
                match close_after {
                    Some(d) => tokio::time::sleep(d).await,
                    None => while s.read(&mut buf).await.is_ok_and(|n| n > 0) {},
                }
            });
        }
    });
    port
}

fn cfg(port: u16, n: usize, request: HoldRequest) -> HoldConfig {
    HoldConfig {
        host: std::net::Ipv4Addr::LOCALHOST.into(),
        port,
        connections: n,
        request,
        connect_timeout: Duration::from_secs(2),
        pin_cpu: None,
    }
}

#[tokio::test]
async fn every_connection_is_held_and_counted() {
    let port = server(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\n",
        None,
    )
    .await;
    let h = Holder::start(cfg(
        port,
        300,
        HoldRequest::HttpGet {
            path: "/events".into(),
        },
    ))
    .unwrap();
    h.wait_all_open(Duration::from_secs(10)).await.unwrap();
    let c = h.counts();
    assert_eq!(c.open, 300);
    assert_eq!(c.opened, 300);
    assert_eq!(c.drops + c.connect_errors + c.rejected, 0);
    drop(h);
}

#[tokio::test]
async fn a_non_200_answer_is_rejected_not_held() {
    let port = server(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", None).await;
    let h = Holder::start(cfg(
        port,
        3,
        HoldRequest::HttpGet {
            path: "/nope".into(),
        },
    ))
    .unwrap();
    let e = h
        .wait_all_open(Duration::from_millis(800))
        .await
        .unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("only 0 of 3"), "{msg}");
    assert!(msg.contains("404"), "{msg}");
    assert!(h.counts().rejected >= 3);
}

#[tokio::test]
async fn a_connection_the_server_ends_is_a_drop_and_is_reopened() {
    let port = server(b"+OK\r\n", Some(Duration::from_millis(100))).await;
    let h = Holder::start(cfg(
        port,
        2,
        HoldRequest::Tcp {
            send: b"SUBSCRIBE x\r\n".to_vec(),
        },
    ))
    .unwrap();
    h.wait_all_open(Duration::from_secs(5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let c = h.counts();
    assert!(c.drops >= 2, "{c:?}");
    assert!(c.opened > 2, "{c:?}");
    assert!(c.bytes >= 10, "{c:?}");
    assert!(h.last_error().unwrap().contains("closed by the target"));
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let h = Holder::start(cfg(port, 2, HoldRequest::Idle)).unwrap();
    let e = h
        .wait_all_open(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("failed connects"), "{e:#}");
    assert!(h.counts().connect_errors >= 2);
}
