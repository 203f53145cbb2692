//! The entity store: the memory that scales as `ENTITY_BYTES * ENTITIES^GROWTH_K`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::memory::touched;

pub struct Entity {
    pub id: u64,
    data: Box<[u8]>,
}

impl Entity {
    fn new(id: u64, size: usize) -> Entity {
        // Vary the fill per entity so no two buffers are page-identical
        // (same-page merging must not make memory look cheaper than it is).
        let pattern = 1 + (id % 255) as u8;
        Entity {
            id,
            data: touched(size, pattern),
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn checksum(&self) -> u64 {
        checksum(&self.data)
    }
}

/// FNV-1a over 64-bit words: reads every byte, and the serial multiply chain
/// keeps the cost linear in the size (it cannot be vectorised away).
pub fn checksum(data: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(PRIME);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h
}

/// Entities are shared as `Arc` so the refresh pass and fault snapshots can
/// walk a copy of the list without holding the lock; a DELETE never waits
/// for a long pass, and a pass never sees a freed buffer.
pub struct Entities {
    map: RwLock<HashMap<u64, Arc<Entity>>>,
    next_id: AtomicU64,
    size: usize,
}

impl Entities {
    /// Creates `count` entities with ids `0..count`, each `size` bytes.
    pub fn new(count: u64, size: usize) -> Entities {
        let mut map = HashMap::with_capacity(count as usize);
        for id in 0..count {
            map.insert(id, Arc::new(Entity::new(id, size)));
        }
        Entities {
            map: RwLock::new(map),
            next_id: AtomicU64::new(count),
            size,
        }
    }

    /// Size in bytes of every entity buffer.
    pub fn entity_size(&self) -> usize {
        self.size
    }

    pub fn create(&self) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // Allocate and fill outside the lock.
        let entity = Arc::new(Entity::new(id, self.size));
        self.write().insert(id, entity);
        id
    }

    pub fn get(&self, id: u64) -> Option<Arc<Entity>> {
        self.read().get(&id).cloned()
    }

    pub fn remove(&self, id: u64) -> Option<Arc<Entity>> {
        self.write().remove(&id)
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// All current entities, in no particular order.
    pub fn snapshot(&self) -> Vec<Arc<Entity>> {
        self.read().values().cloned().collect()
    }

    /// Drops every entity; returns how many there were.
    pub fn clear(&self) -> usize {
        let old = std::mem::take(&mut *self.write());
        old.len()
    }

    // A panic while holding the lock cannot leave the map inconsistent
    // (every operation is a single insert/remove), so poisoning is ignored.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<u64, Arc<Entity>>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<u64, Arc<Entity>>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// One refresh pass: checksums every byte of every entity. Returns `None` if
/// `stop` was raised part way (shutdown must not wait for a long pass).
pub fn refresh_pass(entities: &[Arc<Entity>], stop: &AtomicBool) -> Option<u64> {
    let mut acc = 0u64;
    for e in entities {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        acc ^= std::hint::black_box(e.checksum());
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_lifecycle() {
        let s = Entities::new(3, 100);
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(2).map(|e| e.len()), Some(100));
        assert!(s.get(3).is_none());
        let id = s.create();
        assert_eq!(id, 3);
        assert_eq!(s.get(3).map(|e| e.len()), Some(100));
        assert!(s.remove(0).is_some());
        assert!(s.remove(0).is_none());
        assert_eq!(s.snapshot().len(), 3);
        assert_eq!(s.clear(), 3);
        assert!(s.is_empty());
    }

    #[test]
    fn entity_memory_is_written() {
        let s = Entities::new(2, 5000);
        for e in s.snapshot() {
            assert!(e.data().iter().all(|&b| b != 0));
        }
    }

    #[test]
    fn checksum_reads_every_byte() {
        let mut a = vec![1u8; 1001];
        let c = checksum(&a);
        a[1000] = 2;
        assert_ne!(checksum(&a), c);
        a[3] = 9;
        assert_ne!(checksum(&a), c);
    }

    #[test]
    fn refresh_stops_on_request() {
        let s = Entities::new(4, 64);
        assert!(refresh_pass(&s.snapshot(), &AtomicBool::new(false)).is_some());
        assert!(refresh_pass(&s.snapshot(), &AtomicBool::new(true)).is_none());
    }
}
