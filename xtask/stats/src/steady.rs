//! Steady-state (end of warm-up) detection and adaptive-precision checks.

use serde::{Deserialize, Serialize};

use crate::autocorr::{mean_ci_autocorrelated_validated, AutocorrMeanInterval};
use crate::error::{check_finite, check_level, check_pairs, check_time_order, StatsError};
use crate::regression::{slope_ci_curvature_robust_validated, SlopeInterval};

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
    /// Slope interval of the flat window.
    pub window_slope: SlopeInterval,
}

/// Find the end of warm-up in a series `y` sampled at times `t` (seconds).
///
/// Scans window end points i = 0, 1, …; the trailing window ending at i is
/// *flat* when its OLS slope interval, corrected for serial correlation as
/// in [`crate::regression::slope_ci_autocorrelated`] (Santer et al. 2000),
/// either contains 0 or lies entirely inside [−floor, +floor]. One
/// difference: the noise variance and autocorrelation are estimated from
/// the residuals of a *quadratic* fit to the window, because the bend of a
/// warm-up curve left in straight-line residuals looks like strong serial
/// correlation and would inflate the interval until a steep warm-up window
/// counted as "flat". The first
/// flat window marks the steady state. This is the regression-slope
/// stationarity heuristic used for simulation warm-up deletion (cf. the
/// "MSER / linear-regression" family reviewed by Hoad, Robinson & Davies
/// 2010, "Automating warm-up length estimation", *JORS* 61(9)); the
/// autocorrelation correction keeps the slope test honest on sampled
/// metrics. Windows shorter than ~100 points with strong autocorrelation
/// make the slope interval somewhat optimistic (tests show ≈ 92 % coverage
/// at 50 points, ρ = 0.9).
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
        let fit = match slope_ci_curvature_robust_validated(wt, wy, opts.level) {
            Ok(f) => f,
            Err(StatsError::DegenerateRegressor) => continue,
            Err(e) => return Err(e),
        };
        let ci = fit.ci;
        let flat = ci.contains(0.0)
            || (ci.lower >= -opts.slope_floor && ci.upper <= opts.slope_floor);
        if flat {
            return Ok(Some(SteadyState {
                start_index: lo,
                detected_at_index: end,
                start_time: t[lo],
                window_slope: fit,
            }));
        }
    }
    Ok(None)
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
pub fn mean_precision(y: &[f64], rel_target: f64, level: f64) -> Result<PrecisionCheck, StatsError> {
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
