//! Periodic tasks: refresh (CPU), leak (memory) and stall (latency).

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{interval_at, sleep, Instant, MissedTickBehavior};

use crate::entities::refresh_pass;
use crate::leak::{bytes_for_tick, leak_tick, TICK_MS};
use crate::state::State;

/// Starts the tasks the configuration enables. Abort the set to stop them.
pub fn spawn(state: &Arc<State>) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let c = &state.config;
    if c.refresh_ms > 0 {
        tasks.spawn(refresh(state.clone(), Duration::from_millis(c.refresh_ms)));
    }
    if c.leak_bytes_per_s > 0 {
        tasks.spawn(leak(state.clone(), c.leak_bytes_per_s));
    }
    if c.stall_enabled() {
        tasks.spawn(stall(
            state.clone(),
            Duration::from_secs(c.stall_every_s),
            Duration::from_millis(c.stall_ms),
        ));
    }
    tasks
}

/// Every `period`, checksums every entity byte. The pass runs on a thread
/// of its own named `refresh`, so its CPU time never delays request
/// handling on the workers (only the stall knob is meant to do that) and
/// a per-thread CPU breakdown finds it by name. A pass longer than the
/// period delays the next one rather than piling up.
async fn refresh(state: Arc<State>, period: Duration) {
    type Pass = (
        Vec<std::sync::Arc<crate::entities::Entity>>,
        tokio::sync::oneshot::Sender<Option<u64>>,
    );
    let (tx, rx) = std::sync::mpsc::channel::<Pass>();
    let st = state.clone();
    // Ends when this task is aborted (the sender drops).
    let spawned = std::thread::Builder::new()
        .name("refresh".into())
        .spawn(move || {
            for (entities, done) in rx {
                let _ = done.send(refresh_pass(&entities, &st.stopping));
            }
        });
    if spawned.is_err() {
        return;
    }
    let mut ticks = interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let entities = state.entities.snapshot();
        let started = std::time::Instant::now();
        let (done, pass) = tokio::sync::oneshot::channel();
        if tx.send((entities, done)).is_err() {
            return;
        }
        if let Ok(Some(sum)) = pass.await {
            black_box(sum);
            let us = started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
            state.refresh_last_us.store(us, Ordering::Relaxed);
            state.refreshes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Leaks `rate` bytes per second in ten slices. Missed ticks are caught up
/// (tokio's default Burst behaviour) so the long-run rate stays exact.
async fn leak(state: Arc<State>, rate: u64) {
    let period = Duration::from_millis(TICK_MS);
    let mut ticks = interval_at(Instant::now() + period, period);
    let mut n: u64 = 0;
    loop {
        ticks.tick().await;
        n += 1;
        let bytes = bytes_for_tick(rate, n);
        if bytes > 0 {
            leak_tick(bytes as usize);
            state.leaked_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

/// Every `every`, holds the gate's write side for `length`.
async fn stall(state: Arc<State>, every: Duration, length: Duration) {
    let mut ticks = interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let closed = state.gate.write().await;
        state.stalls.fetch_add(1, Ordering::Relaxed);
        sleep(length).await;
        drop(closed);
    }
}
