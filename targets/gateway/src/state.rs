//! Shared service state and the `/stats` view of it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::entities::Entities;
use crate::faults::Faults;
use crate::memory::{rss_bytes, touched};

pub struct State {
    pub config: Config,
    pub entities: Entities,
    pub faults: Faults,
    /// The stall gate: handlers take a read guard before answering, the stall
    /// task holds the write guard for STALL_MS. tokio's RwLock is fair, so a
    /// waiting writer also holds back new readers: nothing is answered.
    pub gate: tokio::sync::RwLock<()>,
    /// Raised at shutdown so a long refresh pass stops early.
    pub stopping: AtomicBool,
    pub leaked_bytes: AtomicU64,
    pub refreshes: AtomicU64,
    pub refresh_last_us: AtomicU64,
    pub stalls: AtomicU64,
    /// Open `/events` streams.
    pub streams: AtomicU64,
    started: Instant,
    /// BASE_MIB of written memory, held only to be resident.
    _base: Box<[u8]>,
}

/// The `/stats` body. Field names are part of the harness contract.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub entities: usize,
    pub entity_size: usize,
    pub entity_bytes_total: u64,
    pub growth_k: f64,
    pub entity_bytes: u64,
    pub base_mib: u64,
    pub rss_bytes: u64,
    pub refresh_ms: u64,
    pub refreshes: u64,
    pub refresh_last_us: u64,
    pub leak_bytes_per_s: u64,
    pub leak_per_delete_bytes: u64,
    pub leaked_bytes: u64,
    pub fault_retain: bool,
    pub fault_record_bytes: u64,
    pub fault_records: usize,
    pub fault_bytes_retained: u64,
    pub faults_total: u64,
    pub stall_ms: u64,
    pub stall_every_s: u64,
    pub stalls: u64,
    pub workers: usize,
    /// Open `/events` streams, and the bytes each holds.
    pub streams: u64,
    pub stream_bytes: u64,
    pub uptime_s: f64,
}

impl State {
    /// Allocates and writes all start-up memory (entities and base).
    pub fn new(config: Config) -> State {
        let base = touched((config.base_mib << 20) as usize, 0xB5);
        let entities = Entities::new(config.entities, config.entity_size());
        let faults = Faults::new(config.fault_record_bytes as usize, config.fault_retain);
        State {
            config,
            entities,
            faults,
            gate: tokio::sync::RwLock::new(()),
            stopping: AtomicBool::new(false),
            leaked_bytes: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            refresh_last_us: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            started: Instant::now(),
            _base: base,
        }
    }

    pub fn stats(&self) -> Stats {
        let c = &self.config;
        let entities = self.entities.len();
        let entity_size = self.entities.entity_size();
        let workers =
            tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_workers());
        Stats {
            entities,
            entity_size,
            entity_bytes_total: entities as u64 * entity_size as u64,
            growth_k: c.growth_k,
            entity_bytes: c.entity_bytes,
            base_mib: c.base_mib,
            rss_bytes: rss_bytes(),
            refresh_ms: c.refresh_ms,
            refreshes: self.refreshes.load(Ordering::Relaxed),
            refresh_last_us: self.refresh_last_us.load(Ordering::Relaxed),
            leak_bytes_per_s: c.leak_bytes_per_s,
            leak_per_delete_bytes: c.leak_per_delete_bytes,
            leaked_bytes: self.leaked_bytes.load(Ordering::Relaxed),
            fault_retain: c.fault_retain,
            fault_record_bytes: c.fault_record_bytes,
            fault_records: self.faults.retained(),
            fault_bytes_retained: self.faults.bytes_retained(),
            faults_total: self.faults.total(),
            stall_ms: c.stall_ms,
            stall_every_s: c.stall_every_s,
            stalls: self.stalls.load(Ordering::Relaxed),
            workers,
            streams: self.streams.load(Ordering::Relaxed),
            stream_bytes: c.stream_bytes,
            uptime_s: self.started.elapsed().as_secs_f64(),
        }
    }

    /// Frees entities and fault records at shutdown, so that what heaptrack
    /// and valgrind report as leaked at exit is only the deliberate leaks.
    /// Returns the number of entities dropped.
    pub fn release(&self) -> usize {
        self.stopping.store(true, Ordering::Relaxed);
        self.faults.clear();
        self.entities.clear()
    }
}
