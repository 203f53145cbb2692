//! Warm-up: the one rule for "the target has settled", used by every lane
//! that waits for a steady state before it measures.
//!
//! The judge is the stats crate's steady-state detector
//! (`runcost_stats::steady::detect_steady_state`: a trailing-window slope
//! test with quadratic-residual noise and a pooled autocorrelation time),
//! applied online to the samples taken since warm-up began, on one metric,
//! with the profile's `steady` window and floor. The source of samples is
//! either a running ticker (footprint, scaling, sweep, load) or reads the
//! lane makes itself at its own moments (churn).

use super::analysis;
use super::cell::Liveness;
use crate::probe::sampler::{Sample, Ticker};
use crate::probe::{Probe, Reading};
use crate::profile::SteadySpec;
use crate::results::MetricKind;
use anyhow::Result;
use runcost_stats::steady::{detect_steady_state, SteadyOptions, Window};
use std::time::{Duration, Instant};

/// Fewest samples in a trailing window before it is judged.
pub const MIN_POINTS: usize = 5;

/// What a lane asks of its warm-up.
#[derive(Clone, Copy, Debug)]
pub struct WarmUp {
    /// The metric that must be flat.
    pub metric: MetricKind,
    /// Wait at least this long.
    pub min: Duration,
    /// Give up (not steady) after this long.
    pub cap: Duration,
    /// How often the samples are judged.
    pub poll: Duration,
}

/// Where warm-up samples come from.
pub trait Source {
    /// The samples so far (oldest first); an error ends the warm-up (the
    /// target died, the sampler gave up).
    async fn samples(&mut self) -> Result<&[Sample]>;
}

/// Whether the samples taken at or after `since` are steady by `rule`: the
/// time (on the samples' clock) at which steadiness was detected.
pub fn steady_at(
    samples: &[Sample],
    since: f64,
    metric: MetricKind,
    rule: &SteadySpec,
) -> Option<f64> {
    let tail: Vec<Sample> = samples.iter().filter(|s| s.t >= since).copied().collect();
    let window = rule.window.0.as_secs_f64();
    let last = tail.last()?.t;
    if tail.len() < MIN_POINTS || last - since < window {
        return None;
    }
    let t: Vec<f64> = tail.iter().map(|s| s.t).collect();
    let y = analysis::series(&tail, metric);
    // Page-quantised memory is often exactly constant: no slope, flat.
    let recent = t.partition_point(|&x| x < last - window);
    if y[recent..].windows(2).all(|w| w[0] == w[1]) {
        return Some(last);
    }
    let opts = SteadyOptions {
        window: Window::Seconds(window),
        slope_floor: rule.floor_bytes_per_s,
        level: analysis::LEVEL,
        min_points: MIN_POINTS,
    };
    match detect_steady_state(&t, &y, &opts) {
        Ok(Some(s)) => Some(t[s.detected_at_index]),
        Ok(None) => None,
        Err(e) => {
            tracing::debug!("steady-state check: {e}");
            None
        }
    }
}

/// Waits until the source's samples are steady; the seconds waited when
/// they became steady, `None` when the cap ran out first.
pub async fn until_steady(
    source: &mut impl Source,
    rule: &SteadySpec,
    how: WarmUp,
    origin: Instant,
) -> Result<Option<f64>> {
    let start = Instant::now();
    let since = origin.elapsed().as_secs_f64();
    loop {
        let samples = source.samples().await?;
        let waited = start.elapsed();
        if waited >= how.min && steady_at(samples, since, how.metric, rule).is_some() {
            return Ok(Some(waited.as_secs_f64()));
        }
        if waited >= how.cap.max(how.min) {
            return Ok(None);
        }
        tokio::time::sleep(how.poll).await;
    }
}

/// A running ticker as the source; fails when the target died.
pub struct FromTicker<'t> {
    pub ticker: &'t Ticker<Reading>,
    pub live: Liveness<'t>,
    pub buf: Vec<Sample>,
}

impl Source for FromTicker<'_> {
    async fn samples(&mut self) -> Result<&[Sample]> {
        self.live.check(self.ticker).await?;
        self.buf = self.ticker.snapshot();
        Ok(&self.buf)
    }
}

/// Reads the lane makes itself, one per poll.
pub struct FromReads<'p> {
    pub probe: &'p mut Box<dyn Probe>,
    pub origin: Instant,
    pub buf: Vec<Sample>,
}

impl Source for FromReads<'_> {
    async fn samples(&mut self) -> Result<&[Sample]> {
        let s = read_now(self.probe, self.origin)?;
        self.buf.push(s);
        Ok(&self.buf)
    }
}

/// One reading now (blocking is fine: a host read takes ~0.1 ms; the exec
/// probe drives its own stream).
pub fn read_now(probe: &mut Box<dyn Probe>, origin: Instant) -> Result<Sample> {
    let t0 = Instant::now();
    let value = tokio::task::block_in_place(|| probe.read())?;
    Ok(Sample {
        t: origin.elapsed().as_secs_f64(),
        read_s: t0.elapsed().as_secs_f64(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::HumanDuration;

    fn rule(window_s: u64) -> SteadySpec {
        SteadySpec {
            floor_bytes_per_s: 1024.0,
            window: HumanDuration(Duration::from_secs(window_s)),
            timeout: HumanDuration(Duration::from_secs(60)),
        }
    }

    fn at(t: f64, uss: f64) -> Sample {
        Sample {
            t,
            read_s: 0.0,
            value: Reading {
                uss: uss as u64,
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_warming_target_settles_after_its_ramp() {
        // 10 Hz: a 1 MiB/s ramp for 10 s, then flat with page-sized noise.
        let s: Vec<Sample> = (0..300)
            .map(|i| {
                let t = i as f64 * 0.1;
                let ramp = t.min(10.0) * 1048576.0;
                let noise = ((i * 7919) % 5) as f64 * 4096.0;
                at(t, 50e6 + ramp + noise)
            })
            .collect();
        let at_s = steady_at(&s, 0.0, MetricKind::Uss, &rule(5)).expect("steady");
        assert!(at_s >= 10.0, "steady at {at_s} s, inside the ramp");
        assert!(at_s <= 20.0, "steady only at {at_s} s");
        // The ramp alone never settles.
        assert_eq!(steady_at(&s[..100], 0.0, MetricKind::Uss, &rule(5)), None);
    }

    #[test]
    fn constant_memory_is_flat_and_short_series_are_not_judged() {
        let s: Vec<Sample> = (0..60).map(|i| at(i as f64 * 0.1, 1e6)).collect();
        assert_eq!(steady_at(&s, 0.0, MetricKind::Uss, &rule(5)), Some(5.9));
        assert_eq!(steady_at(&s[..40], 0.0, MetricKind::Uss, &rule(5)), None);
        assert_eq!(steady_at(&s, 3.0, MetricKind::Uss, &rule(5)), None);
    }

    #[test]
    fn flat_and_rising_windows() {
        // The assertions of the harness's former flatness rule, on the one rule.
        let rule = SteadySpec {
            floor_bytes_per_s: 64.0 * 1024.0,
            ..rule(4)
        };
        let noisy: Vec<Sample> = (0..50)
            .map(|i| at(i as f64 * 0.1, 1e8 + ((i * 7919) % 13) as f64 * 1000.0))
            .collect();
        assert!(steady_at(&noisy, 0.0, MetricKind::Uss, &rule).is_some());
        let rising: Vec<Sample> = (0..50)
            .map(|i| at(i as f64 * 0.1, 1e8 + i as f64 * 1e6))
            .collect();
        assert_eq!(steady_at(&rising, 0.0, MetricKind::Uss, &rule), None);
        let constant: Vec<Sample> = (0..50).map(|i| at(i as f64 * 0.1, 5.0)).collect();
        assert!(steady_at(
            &constant,
            0.0,
            MetricKind::Uss,
            &SteadySpec {
                floor_bytes_per_s: 1.0,
                ..rule
            }
        )
        .is_some());
    }
}
