//! A tiny hyper server on 127.0.0.1 with scripted behaviour, run on its own
//! thread and runtime so that it does not share a scheduler with the
//! generator. Dropping it shuts it down (every connection task included).

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, RwLock};

#[derive(Debug, Clone, Copy)]
pub enum Behavior {
    /// 200 at once.
    Fast,
    /// 200 after this service time (a precise thread sleep on the blocking
    /// pool: tokio's timer would round it up to the next millisecond).
    Delay(Duration),
    /// This status at once.
    Status(u16),
    /// Never answers.
    Never,
    /// 200 at once, except that every `every` a background task holds the
    /// gate's write side for `length`, so every response waits for it.
    Stall { every: Duration, length: Duration },
}

#[derive(Default)]
pub struct Seen {
    pub hits: AtomicU64,
    pub body_bytes: AtomicU64,
    pub paths: Mutex<HashMap<String, u64>>,
}

impl Seen {
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
    pub fn paths(&self) -> HashMap<String, u64> {
        self.paths.lock().unwrap().clone()
    }
}

pub struct TestServer {
    pub port: u16,
    pub seen: Arc<Seen>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(behavior: Behavior) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Seen::default());
        let (tx, rx) = oneshot::channel::<()>();
        let seen2 = seen.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(listener, behavior, seen2, rx));
            // Dropping the runtime drops every connection task.
        });
        TestServer {
            port,
            seen,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    behavior: Behavior,
    seen: Arc<Seen>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let gate = Arc::new(RwLock::new(()));
    if let Behavior::Stall { every, length } = behavior {
        let gate = gate.clone();
        tokio::spawn(async move {
            // Ends with the runtime when the server is dropped.
            loop {
                tokio::time::sleep(every - length).await;
                let held = gate.write().await;
                tokio::time::sleep(length).await;
                drop(held);
            }
        });
    }
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                let _ = stream.set_nodelay(true);
                let seen = seen.clone();
                let gate = gate.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(req, behavior, seen.clone(), gate.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    behavior: Behavior,
    seen: Arc<Seen>,
    gate: Arc<RwLock<()>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    *seen.paths.lock().unwrap().entry(path).or_insert(0) += 1;
    let body = req.into_body().collect().await.map(|b| b.to_bytes().len());
    seen.body_bytes
        .fetch_add(body.unwrap_or(0) as u64, Ordering::SeqCst);
    let status = match behavior {
        Behavior::Fast => StatusCode::OK,
        Behavior::Delay(d) => {
            tokio::task::spawn_blocking(move || std::thread::sleep(d))
                .await
                .unwrap();
            StatusCode::OK
        }
        Behavior::Status(c) => StatusCode::from_u16(c).unwrap(),
        Behavior::Never => std::future::pending().await,
        Behavior::Stall { .. } => {
            drop(gate.read().await);
            StatusCode::OK
        }
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(b"ok\n")));
    *resp.status_mut() = status;
    Ok(resp)
}

/// Timing-sensitive tests take this so that they never overlap (the machine
/// has two cores).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The generator's runtime, separate from the server's.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
