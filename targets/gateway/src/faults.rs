//! Fault bursts: per-fault records (retained or bounded) plus a transient
//! snapshot buffer whose size grows with the number of entities.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::FAULT_RING;
use crate::entities::Entity;
use crate::memory::touched;

/// Snapshot bytes per entity: id, size, fault sequence, first 40 data bytes.
pub const SNAPSHOT_BYTES_PER_ENTITY: usize = 64;

pub struct Faults {
    records: Mutex<VecDeque<Box<[u8]>>>,
    retain: bool,
    record_bytes: usize,
    total: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Burst {
    pub faults: u64,
    pub records_retained: usize,
    pub snapshot_bytes: usize,
}

impl Faults {
    pub fn new(record_bytes: usize, retain: bool) -> Faults {
        Faults {
            records: Mutex::new(VecDeque::new()),
            retain,
            record_bytes,
            total: AtomicU64::new(0),
        }
    }

    /// Handles `count` faults against the given entities.
    ///
    /// Each fault allocates and fills one record and rewrites the whole
    /// snapshot (work proportional to the entity count). The snapshot is one
    /// allocation, large enough to be mmapped, freed when the burst ends, so
    /// it shows as a transient RSS peak rather than lasting growth.
    pub fn burst(&self, count: u64, entities: &[Arc<Entity>]) -> Burst {
        let snapshot_bytes = entities.len() * SNAPSHOT_BYTES_PER_ENTITY;
        let mut snapshot = vec![0u8; snapshot_bytes];
        for _ in 0..count {
            let seq = self.total.fetch_add(1, Ordering::Relaxed);
            self.keep(record(seq, self.record_bytes));
            write_snapshot(&mut snapshot, entities, seq);
            black_box(snapshot.as_mut_slice());
        }
        drop(snapshot);
        Burst {
            faults: count,
            records_retained: self.retained(),
            snapshot_bytes,
        }
    }

    fn keep(&self, record: Box<[u8]>) {
        let mut records = self.lock();
        records.push_back(record);
        if !self.retain {
            while records.len() > FAULT_RING {
                records.pop_front();
            }
        }
    }

    pub fn retained(&self) -> usize {
        self.lock().len()
    }

    pub fn bytes_retained(&self) -> u64 {
        self.retained() as u64 * self.record_bytes as u64
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Frees every retained record (used at shutdown so only real leaks remain).
    pub fn clear(&self) {
        let old = std::mem::take(&mut *self.lock());
        drop(old);
    }

    // Every operation under the lock is a single push/pop: poisoning is harmless.
    fn lock(&self) -> MutexGuard<'_, VecDeque<Box<[u8]>>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn record(seq: u64, bytes: usize) -> Box<[u8]> {
    let mut r = touched(bytes, 0xFA);
    let n = r.len().min(8);
    r[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
    r
}

fn write_snapshot(snapshot: &mut [u8], entities: &[Arc<Entity>], seq: u64) {
    for (slot, e) in snapshot
        .chunks_exact_mut(SNAPSHOT_BYTES_PER_ENTITY)
        .zip(entities)
    {
        slot[0..8].copy_from_slice(&e.id.to_le_bytes());
        slot[8..16].copy_from_slice(&(e.len() as u64).to_le_bytes());
        slot[16..24].copy_from_slice(&seq.to_le_bytes());
        let head = &e.data()[..e.len().min(40)];
        slot[24..24 + head.len()].copy_from_slice(head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::Entities;

    #[test]
    fn bounded_ring_keeps_last_64() {
        let f = Faults::new(100, false);
        let b = f.burst(100, &[]);
        assert_eq!(
            b,
            Burst {
                faults: 100,
                records_retained: 64,
                snapshot_bytes: 0
            }
        );
        assert_eq!(f.total(), 100);
        assert_eq!(f.bytes_retained(), 6400);
        f.clear();
        assert_eq!(f.retained(), 0);
    }

    #[test]
    fn retain_keeps_everything() {
        let f = Faults::new(10, true);
        f.burst(70, &[]);
        f.burst(30, &[]);
        assert_eq!(f.retained(), 100);
        assert_eq!(f.total(), 100);
    }

    #[test]
    fn snapshot_grows_with_entities() {
        let store = Entities::new(1000, 16);
        let b = Faults::new(8, false).burst(2, &store.snapshot());
        assert_eq!(b.snapshot_bytes, 64_000);
    }
}
