//! The stability soak: one box under a steady load for minutes, its host
//! memory read over time; does the box's host side grow?
//!
//! Load: one exec of `true` every [`EXEC_PERIOD`] (10 Hz), paced (an exec
//! that overruns its slot delays the next; missed slots are not caught up
//! in a burst). An exec stream rather than a CPU loop in the box: what
//! leaks in a long-lived sandbox is the host-side per-request path (the
//! engine's exec API, the shim and `runc exec` for a container; the
//! virtio-console stream, the VMM's queues and the agent for a VM), and a
//! CPU loop crosses none of it. 10 Hz keeps the box busy without saturating
//! it (a container exec takes 20–60 ms here, a VM exec a few ms) and leaves
//! the second core of a small host to the sampler.
//!
//! Readings: host PSS of the box's host processes (`host_pids`: the VMM;
//! the container's processes with their shim; the CLI box's cgroup) every
//! [`sample_period`] (the soak / 120, within 250 ms–5 s), between execs.
//! Warm-up ([`warmup`]): the first fifth of the soak, at least 10 s (at
//! most half a short soak), is recorded but left out of the fit. A runc
//! box's host side settles over its first ~200 execs: its host PSS rose
//! ~25 KiB/s over the first 20 s of a soak here (the shim's heap growing
//! to its collector's target), then ~4 KiB/s; a fit from the start would
//! name that settling a leak.
//!
//! Analysis: `runcost_stats::leak_test` over (t, PSS) after the warm-up:
//! LEAK when the autocorrelation-corrected OLS slope interval lies above 0,
//! the slope above [`SLOPE_FLOOR`] and Mann–Kendall agrees; NO LEAK when
//! the interval's upper bound is at most the floor; otherwise INCONCLUSIVE
//! (a longer soak narrows the interval).
//!
//! Faults: an exec that fails, or a reading that finds no host process, is
//! the box's death: the series ends at the last good reading, nothing is
//! recorded as 0, and the test is drawn from what came before.
//!
//! Calibration: `planted_leak` starts a process in the box whose memory
//! grows at a given rate (a shell variable appended to; anonymous memory
//! of a box process for a container, guest RAM touched for a VM: both are
//! the box's host PSS), so the verdict can be shown to name a leak.

use super::trivial;
use crate::boxes::BoxBackend;
use crate::events::{Event, Events};
use crate::results::boxaxes::{PssSample, SoakResult, SoakTest};
use crate::results::boxes::Quantiles;
use anyhow::anyhow;
use runcost_stats::leak::LEAK_MIN_POINTS;
use runcost_stats::{leak_test, LeakOptions};
use std::time::{Duration, Instant};

/// One exec of the steady stream every 100 ms.
pub const EXEC_PERIOD: Duration = Duration::from_millis(100);
/// The first fifth of the soak is warm-up …
pub const WARMUP_SHARE: f64 = 0.2;
/// … and at least this long (at most half the soak).
pub const WARMUP_MIN: Duration = Duration::from_secs(10);
/// 1 MiB of host memory per minute (≈ 17.1 KiB/s, 1.4 GiB a day): less is
/// not named a leak.
pub const SLOPE_FLOOR: f64 = 1048576.0 / 60.0;
/// The leak test's two-sided level.
pub const LEVEL: f64 = 0.95;
/// The planted leak appends a chunk this often.
const PLANT_PERIOD_S: f64 = 0.2;

pub struct SoakOpts {
    pub duration: Duration,
    /// Bytes/s a planted process grows by (calibration), or none.
    pub planted_leak: Option<u64>,
}

/// About 120 readings over the soak, at least 250 ms and at most 5 s apart.
pub fn sample_period(soak: Duration) -> Duration {
    (soak / 120).clamp(Duration::from_millis(250), Duration::from_secs(5))
}

/// The part of a soak left out of the fit.
pub fn warmup(soak: Duration) -> Duration {
    soak.mul_f64(WARMUP_SHARE).max(WARMUP_MIN).min(soak / 2)
}

/// Shortest soak whose fit has the leak test's minimum of readings (a
/// short soak's warm-up is half of it).
pub fn min_soak() -> Duration {
    let need = (LEAK_MIN_POINTS + 2) as f64 * sample_period(Duration::ZERO).as_secs_f64();
    Duration::from_secs_f64((need * 2.0).ceil())
}

/// The planted leak: a background shell appending `rate × 0.2 s` bytes to
/// a variable every 0.2 s (the old value is freed, the new one is larger:
/// the process's memory grows by about `rate` per second). It prints its
/// pid. Only numbers reach the shell.
pub fn plant_argv(rate: u64) -> Vec<String> {
    let chunk = ((rate as f64 * PLANT_PERIOD_S) as u64).max(1);
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "(c=$(head -c {chunk} /dev/zero | tr '\\0' x); x=; while :; do x=\"$x$c\"; sleep {PLANT_PERIOD_S}; done) >/dev/null 2>&1 </dev/null & echo $!"
        ),
    ]
}

/// The leak test over the readings at or after `warmup_s`.
pub fn analyse(samples: &[PssSample], warmup_s: f64) -> (Option<SoakTest>, Option<String>) {
    let fit: Vec<&PssSample> = samples.iter().filter(|s| s.t_s >= warmup_s).collect();
    if fit.len() < LEAK_MIN_POINTS {
        return (
            None,
            Some(format!(
                "{} reading(s) after the {warmup_s:.1} s warm-up: the leak test needs at least {LEAK_MIN_POINTS}",
                fit.len()
            )),
        );
    }
    let t: Vec<f64> = fit.iter().map(|s| s.t_s).collect();
    let y: Vec<f64> = fit.iter().map(|s| s.pss_bytes as f64).collect();
    let opts = LeakOptions {
        level: LEVEL,
        slope_floor: SLOPE_FLOOR,
    };
    match leak_test(&t, &y, &opts) {
        Ok(r) => (
            Some(SoakTest {
                n: r.n,
                fit_from_s: t[0],
                fit_span_s: r.duration_s,
                slope: r.slope,
                slope_lower: r.slope_ci.lower,
                slope_upper: r.slope_ci.upper,
                level: LEVEL,
                n_eff: r.slope_fit.n_eff,
                theil_sen_slope: r.theil_sen_slope,
                mk_p_value: r.mk_p_value,
                slope_floor: SLOPE_FLOOR,
                verdict: r.verdict,
            }),
            None,
        ),
        Err(e) => (None, Some(format!("leak test: {e}"))),
    }
}

/// The soak on a started box. The second value is the death (exec index,
/// cause) that ended it early, for the caller to record and tear down.
pub async fn run<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    o: &SoakOpts,
    events: &dyn Events,
) -> (SoakResult, Option<(u32, anyhow::Error)>) {
    let period = sample_period(o.duration);
    let warmup_s = warmup(o.duration).as_secs_f64();
    let command = trivial();
    events.emit(Event::Note(format!(
        "{} stability: soak {:.0} s, one `true` every {} ms, host PSS every {} ms{}",
        b.kind(),
        o.duration.as_secs_f64(),
        EXEC_PERIOD.as_millis(),
        period.as_millis(),
        o.planted_leak
            .map(|r| format!(", PLANTED leak of {} KiB/s", r >> 10))
            .unwrap_or_default()
    )));
    let mut result = SoakResult {
        duration_s: o.duration.as_secs_f64(),
        ran_s: 0.0,
        exec_period_s: EXEC_PERIOD.as_secs_f64(),
        command: command.clone(),
        sample_period_s: period.as_secs_f64(),
        warmup_s,
        planted_leak_bytes_per_s: o.planted_leak,
        host_processes: b.host_pids(h).len() as u32,
        samples: Vec::new(),
        exec_s: Vec::new(),
        exec_q: None,
        test: None,
        note: None,
    };
    let death = stream(b, h, o, period, &command, &mut result).await;
    result.exec_q = Quantiles::of(&result.exec_s);
    let (test, note) = analyse(&result.samples, warmup_s);
    result.test = test;
    result.note = note;
    (result, death)
}

/// The paced exec stream and the readings between execs, until the soak's
/// end or the box's death.
async fn stream<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    o: &SoakOpts,
    period: Duration,
    command: &[String],
    r: &mut SoakResult,
) -> Option<(u32, anyhow::Error)> {
    if let Some(rate) = o.planted_leak {
        match b.exec(h, &plant_argv(rate), &[]).await {
            Ok(out) if out.exit_code == 0 => {}
            Ok(out) => {
                return Some((
                    0,
                    anyhow!(
                        "the planted leak did not start: exit {}: {}",
                        out.exit_code,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                ))
            }
            Err(e) => return Some((0, e.context("start the planted leak"))),
        }
    }
    let start = Instant::now();
    let end = start + o.duration;
    let mut next_exec = start;
    let mut next_sample = start;
    let mut execs = 0u32;
    let death = loop {
        let now = Instant::now();
        if now >= end {
            break None;
        }
        if now >= next_sample {
            let pids = b.host_pids(h);
            let pss = crate::boxes::pss_of(&pids);
            if pids.is_empty() || pss == 0 {
                break Some((execs, anyhow!("the box has no host process left to read")));
            }
            r.samples.push(PssSample {
                t_s: start.elapsed().as_secs_f64(),
                pss_bytes: pss,
            });
            while next_sample <= Instant::now() {
                next_sample += period;
            }
        }
        if Instant::now() >= next_exec {
            let t = Instant::now();
            match b.exec(h, command, &[]).await {
                Ok(out) if out.exit_code == 0 => r.exec_s.push(t.elapsed().as_secs_f64()),
                Ok(out) => {
                    break Some((
                        execs,
                        anyhow!(
                            "{command:?} exited {} in the box: {}",
                            out.exit_code,
                            String::from_utf8_lossy(&out.stderr).trim()
                        ),
                    ))
                }
                Err(e) => break Some((execs, e)),
            }
            execs += 1;
            next_exec += EXEC_PERIOD;
            // An overrun delays the stream; it is not caught up in a burst.
            next_exec = next_exec.max(Instant::now());
        }
        let wake = next_exec.min(next_sample).min(end);
        tokio::time::sleep_until(wake.into()).await;
    };
    r.ran_s = start.elapsed().as_secs_f64();
    death
}

#[cfg(test)]
mod tests {
    use super::*;
    use runcost_stats::LeakVerdict;

    /// Deterministic noise in [-1, 1).
    fn noise(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// `n` readings `dt` apart: 20 MiB + slope × t ± `jitter` bytes, with a
    /// warm-up rise of `warm` bytes over the first fifth.
    fn series(n: usize, dt: f64, slope: f64, jitter: f64, warm: f64) -> Vec<PssSample> {
        let span = n as f64 * dt;
        noise(5, n)
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let t = i as f64 * dt;
                let w = warm * (t / (WARMUP_SHARE * span)).min(1.0);
                PssSample {
                    t_s: t,
                    pss_bytes: (20e6 + w + slope * t + jitter * e) as u64,
                }
            })
            .collect()
    }

    #[test]
    fn a_flat_box_is_no_leak_even_after_a_warm_up_rise() {
        // 2 min at 1 s, ± 64 KiB, 4 MiB of warm-up growth excluded.
        let s = series(120, 1.0, 0.0, 65536.0, 4e6);
        let (t, note) = analyse(&s, 24.0);
        let t = t.unwrap_or_else(|| panic!("{note:?}"));
        assert_eq!(t.verdict, LeakVerdict::NoLeak, "{t:?}");
        assert!(t.fit_from_s >= 24.0 && t.n == 96, "{t:?}");
        // The same series fitted from 0 sees the warm-up as growth.
        let (t0, _) = analyse(&s, 0.0);
        assert!(t0.unwrap().slope > SLOPE_FLOOR);
    }

    #[test]
    fn a_planted_256_kib_per_s_is_a_leak_with_its_slope() {
        // 30 s at 250 ms, ± 128 KiB.
        let s = series(120, 0.25, 262144.0, 131072.0, 0.0);
        let (t, _) = analyse(&s, 6.0);
        let t = t.unwrap();
        assert_eq!(t.verdict, LeakVerdict::Leak, "{t:?}");
        assert!(
            t.slope_lower < 262144.0 && 262144.0 < t.slope_upper,
            "{t:?}"
        );
    }

    #[test]
    fn growth_near_the_floor_in_a_short_noisy_soak_is_inconclusive() {
        // 20 s at 250 ms, ± 1 MiB, growing at the floor.
        let s = series(80, 0.25, SLOPE_FLOOR, 1048576.0, 0.0);
        let (t, _) = analyse(&s, 4.0);
        assert_eq!(t.unwrap().verdict, LeakVerdict::Inconclusive);
    }

    #[test]
    fn too_few_readings_after_the_warm_up_give_a_note_not_a_verdict() {
        let s = series(12, 0.25, 0.0, 0.0, 0.0);
        let (t, note) = analyse(&s, 1.0);
        assert!(t.is_none());
        assert!(note.unwrap().contains("needs at least 10"));
    }

    #[test]
    fn sampling_and_the_shortest_soak() {
        assert_eq!(
            sample_period(Duration::from_secs(120)),
            Duration::from_secs(1)
        );
        assert_eq!(
            sample_period(Duration::from_secs(10)),
            Duration::from_millis(250)
        );
        assert_eq!(
            sample_period(Duration::from_secs(3600)),
            Duration::from_secs(5)
        );
        // 12 readings at 250 ms after a warm-up of half the soak.
        assert_eq!(min_soak(), Duration::from_secs(6));
        assert_eq!(warmup(Duration::from_secs(120)), Duration::from_secs(24));
        assert_eq!(warmup(Duration::from_secs(30)), Duration::from_secs(10));
        assert_eq!(warmup(Duration::from_secs(8)), Duration::from_secs(4));
    }

    #[test]
    fn the_planted_leak_is_numbers_only() {
        let a = plant_argv(262144);
        assert_eq!(a[0], "sh");
        assert!(a[2].contains("head -c 52428 /dev/zero"), "{}", a[2]);
        assert!(a[2].ends_with("& echo $!"));
    }
}
