//! Steady-state (end of warm-up) detection and adaptive-precision checks.

use serde::{Deserialize, Serialize};

use crate::autocorr::{mean_ci_autocorrelated_validated, AutocorrMeanInterval};
use crate::error::{check_finite, check_level, check_pairs, check_time_order, StatsError};
use crate::regression::{
    corrected_slope_ci, quadratic_residuals, residual_neff, NoiseResiduals, SlopeInterval,
};
use crate::summary::quantile_sorted;

/// Length of the trailing window used to judge flatness.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum Window {
    /// All points with t ≥ t_i − seconds (the window must span the full
    /// duration of data before it is judged).
    Seconds(f64),
    /// The last `points` points.
    Points(usize),
}

/// Options for [`detect_steady_state`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SteadyOptions {
    /// Trailing window.
    pub window: Window,
    /// Absolute slope floor in y-units per second: a window whose whole
    /// slope interval lies within ±floor counts as flat even if it excludes 0.
    pub slope_floor: f64,
    /// Confidence level of the slope interval.
    pub level: f64,
    /// Windows with fewer points are skipped (at least 5).
    pub min_points: usize,
}

impl Default for SteadyOptions {
    fn default() -> Self {
        SteadyOptions {
            window: Window::Seconds(10.0),
            slope_floor: 0.0,
            level: 0.95,
            min_points: 20,
        }
    }
}

/// Where the steady state starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteadyState {
    /// First index of the first flat window: the warm-up is `0..start_index`.
    pub start_index: usize,
    /// Last index of that window (the earliest point at which an online
    /// observer could have declared steady state).
    pub detected_at_index: usize,
    /// Time at `start_index`.
    pub start_time: f64,
    /// Pooled integrated autocorrelation time of the noise used for every
    /// window (1 = independent samples).
    pub noise_tau: f64,
    /// Slope interval of the flat window.
    pub window_slope: SlopeInterval,
}

/// Find the end of warm-up in a series `y` sampled at times `t` (seconds).
///
/// Scans window end points i = 0, 1, …; the trailing window ending at i is
/// *flat* when its OLS slope interval, corrected for serial correlation as
/// in [`crate::regression::slope_ci_autocorrelated`] (Santer et al. 2000),
/// either contains 0 or lies entirely inside [−floor, +floor]. Two
/// differences, both because the bend of a warm-up curve left in
/// straight-line residuals looks like strong serial correlation and would
/// inflate the interval until a steep warm-up window counted as "flat":
/// the noise variance comes from the residuals of a *quadratic* fit to the
/// window, and the noise's integrated autocorrelation time τ is not
/// estimated per window but pooled — the median over the series'
/// non-overlapping windows of the per-window estimate — so the few
/// warm-up windows cannot dominate it (n_eff = n_window/τ,
/// df = n_eff − 3). The first flat window marks the steady state. This is the regression-slope
/// stationarity heuristic used for simulation warm-up deletion (cf. the
/// "MSER / linear-regression" family reviewed by Hoad, Robinson & Davies
/// 2010, "Automating warm-up length estimation", *JORS* 61(9)); the
/// autocorrelation correction keeps the slope test honest on sampled
/// metrics. Windows of at least ~100 points are recommended.
///
/// Every window is a separate test, so a series that keeps drifting slowly
/// (a trend too small to be significant within one window) will eventually
/// be called steady; slow growth is the leak test's job
/// ([`crate::leak::leak_test`]), not this one's.
///
/// Returns `Ok(None)` when no window is flat (not steady). Needs t and y of
/// equal length, finite, t non-decreasing; `min_points ≥ 5`.
pub fn detect_steady_state(
    t: &[f64],
    y: &[f64],
    opts: &SteadyOptions,
) -> Result<Option<SteadyState>, StatsError> {
    if opts.min_points < 5 {
        return Err(StatsError::InvalidParameter {
            name: "min_points",
            reason: "must be at least 5",
        });
    }
    check_pairs(t, y, opts.min_points)?;
    check_level(opts.level)?;
    check_time_order(t)?;
    if !(opts.slope_floor.is_finite() && opts.slope_floor >= 0.0) {
        return Err(StatsError::InvalidParameter {
            name: "slope_floor",
            reason: "must be finite and non-negative",
        });
    }
    match opts.window {
        Window::Seconds(s) if !(s.is_finite() && s > 0.0) => {
            return Err(StatsError::InvalidParameter {
                name: "window",
                reason: "window seconds must be positive and finite",
            })
        }
        Window::Points(p) if p < opts.min_points => {
            return Err(StatsError::InvalidParameter {
                name: "window",
                reason: "window points must be at least min_points",
            })
        }
        _ => {}
    }
    let Some(tau) = pooled_noise_tau(t, y, opts) else {
        return Ok(None);
    };
    let mut start = 0usize;
    for end in 0..t.len() {
        let lo = match opts.window {
            Window::Points(p) => {
                if end + 1 < p {
                    continue;
                }
                end + 1 - p
            }
            Window::Seconds(s) => {
                if t[end] - t[0] < s {
                    continue;
                }
                while t[start] < t[end] - s {
                    start += 1;
                }
                start
            }
        };
        let (wt, wy) = (&t[lo..=end], &y[lo..=end]);
        if wt.len() < opts.min_points {
            continue;
        }
        let fit = match corrected_slope_ci(wt, wy, opts.level, NoiseResiduals::Quadratic, Some(tau))
        {
            Ok(f) => f,
            Err(StatsError::DegenerateRegressor) => continue,
            Err(e) => return Err(e),
        };
        let ci = fit.ci;
        let flat =
            ci.contains(0.0) || (ci.lower >= -opts.slope_floor && ci.upper <= opts.slope_floor);
        if flat {
            return Ok(Some(SteadyState {
                start_index: lo,
                detected_at_index: end,
                start_time: t[lo],
                noise_tau: tau,
                window_slope: fit,
            }));
        }
    }
    Ok(None)
}

/// Integrated autocorrelation time of the noise, pooled over the
/// non-overlapping windows of the series: per window, residuals of a
/// quadratic fit give τ = max(AR(1) τ with bias-corrected r1, Geyer τ)
/// (the same pair as [`crate::regression::slope_ci_autocorrelated`]); the
/// median over windows is returned. `None` when no window has enough points.
fn pooled_noise_tau(t: &[f64], y: &[f64], opts: &SteadyOptions) -> Option<f64> {
    let mut taus = Vec::new();
    let mut lo = 0;
    while lo < t.len() {
        let hi = match opts.window {
            Window::Points(p) => (lo + p).min(t.len()),
            Window::Seconds(s) => {
                let mut hi = lo;
                while hi < t.len() && t[hi] < t[lo] + s {
                    hi += 1;
                }
                // Include the point at exactly t[lo] + s like the trailing windows do.
                while hi < t.len() && t[hi] <= t[lo] + s {
                    hi += 1;
                }
                hi
            }
        };
        let (wt, wy) = (&t[lo..hi], &y[lo..hi]);
        if wt.len() >= opts.min_points {
            if let Some(resid) = quadratic_residuals(wt, wy) {
                let n = resid.len() as f64;
                let (ar1, geyer) = residual_neff(&resid, 3.0);
                taus.push(n / ar1.min(geyer));
            }
        }
        lo = hi.max(lo + 1);
    }
    if taus.is_empty() {
        return None;
    }
    taus.sort_by(f64::total_cmp);
    Some(quantile_sorted(&taus, 0.5))
}

/// Whether a series has been measured precisely enough.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrecisionCheck {
    /// Autocorrelation-corrected interval for the mean.
    pub interval: AutocorrMeanInterval,
    /// Half-width / |mean|; `None` when the mean is 0.
    pub relative_half_width: Option<f64>,
    /// The requested relative target.
    pub target: f64,
    /// `relative_half_width ≤ target`.
    pub reached: bool,
}

/// Adaptive-measurement stopping check: is the half-width of the
/// autocorrelation-corrected interval for the mean
/// ([`crate::autocorr::mean_ci_autocorrelated`]) at most `rel_target × |mean|`?
/// This is the relative-precision stopping rule of sequential steady-state
/// simulation (Law & Kelton, *Simulation Modeling and Analysis*, "relative precision" sequential procedures).
/// A zero mean never reaches a relative target (unless the series is
/// constant). Needs n ≥ 3.
pub fn mean_precision(
    y: &[f64],
    rel_target: f64,
    level: f64,
) -> Result<PrecisionCheck, StatsError> {
    check_finite(y, 3)?;
    check_level(level)?;
    if !(rel_target.is_finite() && rel_target > 0.0) {
        return Err(StatsError::InvalidParameter {
            name: "rel_target",
            reason: "must be positive and finite",
        });
    }
    let interval = mean_ci_autocorrelated_validated(y, level);
    let half = interval.ci.half_width();
    let relative_half_width = (interval.mean != 0.0).then(|| half / interval.mean.abs());
    let reached = match relative_half_width {
        Some(r) => r <= rel_target,
        None => half == 0.0,
    };
    Ok(PrecisionCheck {
        interval,
        relative_half_width,
        target: rel_target,
        reached,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 / 10.0).collect()
    }

    /// Deterministic pseudo-noise in [-0.5, 0.5].
    fn jitter(i: usize) -> f64 {
        ((i * 7919 % 1000) as f64 / 1000.0) - 0.5
    }

    #[test]
    fn flat_series_is_steady_from_start() {
        let t = ts(300);
        let y: Vec<f64> = (0..300).map(|i| 10.0 + jitter(i)).collect();
        let s = detect_steady_state(&t, &y, &SteadyOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(s.start_index, 0);
        assert_eq!(s.detected_at_index, 100);
        // All-equal series: slope exactly 0.
        let s = detect_steady_state(&t, &[3.0; 300], &SteadyOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(s.start_index, 0);
        assert_eq!(s.window_slope.slope, 0.0);
    }

    #[test]
    fn ramp_is_not_steady_unless_under_floor() {
        let t = ts(300);
        let y: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, t)| 5.0 * t + jitter(i))
            .collect();
        let opts = SteadyOptions {
            window: Window::Points(50),
            ..Default::default()
        };
        assert_eq!(detect_steady_state(&t, &y, &opts).unwrap(), None);
        // Same ramp with a floor above its slope: flat by the floor rule.
        let floor = SteadyOptions {
            slope_floor: 10.0,
            ..opts
        };
        let s = detect_steady_state(&t, &y, &floor).unwrap().unwrap();
        assert_eq!(s.start_index, 0);
        assert!(!s.window_slope.ci.contains(0.0));
    }

    #[test]
    fn ramp_then_plateau() {
        let t = ts(600);
        let y: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, &t)| t.min(20.0) * 3.0 + 0.2 * jitter(i))
            .collect();
        let s = detect_steady_state(&t, &y, &SteadyOptions::default())
            .unwrap()
            .unwrap();
        assert!(s.start_time >= 19.0, "{s:?}");
    }

    #[test]
    fn steady_rejects_bad_input() {
        let t = ts(50);
        let y = vec![1.0; 50];
        let mut bad_t = t.clone();
        bad_t.swap(3, 4);
        assert!(matches!(
            detect_steady_state(&bad_t, &y, &SteadyOptions::default()),
            Err(StatsError::InvalidParameter { name: "t", .. })
        ));
        assert!(matches!(
            detect_steady_state(&t[..10], &y[..10], &SteadyOptions::default()),
            Err(StatsError::TooFewPoints { .. })
        ));
        let mut ny = y.clone();
        ny[7] = f64::NAN;
        assert_eq!(
            detect_steady_state(&t, &ny, &SteadyOptions::default()),
            Err(StatsError::NonFinite { index: 7 })
        );
        let opts = SteadyOptions {
            window: Window::Points(3),
            ..Default::default()
        };
        assert!(detect_steady_state(&t, &y, &opts).is_err());
        // Shorter than one window: not steady (yet).
        assert_eq!(
            detect_steady_state(&t, &y, &SteadyOptions::default()).unwrap(),
            None
        );
    }

    #[test]
    fn precision_check() {
        let y: Vec<f64> = (0..400).map(|i| 100.0 + jitter(i)).collect();
        let p = mean_precision(&y, 0.01, 0.95).unwrap();
        assert!(p.reached);
        assert!(p.relative_half_width.unwrap() < 0.01);
        let p = mean_precision(&y, 1e-5, 0.95).unwrap();
        assert!(!p.reached);
        let z: Vec<f64> = (0..400).map(jitter).collect();
        let p = mean_precision(&z, 0.5, 0.95).unwrap();
        assert!(p.relative_half_width.is_none() || !p.reached || p.interval.mean != 0.0);
        let p = mean_precision(&[0.0; 10], 0.01, 0.95).unwrap();
        assert!(p.reached && p.relative_half_width.is_none());
        assert!(mean_precision(&[1.0, 2.0], 0.01, 0.95).is_err());
        assert!(mean_precision(&y, 0.0, 0.95).is_err());
    }
}
