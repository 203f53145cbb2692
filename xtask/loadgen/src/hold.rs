//! Held connections: `connections` long-lived connections to
//! `host:port` (127.0.0.1 for a local engine), opened before a measurement window and kept open
//! through it, so a lane can ask what each open client costs the target.
//!
//! A connection is *held* once it is established the way its request
//! says: connected (idle keep-alive), the request written (TCP), or the
//! response's `200` status line received (an HTTP stream such as SSE).
//! Whatever the target sends afterwards is read and discarded into one
//! small buffer per connection (bounded memory whatever it streams). A
//! connection that ends is counted as a drop and reopened after a backoff;
//! a refused connect or a non-200 answer is counted too, never hidden.
//!
//! Everything runs on a thread of its own with a current-thread runtime,
//! pinned like the generator away from the target's CPU; dropping the
//! [`Holder`] closes every connection and joins the thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Upper bound of held connections.
pub const MAX_HELD: usize = 100_000;
/// Connects in flight at once: a burst of thousands would overflow the
/// target's listen backlog and turn into retries.
const CONNECTS_AT_ONCE: usize = 128;
/// Bytes read at a time from a held connection (and discarded).
const READ_BUF: usize = 512;
/// The longest HTTP status line looked for.
const MAX_STATUS_LINE: usize = 1024;

/// What a held connection sends once it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldRequest {
    /// Nothing: an idle keep-alive connection.
    Idle,
    /// `GET path` over HTTP/1.1; held from the `200` status line on, the
    /// body (an event stream) read as it comes.
    HttpGet { path: String },
    /// These bytes, once; whatever comes back is read and discarded.
    Tcp { send: Vec<u8> },
}

impl HoldRequest {
    /// How the record names it.
    pub fn describe(&self) -> String {
        match self {
            HoldRequest::Idle => "idle connection".into(),
            HoldRequest::HttpGet { path } => format!("GET {path}"),
            HoldRequest::Tcp { send } => format!("tcp send {:?}", String::from_utf8_lossy(send)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HoldConfig {
    /// Address the target's port is published on (127.0.0.1 for a local
    /// engine; a remote engine's address otherwise).
    pub host: std::net::IpAddr,
    pub port: u16,
    pub connections: usize,
    pub request: HoldRequest,
    /// Connect, and for HTTP the status line, within this.
    pub connect_timeout: Duration,
    /// CPU the holder's thread is pinned to.
    pub pin_cpu: Option<usize>,
}

/// Counters of a holder at one moment.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct HoldCounts {
    /// Connections held now.
    pub open: u64,
    /// Connections that became held, reconnects included.
    pub opened: u64,
    /// Held connections that ended (closed or reset by the target).
    pub drops: u64,
    /// Connects that failed or timed out.
    pub connect_errors: u64,
    /// HTTP answers other than 200.
    pub rejected: u64,
    /// Bytes the target sent on held connections.
    pub bytes: u64,
}

/// Held connections over a measurement window, as run.json records them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HoldRecord {
    /// Connections asked for.
    pub requested: u64,
    /// What each connection sent.
    pub request: String,
    /// Seconds from the holder's start until all were held.
    pub open_after_s: f64,
    pub at_start: HoldCounts,
    pub at_end: HoldCounts,
    /// The last connect or read error, when there was one.
    pub last_error: Option<String>,
}

impl HoldRecord {
    /// Drops, failed connects and rejections during the window.
    pub fn errors_in_window(&self) -> u64 {
        let d = |a: u64, b: u64| b.saturating_sub(a);
        d(self.at_start.drops, self.at_end.drops)
            + d(self.at_start.connect_errors, self.at_end.connect_errors)
            + d(self.at_start.rejected, self.at_end.rejected)
    }

    /// One line for the console and the report.
    pub fn summary(&self) -> String {
        format!(
            "held {} of {} ({}) at window start, {} at end; {} drops, {} failed connects, {} rejected in the window",
            self.at_start.open,
            self.requested,
            self.request,
            self.at_end.open,
            self.at_end.drops.saturating_sub(self.at_start.drops),
            self.at_end
                .connect_errors
                .saturating_sub(self.at_start.connect_errors),
            self.at_end.rejected.saturating_sub(self.at_start.rejected),
        )
    }
}

#[derive(Default)]
struct Counters {
    open: AtomicU64,
    opened: AtomicU64,
    drops: AtomicU64,
    connect_errors: AtomicU64,
    rejected: AtomicU64,
    bytes: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn error(&self, counter: &AtomicU64, what: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(what);
        }
    }
}

/// Open held connections; dropping it closes them all.
pub struct Holder {
    counters: Arc<Counters>,
    requested: usize,
    request: HoldRequest,
    started: Instant,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Holder {
    /// Starts opening the connections (it returns at once; see
    /// [`Holder::wait_all_open`]).
    pub fn start(cfg: HoldConfig) -> Result<Holder> {
        ensure!(cfg.port != 0, "hold: port must not be 0");
        ensure!(
            (1..=MAX_HELD).contains(&cfg.connections),
            "hold: connections must be in 1..={MAX_HELD} (got {})",
            cfg.connections
        );
        if let HoldRequest::HttpGet { path } = &cfg.request {
            ensure!(
                path.starts_with('/') && !path.contains(char::is_whitespace),
                "hold: path {path:?} must start with / and contain no spaces"
            );
        }
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = counters.clone();
        let c = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("runcost-hold".into())
            .spawn(move || {
                if let Some(cpu) = c.pin_cpu {
                    crate::sys::pin_current_thread(cpu);
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        shared.error(&shared.connect_errors, format!("start the runtime: {e}"));
                        return;
                    }
                };
                rt.block_on(async move {
                    let gate = Arc::new(tokio::sync::Semaphore::new(CONNECTS_AT_ONCE));
                    let mut tasks = tokio::task::JoinSet::new();
                    for _ in 0..c.connections {
                        tasks.spawn(hold_one(c.clone(), shared.clone(), gate.clone()));
                    }
                    let _ = stopped.await;
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                });
            })
            .context("spawn the holder thread")?;
        Ok(Holder {
            counters,
            requested: cfg.connections,
            request: cfg.request,
            started: Instant::now(),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn counts(&self) -> HoldCounts {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        HoldCounts {
            open: l(&c.open),
            opened: l(&c.opened),
            drops: l(&c.drops),
            connect_errors: l(&c.connect_errors),
            rejected: l(&c.rejected),
            bytes: l(&c.bytes),
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.counters.last_error.lock().ok().and_then(|e| e.clone())
    }

    pub fn requested(&self) -> usize {
        self.requested
    }

    /// Waits until every connection is held; the error says how many were
    /// and why the rest were not.
    pub async fn wait_all_open(&self, timeout: Duration) -> Result<f64> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.counts();
            if c.open as usize >= self.requested {
                return Ok(self.started.elapsed().as_secs_f64());
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "only {} of {} held connections ({}) were open after {:?}: {} failed connects, {} rejected, {} drops; last error: {}",
                    c.open,
                    self.requested,
                    self.request.describe(),
                    timeout,
                    c.connect_errors,
                    c.rejected,
                    c.drops,
                    self.last_error().as_deref().unwrap_or("none")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The record of a window that started at `at_start`.
    pub fn record(&self, open_after_s: f64, at_start: HoldCounts) -> HoldRecord {
        HoldRecord {
            requested: self.requested as u64,
            request: self.request.describe(),
            open_after_s,
            at_start,
            at_end: self.counts(),
            last_error: self.last_error(),
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One connection: open it, hold it, reopen it when it ends.
async fn hold_one(cfg: HoldConfig, c: Arc<Counters>, gate: Arc<tokio::sync::Semaphore>) {
    let mut backoff = Duration::from_millis(100);
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let opened = {
            let _permit = gate.acquire().await;
            tokio::time::timeout(cfg.connect_timeout, establish(&cfg, &mut buf)).await
        };
        let mut stream = match opened {
            Ok(Ok(Established::Held(s))) => s,
            Ok(Ok(Established::Rejected(status))) => {
                c.error(&c.rejected, format!("answered {status:?} instead of 200"));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
            Ok(Err(e)) => {
                c.error(&c.connect_errors, format!("{e:#}"));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
            Err(_) => {
                c.error(
                    &c.connect_errors,
                    format!("not established within {:?}", cfg.connect_timeout),
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        c.open.fetch_add(1, Ordering::Relaxed);
        c.opened.fetch_add(1, Ordering::Relaxed);
        let why = loop {
            match stream.read(&mut buf).await {
                Ok(0) => break "closed by the target".to_string(),
                Ok(n) => {
                    c.bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => break format!("read: {e}"),
            }
        };
        c.open.fetch_sub(1, Ordering::Relaxed);
        c.error(&c.drops, format!("a held connection ended: {why}"));
        tokio::time::sleep(backoff).await;
    }
}

enum Established {
    Held(tokio::net::TcpStream),
    Rejected(String),
}

async fn establish(cfg: &HoldConfig, buf: &mut [u8]) -> Result<Established> {
    let addr = std::net::SocketAddr::new(cfg.host, cfg.port);
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect to {addr}"))?;
    let _ = s.set_nodelay(true);
    match &cfg.request {
        HoldRequest::Idle => Ok(Established::Held(s)),
        HoldRequest::Tcp { send } => {
            s.write_all(send).await.context("send the held request")?;
            Ok(Established::Held(s))
        }
        HoldRequest::HttpGet { path } => {
            let req =
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
            s.write_all(req.as_bytes())
                .await
                .context("send the held request")?;
            let mut head = Vec::new();
            loop {
                let n = s.read(buf).await.context("read the status line")?;
                ensure!(n > 0, "closed before the status line");
                head.extend_from_slice(&buf[..n]);
                if let Some(end) = head.windows(2).position(|w| w == b"\r\n") {
                    let line = String::from_utf8_lossy(&head[..end]).to_string();
                    return Ok(if status_is_200(&line) {
                        Established::Held(s)
                    } else {
                        Established::Rejected(line)
                    });
                }
                ensure!(
                    head.len() <= MAX_STATUS_LINE,
                    "no status line in the first {MAX_STATUS_LINE} bytes"
                );
            }
        }
    }
}

/// `HTTP/1.x 200 ...`.
fn status_is_200(line: &str) -> bool {
    let mut parts = line.split(' ');
    matches!(
        (parts.next(), parts.next()),
        (Some(v), Some("200")) if v.starts_with("HTTP/1.")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line() {
        assert!(status_is_200("HTTP/1.1 200 OK"));
        assert!(status_is_200("HTTP/1.0 200"));
        assert!(!status_is_200("HTTP/1.1 404 Not Found"));
        assert!(!status_is_200("HTTP/1.1 2000"));
        assert!(!status_is_200("garbage 200"));
    }

    #[test]
    fn errors_in_window_counts_only_the_window() {
        let at_start = HoldCounts {
            open: 10,
            opened: 10,
            drops: 2,
            connect_errors: 1,
            ..Default::default()
        };
        let r = HoldRecord {
            requested: 10,
            request: "GET /events".into(),
            open_after_s: 0.5,
            at_start,
            at_end: HoldCounts {
                open: 9,
                opened: 11,
                drops: 4,
                connect_errors: 1,
                rejected: 1,
                bytes: 100,
            },
            last_error: None,
        };
        assert_eq!(r.errors_in_window(), 3);
        assert!(r.summary().contains("held 10 of 10"), "{}", r.summary());
    }
}
