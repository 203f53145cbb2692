//! Latency drift over a loop of operations: does the i-th operation take
//! longer than the first?
//!
//! The same two-test rule as [`crate::leak::leak_test`] (the growth of a
//! series judged on its slope), with x = the operation's index and a floor
//! relative to the series' own median: drift worth naming is a rise of at
//! least `rel_floor × median` over the whole loop.

use serde::{Deserialize, Serialize};

use crate::error::{check_pairs, StatsError};
use crate::leak::{leak_test, LeakOptions, LeakVerdict};
use crate::percentile::percentile_nearest_rank;

/// Fewest operations a drift verdict is drawn from.
pub const DRIFT_MIN_POINTS: usize = 10;

/// What the slope test says about a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftVerdict {
    /// The slope interval lies above 0, the slope above the floor, and the
    /// rank test agrees: later operations are slower.
    Drifts,
    /// The slope interval's upper bound is at most the floor: any rise over
    /// the loop is below what is worth naming.
    Stable,
    /// Neither: the interval straddles the floor (too few or too noisy
    /// operations) or the two tests disagree.
    Inconclusive,
}

/// A drift test's figures, in the series' unit (e.g. seconds) per operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DriftTest {
    pub n: usize,
    /// Median of the series (nearest rank).
    pub median: f64,
    /// OLS slope per operation.
    pub slope: f64,
    /// Its autocorrelation-corrected interval at `level`.
    pub slope_lower: f64,
    pub slope_upper: f64,
    pub level: f64,
    /// Effective sample size of the interval.
    pub n_eff: f64,
    /// Two-sided Mann–Kendall p-value (serial-correlation corrected).
    pub mk_p_value: f64,
    /// The floor per operation: `rel_floor × median / (n − 1)`.
    pub slope_floor: f64,
    /// The fitted rise over the whole loop relative to the median.
    pub relative_rise: f64,
    pub verdict: DriftVerdict,
}

/// Drift of `y` (one value per operation, in order) at `level`, with the
/// floor `rel_floor` of the median over the loop (e.g. 0.10: a 10 % rise
/// from the first to the last operation). Needs [`DRIFT_MIN_POINTS`]
/// values and a positive median.
pub fn drift_test(y: &[f64], rel_floor: f64, level: f64) -> Result<DriftTest, StatsError> {
    let x: Vec<f64> = (0..y.len()).map(|i| i as f64).collect();
    check_pairs(&x, y, DRIFT_MIN_POINTS)?;
    if !(rel_floor.is_finite() && rel_floor >= 0.0) {
        return Err(StatsError::InvalidParameter {
            name: "rel_floor",
            reason: "must be finite and non-negative",
        });
    }
    let median = percentile_nearest_rank(y, 0.5)?;
    if median <= 0.0 {
        return Err(StatsError::InvalidParameter {
            name: "y",
            reason: "median must be positive (a latency series)",
        });
    }
    let span = (y.len() - 1) as f64;
    let slope_floor = rel_floor * median / span;
    let t = leak_test(&x, y, &LeakOptions { level, slope_floor })?;
    let verdict = match t.verdict {
        LeakVerdict::Leak => DriftVerdict::Drifts,
        LeakVerdict::NoLeak => DriftVerdict::Stable,
        LeakVerdict::Inconclusive => DriftVerdict::Inconclusive,
    };
    Ok(DriftTest {
        n: y.len(),
        median,
        slope: t.slope,
        slope_lower: t.slope_ci.lower,
        slope_upper: t.slope_ci.upper,
        level,
        n_eff: t.slope_fit.n_eff,
        mk_p_value: t.mk_p_value,
        slope_floor,
        relative_rise: t.slope * span / median,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic LCG: uniform noise in [-1, 1).
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

    #[test]
    fn flat_noisy_latency_is_stable() {
        // 10 ms ± 1 ms over 500 execs: no drift.
        let y: Vec<f64> = noise(7, 500).iter().map(|e| 0.010 + 0.001 * e).collect();
        let t = drift_test(&y, 0.10, 0.95).unwrap();
        assert_eq!(t.verdict, DriftVerdict::Stable, "{t:?}");
        assert!(t.relative_rise.abs() < 0.05, "{t:?}");
    }

    #[test]
    fn a_planted_50_percent_rise_drifts() {
        // 10 ms rising to 15 ms over 200 execs, ± 1 ms.
        let n = 200;
        let y: Vec<f64> = noise(3, n)
            .iter()
            .enumerate()
            .map(|(i, e)| 0.010 + 0.005 * i as f64 / (n - 1) as f64 + 0.001 * e)
            .collect();
        let t = drift_test(&y, 0.10, 0.95).unwrap();
        assert_eq!(t.verdict, DriftVerdict::Drifts, "{t:?}");
        // A 5 ms rise against the median of 12.5 ms.
        assert!((t.relative_rise - 0.4).abs() < 0.05, "{t:?}");
    }

    #[test]
    fn too_noisy_and_short_is_inconclusive() {
        // 12 execs with ± 90 % noise: the interval cannot rule out 10 %.
        let y: Vec<f64> = noise(11, 12).iter().map(|e| 0.010 + 0.009 * e).collect();
        let t = drift_test(&y, 0.10, 0.95).unwrap();
        assert_eq!(t.verdict, DriftVerdict::Inconclusive, "{t:?}");
    }

    #[test]
    fn refuses_short_or_non_positive_series() {
        assert!(drift_test(&[1.0; 9], 0.1, 0.95).is_err());
        assert!(drift_test(&[0.0; 20], 0.1, 0.95).is_err());
        assert!(drift_test(&[1.0; 20], f64::NAN, 0.95).is_err());
        // Constant positive latency: exactly no slope, stable.
        assert_eq!(
            drift_test(&[1.0; 20], 0.1, 0.95).unwrap().verdict,
            DriftVerdict::Stable
        );
    }
}
