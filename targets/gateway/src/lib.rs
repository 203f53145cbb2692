//! `gateway`: the reference target of runcost.
//!
//! An HTTP service whose memory, CPU, leak and stall behaviour is set exactly
//! by environment variables (see README.md), so that measurements taken by
//! the harness can be checked against known ground truth.

pub mod background;
pub mod config;
pub mod entities;
pub mod events;
pub mod faults;
pub mod http;
pub mod leak;
pub mod memory;
pub mod server;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::config::Config;
use crate::state::State;

/// Runs the service until SIGTERM/SIGINT, then releases all state.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let shutdown = server::shutdown_signal().context("installing signal handlers")?;
    let started = Instant::now();
    let port = config.port;
    let state = Arc::new(State::new(config));
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (PORT={port})"))?;
    eprintln!(
        "gateway: listening on {} after {} ms, rss_bytes={}",
        listener.local_addr().unwrap_or(addr),
        started.elapsed().as_millis(),
        memory::rss_bytes()
    );
    server::serve(listener, state.clone(), async {
        let name = shutdown.await;
        eprintln!("gateway: {name} received, shutting down");
    })
    .await;
    let dropped = state.release();
    eprintln!("gateway: stopped, dropped {dropped} entities");
    Ok(())
}
