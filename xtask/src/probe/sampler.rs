//! A fixed-rate ticker on its own thread. Ticks are scheduled on a grid from
//! the start; a tick that comes due while the previous read is still running
//! is skipped and counted, never bunched. Each sample carries its monotonic
//! time and how long the read took; the thread's own CPU time is measured so
//! the sampler's cost is known.

use super::{Probe, Reading};
pub use crate::results::TickerStats;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Timed<T> {
    /// Seconds since the cell's origin.
    pub t: f64,
    /// Seconds the read took.
    pub read_s: f64,
    pub value: T,
}

pub type Sample = Timed<Reading>;

impl TickerStats {
    /// Sampler CPU as a fraction of one core.
    pub fn cpu_fraction(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.thread_cpu_s / self.wall_s
        } else {
            0.0
        }
    }
}

/// A running ticker. Dropping it stops the thread.
pub struct Ticker<T: Send + Clone + 'static> {
    stop: Arc<AtomicBool>,

    shared: Arc<Mutex<Vec<Timed<T>>>>,
    handle: Option<JoinHandle<TickerStats>>,
}

/// Adds the reader's own facts to the stats when the ticker ends.
type Finish = Box<dyn FnOnce(&mut TickerStats) + Send>;

/// Consecutive failed reads after which the ticker gives up (the target died).
const MAX_CONSECUTIVE_FAILURES: u32 = 20;

impl<T: Send + Clone + 'static> Ticker<T> {
    pub fn spawn<F>(name: &str, rate_hz: f64, origin: Instant, read: F) -> Ticker<T>
    where
        F: FnMut() -> anyhow::Result<T> + Send + 'static,
    {
        Ticker::spawn_tolerant(name, rate_hz, origin, MAX_CONSECUTIVE_FAILURES, read)
    }

    /// Like [`Ticker::spawn`], giving up only after `max_failures`
    /// consecutive failed reads (a target that restarts on purpose is
    /// unreadable for a while).
    pub fn spawn_tolerant<F>(
        name: &str,
        rate_hz: f64,
        origin: Instant,
        max_failures: u32,
        read: F,
    ) -> Ticker<T>
    where
        F: FnMut() -> anyhow::Result<T> + Send + 'static,
    {
        Ticker::spawn_counting(name, rate_hz, origin, max_failures, |_| 0, read, None)
    }

    /// `vanished` tells how many processes a value skipped; `finish` adds
    /// to the stats what the reader knows at the end.
    fn spawn_counting<F>(
        name: &str,
        rate_hz: f64,
        origin: Instant,
        max_failures: u32,
        vanished: fn(&T) -> u64,
        mut read: F,
        finish: Option<Finish>,
    ) -> Ticker<T>
    where
        F: FnMut() -> anyhow::Result<T> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Vec::new()));
        let (stop2, shared2) = (stop.clone(), shared.clone());
        let period = Duration::from_secs_f64(1.0 / rate_hz);
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let cpu0 = thread_cpu();
                let start = Instant::now();
                let mut stats = TickerStats {
                    target_hz: rate_hz,
                    ..Default::default()
                };
                let mut next = start;
                let mut read_total = 0.0;
                let mut consecutive = 0;
                while !stop2.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if next > now {
                        // Sleep in slices so a stop request is seen quickly.
                        std::thread::sleep((next - now).min(Duration::from_millis(50)));
                        continue;
                    }
                    let t0 = Instant::now();
                    match read() {
                        Ok(value) => {
                            let read_s = t0.elapsed().as_secs_f64();
                            read_total += read_s;
                            stats.samples += 1;
                            stats.vanished += vanished(&value);
                            consecutive = 0;
                            let t = t0.duration_since(origin).as_secs_f64();
                            shared2
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(Timed { t, read_s, value });
                        }
                        Err(e) => {
                            stats.failed_reads += 1;
                            consecutive += 1;
                            stats.last_error = Some(format!("{e:#}"));
                            if consecutive >= max_failures.max(1) {
                                break;
                            }
                        }
                    }
                    next += period;
                    let now = Instant::now();
                    if now > next {
                        let behind = (now - next).as_secs_f64() / period.as_secs_f64();
                        let skip = behind.ceil() as u32;
                        stats.missed_ticks += u64::from(skip);
                        next += period * skip;
                    }
                }
                stats.wall_s = start.elapsed().as_secs_f64();
                stats.thread_cpu_s = thread_cpu() - cpu0;
                stats.achieved_hz = if stats.wall_s > 0.0 {
                    stats.samples as f64 / stats.wall_s
                } else {
                    0.0
                };
                stats.mean_read_s = if stats.samples > 0 {
                    read_total / stats.samples as f64
                } else {
                    0.0
                };
                if let Some(f) = finish {
                    f(&mut stats);
                }
                stats
            })
            .expect("spawn sampler thread");
        Ticker {
            stop,
            shared,
            handle: Some(handle),
        }
    }

    /// A copy of the samples so far.
    pub fn snapshot(&self) -> Vec<Timed<T>> {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the thread has ended by itself (too many failed reads).
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    pub fn stop(mut self) -> (Vec<Timed<T>>, TickerStats) {
        self.stop.store(true, Ordering::Relaxed);
        let stats = self
            .handle
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let samples = std::mem::take(&mut *self.shared.lock().unwrap_or_else(|p| p.into_inner()));
        (samples, stats)
    }
}

impl<T: Send + Clone + 'static> Drop for Ticker<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Samples a [`Probe`] at a fixed rate.
pub fn spawn_probe(probe: Box<dyn Probe>, rate_hz: f64, origin: Instant) -> Ticker<Reading> {
    sample_probe(probe, rate_hz, origin, MAX_CONSECUTIVE_FAILURES)
}

/// Samples a [`Probe`] at a fixed rate through gaps of up to `tolerate`
/// in which every read fails (the target restarting); the probe re-attaches.
pub fn spawn_probe_tolerant(
    probe: Box<dyn Probe>,
    rate_hz: f64,
    origin: Instant,
    tolerate: Duration,
) -> Ticker<Reading> {
    let max = (tolerate.as_secs_f64() * rate_hz)
        .ceil()
        .min(f64::from(u32::MAX)) as u32;
    sample_probe(probe, rate_hz, origin, max)
}

/// The sampler thread of a probe, counting the processes its reads
/// skipped; at the end the stats record what the probe could not read.
fn sample_probe(
    probe: Box<dyn Probe>,
    rate_hz: f64,
    origin: Instant,
    max_failures: u32,
) -> Ticker<Reading> {
    // Shared with the finishing hook; only the sampler thread locks it.
    let probe = Arc::new(Mutex::new(probe));
    let at_end = probe.clone();
    Ticker::spawn_counting(
        "runcost-sampler",
        rate_hz,
        origin,
        max_failures,
        |r| u64::from(r.vanished),
        move || probe.lock().unwrap_or_else(|p| p.into_inner()).read(),
        Some(Box::new(move |stats: &mut TickerStats| {
            let probe = at_end.lock().unwrap_or_else(|p| p.into_inner());
            stats.unavailable = probe
                .unavailable()
                .into_iter()
                .map(|(metric, why)| (metric.to_string(), why))
                .collect();
        })),
    )
}

fn thread_cpu() -> f64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_on_a_grid_and_counts_misses() {
        let origin = Instant::now();
        let t = Ticker::spawn("t", 100.0, origin, || Ok(1u8));
        std::thread::sleep(Duration::from_millis(300));
        let (s, st) = t.stop();
        assert!(s.len() >= 10, "{} samples", s.len());
        assert!(s.windows(2).all(|w| w[1].t > w[0].t));
        assert_eq!(st.samples as usize, s.len());

        // A read slower than the period skips ticks instead of bunching them.
        let t = Ticker::spawn("slow", 100.0, origin, || {
            std::thread::sleep(Duration::from_millis(25));
            Ok(0u8)
        });
        std::thread::sleep(Duration::from_millis(300));
        let (s, st) = t.stop();
        assert!(st.missed_ticks > 0);
        assert!(s.windows(2).all(|w| w[1].t - w[0].t >= 0.02));
    }

    #[test]
    fn tolerant_ticker_rides_out_a_gap() {
        // Reads fail for a stretch in the middle, as while a container
        // restarts; the tolerant ticker keeps going and samples after it.
        let origin = Instant::now();
        let mut n = 0u32;
        let t = Ticker::spawn_tolerant("gap", 200.0, origin, 100, move || {
            n += 1;
            if (10..60).contains(&n) {
                anyhow::bail!("restarting")
            }
            Ok(n)
        });
        std::thread::sleep(Duration::from_millis(600));
        let (s, st) = t.stop();
        assert_eq!(st.failed_reads, 50);
        assert!(s.iter().any(|x| x.value >= 60), "no sample after the gap");
    }

    #[test]
    fn records_what_the_probe_cannot_read() {
        struct NoGroup;
        impl Probe for NoGroup {
            fn read(&mut self) -> anyhow::Result<Reading> {
                Ok(Reading::default())
            }
            fn unavailable(&self) -> Vec<(&'static str, String)> {
                vec![("group_unique", "no CAP_SYS_ADMIN".into())]
            }
        }
        let t = spawn_probe(Box::new(NoGroup), 100.0, Instant::now());
        std::thread::sleep(Duration::from_millis(50));
        let (s, st) = t.stop();
        assert!(!s.is_empty());
        assert!(s.iter().all(|x| x.value.group_unique.is_none()));
        assert_eq!(
            st.unavailable.get("group_unique").map(String::as_str),
            Some("no CAP_SYS_ADMIN")
        );
    }

    #[test]
    fn gives_up_after_repeated_failures() {
        let t: Ticker<u8> = Ticker::spawn("fail", 1000.0, Instant::now(), || anyhow::bail!("gone"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !t.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let (s, st) = t.stop();
        assert!(s.is_empty());
        assert_eq!(st.failed_reads, u64::from(MAX_CONSECUTIVE_FAILURES));
        assert_eq!(st.last_error.as_deref(), Some("gone"));
    }
}
