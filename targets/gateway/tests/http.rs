//! Starts the server in-process on an ephemeral port and talks real HTTP to it.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{call, Client};
use gateway::config::Config;
use gateway::state::State;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
    state: Arc<State>,
}

async fn start(vars: &[(&str, &str)]) -> Running {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    let config = Config::from_lookup(|k| map.get(k).map(|v| v.to_string())).expect("config");
    let state = Arc::new(State::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(gateway::server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop,
        server,
        state,
    }
}

impl Running {
    async fn shutdown(self) -> Arc<State> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("server stops within the grace period")
            .expect("server task");
        self.state
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_over_real_http() {
    let srv = start(&[
        ("ENTITIES", "100"),
        ("GROWTH_K", "1.5"),
        ("LEAK_PER_DELETE_BYTES", "1000"),
        ("FAULT_RECORD_BYTES", "1024"),
    ])
    .await;
    let addr = srv.addr;

    // Several requests over one keep-alive connection.
    let mut c = Client::connect(addr).await;
    let r = c.send("GET", "/health").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));

    let stats = c.send("GET", "/stats").await.json();
    for key in [
        "entities",
        "refresh_ms",
        "growth_k",
        "entity_bytes",
        "base_mib",
        "rss_bytes",
        "leak_bytes_per_s",
        "leaked_bytes",
        "fault_records",
        "fault_bytes_retained",
        "faults_total",
        "refreshes",
        "stall_ms",
        "stall_every_s",
        "uptime_s",
    ] {
        assert!(stats.get(key).is_some(), "/stats lacks {key}: {stats}");
    }
    assert_eq!(stats["entities"], 100);
    assert_eq!(stats["growth_k"], 1.5);
    // 4096 * 100^1.5 bytes over 100 entities.
    assert_eq!(stats["entity_size"], 40_960);
    assert!(stats["rss_bytes"].as_u64().unwrap() > 4_096_000);

    let r = c.send("GET", "/entities/7").await;
    assert_eq!(r.status, 200);
    let e = r.json();
    assert_eq!(
        (e["id"].as_u64(), e["bytes"].as_u64()),
        (Some(7), Some(40_960))
    );
    assert!(e["checksum"].is_u64());

    let r = c.send("POST", "/entities").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["id"], 100);
    assert_eq!(c.send("GET", "/entities/100").await.json()["bytes"], 40_960);

    assert_eq!(c.send("DELETE", "/entities/100").await.status, 204);
    assert_eq!(c.send("DELETE", "/entities/100").await.status, 404);
    assert_eq!(c.send("GET", "/entities/100").await.status, 404);
    assert_eq!(c.send("GET", "/entities/abc").await.status, 400);
    assert_eq!(c.send("DELETE", "/entities/-1").await.status, 400);
    assert_eq!(c.send("GET", "/entities/1/x").await.status, 404);

    let r = c.send("POST", "/faults?count=100").await;
    assert_eq!(r.status, 200);
    let f = r.json();
    assert_eq!(f["faults"], 100);
    assert_eq!(f["records_retained"], 64);
    assert_eq!(f["snapshot_bytes"], 100 * 64);
    for bad in ["", "?count=0", "?count=100001", "?count=x", "?n=5"] {
        assert_eq!(
            c.send("POST", &format!("/faults{bad}")).await.status,
            400,
            "{bad}"
        );
    }

    for (m, p) in [
        ("GET", "/"),
        ("GET", "/nope"),
        ("POST", "/health"),
        ("PUT", "/entities/1"),
        ("GET", "/faults"),
    ] {
        assert_eq!(c.send(m, p).await.status, 404, "{m} {p}");
    }

    let stats = c.send("GET", "/stats").await.json();
    assert_eq!(stats["entities"], 100);
    assert_eq!(stats["leaked_bytes"], 1000);
    assert_eq!(stats["faults_total"], 100);
    assert_eq!(stats["fault_records"], 64);
    assert_eq!(stats["fault_bytes_retained"], 64 * 1024);
    drop(c);

    let state = srv.shutdown().await;
    assert_eq!(state.release(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_retain_keeps_every_record() {
    let srv = start(&[("FAULT_RETAIN", "1"), ("FAULT_RECORD_BYTES", "100")]).await;
    for _ in 0..3 {
        assert_eq!(call(srv.addr, "POST", "/faults?count=50").await.status, 200);
    }
    let stats = call(srv.addr, "GET", "/stats").await.json();
    assert_eq!(stats["fault_records"], 150);
    assert_eq!(stats["fault_bytes_retained"], 15_000);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_leak_tasks_run() {
    let srv = start(&[
        ("ENTITIES", "10"),
        ("REFRESH_MS", "20"),
        ("LEAK_BYTES_PER_S", "100000"),
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(550)).await;
    let stats = call(srv.addr, "GET", "/stats").await.json();
    let refreshes = stats["refreshes"].as_u64().unwrap();
    assert!(refreshes >= 10, "refreshes={refreshes}");
    // Five ticks of 10 000 bytes in ~0.5 s (allow for scheduling slack).
    let leaked = stats["leaked_bytes"].as_u64().unwrap();
    assert!((40_000..=60_000).contains(&leaked), "leaked={leaked}");
    assert_eq!(leaked % 10_000, 0);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_blocks_every_request() {
    let srv = start(&[("STALL_MS", "400"), ("STALL_EVERY_S", "1")]).await;
    let mut c = Client::connect(srv.addr).await;
    // Poll for 1.6 s: one request must wait out (most of) the stall at t=1 s.
    let deadline = Instant::now() + Duration::from_millis(1600);
    let mut slowest = Duration::ZERO;
    while Instant::now() < deadline {
        let t = Instant::now();
        assert_eq!(c.send("GET", "/health").await.status, 200);
        slowest = slowest.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(slowest >= Duration::from_millis(300), "slowest={slowest:?}");
    let stats = c.send("GET", "/stats").await.json();
    assert_eq!(stats["stalls"], 1);
    drop(c);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_stalled_request_finish() {
    let srv = start(&[("STALL_MS", "900"), ("STALL_EVERY_S", "1")]).await;
    let addr = srv.addr;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // This request is held at the gate by the stall in progress.
    let pending = tokio::spawn(async move { call(addr, "GET", "/health").await.status });
    tokio::time::sleep(Duration::from_millis(100)).await;
    srv.shutdown().await;
    assert_eq!(pending.await.unwrap(), 200);
}

/// `/events` streams an event at once and then every second; the stream
/// is counted in `/stats` while open, and the count drops when the client
/// leaves; shutdown ends open streams within the grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_is_counted_while_held() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = start(&[("STREAM_BYTES", "100000")]).await;
    let open = || async {
        let mut s = tokio::net::TcpStream::connect(srv.addr)
            .await
            .expect("connect");
        s.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&got).contains("data: ") {
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                .await
                .expect("first event within 5 s")
                .expect("read");
            assert!(n > 0, "stream closed early");
            got.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&got).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/event-stream"), "{head}");
        s
    };
    let a = open().await;
    let b = open().await;
    let stats = call(srv.addr, "GET", "/stats").await.json();
    assert_eq!(stats["streams"], 2, "{stats}");
    assert_eq!(stats["stream_bytes"], 100000);
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = call(srv.addr, "GET", "/stats").await.json();
        if stats["streams"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a closed stream still counted: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state = srv.shutdown().await;
    drop(b);
    assert_eq!(state.streams.load(std::sync::atomic::Ordering::Relaxed), 0);
}
