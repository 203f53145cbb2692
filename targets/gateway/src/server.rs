//! Accept loop, connection handling and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::background;
use crate::state::State;

/// How long in-flight requests get to finish after a shutdown signal.
/// Kept well under Docker's default 10 s stop timeout.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Resolves on the first SIGTERM or SIGINT, yielding the signal's name.
///
/// The handlers are installed when this is called, not when it is first
/// polled, so call it early: a signal that arrives during a long start-up is
/// then still handled cleanly (as PID 1 an unhandled SIGTERM would be ignored,
/// elsewhere it would kill the process before heaptrack/valgrind report).
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = &'static str>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// Serves until `shutdown` resolves, then stops accepting, stops the
/// background tasks, and gives open connections [`SHUTDOWN_GRACE`] to finish
/// their current request.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let mut tasks = background::spawn(&state);
    // Each connection holds a receiver: a change asks it to finish, and
    // `closed()` resolves once every connection has ended.
    let (stop, _) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Measurements want request latency, not Nagle's delay.
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, state.clone(), stop.subscribe()));
                }
                Err(e) => {
                    // Typically EMFILE under heavy load: back off, keep serving.
                    eprintln!("gateway: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drop(listener);
    // Stopping the stall task also releases the gate for waiting requests.
    state
        .stopping
        .store(true, std::sync::atomic::Ordering::Relaxed);
    tasks.abort_all();
    stop.send_replace(());
    if tokio::time::timeout(SHUTDOWN_GRACE, stop.closed())
        .await
        .is_err()
    {
        eprintln!("gateway: connections still open after {SHUTDOWN_GRACE:?}, closing them");
    }
    while tasks.join_next().await.is_some() {}
}

async fn connection(
    stream: tokio::net::TcpStream,
    state: Arc<State>,
    mut stop: watch::Receiver<()>,
) {
    let service = service_fn(move |req| crate::http::handle(state.clone(), req));
    // keep_alive is hyper's default; stated because load generators rely on it.
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        // Client resets and the like end the connection; nothing to report.
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            // Finishes the request in flight (if any), then closes.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
