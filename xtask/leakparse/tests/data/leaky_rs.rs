//! leaky_rs.rs: Rust fixture program for runcost-leakparse.
//! Leaks 4096 bytes through a generic method (definitely lost), 48 bytes of
//! Strings held by a leaked Vec's buffer (indirectly lost), plus 100 temporary Vec<u64>s.
use std::collections::HashMap;
use std::hint::black_box;

pub struct Registry<K, V> {
    map: HashMap<K, Vec<V>>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> Registry<K, V> {
    #[inline(never)]
    pub fn new() -> Self {
        Registry { map: HashMap::new() }
    }

    #[inline(never)]
    pub fn leak_bucket(&mut self, key: &K, n: usize, v: V) {
        let bucket: Vec<V> = vec![v; n];
        // Forget the buffer: definitely lost.
        std::mem::forget(black_box(bucket));
        self.map.entry(key.clone()).or_default();
    }
}

#[inline(never)]
fn leak_strings() {
    // A leaked Vec whose buffer holds Strings: the Strings' heap blocks are indirectly lost.
    let v: Vec<String> = (0..3).map(|i| format!("s{i:015}")).collect();
    std::mem::forget(black_box(v));
}

#[inline(never)]
fn temporaries() -> u64 {
    let mut acc = 0u64;
    for i in 0..100u64 {
        let t: Vec<u64> = black_box(vec![i; 8]);
        acc += t.iter().sum::<u64>();
    }
    acc
}

fn main() {
    let mut reg: Registry<String, u64> = Registry::new();
    reg.leak_bucket(&"k".to_string(), 512, 7u64);
    leak_strings();
    let acc = temporaries();
    drop(reg);
    println!("done {acc}");
}
