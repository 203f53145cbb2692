//! Memory-leak verdicts from a growth-rate test on a time series.

use serde::{Deserialize, Serialize};

use crate::error::{check_level, check_pairs, check_time_order, StatsError};
use crate::interval::Interval;
use crate::regression::{slope_ci_autocorrelated_validated, SlopeInterval};
use crate::trend::{
    mk_autocorrected_validated, pairwise_slopes, sen_ci, sen_median, TrendDirection,
};

/// Minimum number of samples for a leak test.
pub const LEAK_MIN_POINTS: usize = 10;

/// Options for [`leak_test`] and [`churn_leak_test`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeakOptions {
    /// Two-sided confidence level of every interval/test (0.95 → α = 0.05).
    pub level: f64,
    /// Smallest growth rate worth calling a leak, in y-units per second
    /// (e.g. bytes/s). Growth below it is treated as negligible.
    pub slope_floor: f64,
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            level: 0.95,
            slope_floor: 0.0,
        }
    }
}

/// Leak verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeakVerdict {
    /// Growth is significant by both tests and above the floor.
    Leak,
    /// Growth is confidently below the floor.
    NoLeak,
    /// Neither: e.g. too noisy/short to rule out growth at the floor, or the
    /// parametric and rank tests disagree.
    Inconclusive,
}

/// Result of [`leak_test`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakTest {
    /// Number of samples.
    pub n: usize,
    /// Time span covered, seconds.
    pub duration_s: f64,
    /// OLS slope (units/s).
    pub slope: f64,
    /// Autocorrelation-corrected OLS slope interval.
    pub slope_ci: Interval,
    /// Full slope fit (n_eff, r1, df, method).
    pub slope_fit: SlopeInterval,
    /// Theil–Sen slope (units/s).
    pub theil_sen_slope: f64,
    /// Sen's interval with the Mann–Kendall variance inflated for serial
    /// correlation (same inflation as the MK test); `None` if too short.
    pub theil_sen_ci: Option<Interval>,
    /// Mann–Kendall S.
    pub mk_s: i64,
    /// Two-sided Mann–Kendall p-value (serial-correlation corrected).
    pub mk_p_value: f64,
    /// Mann–Kendall direction at `level`.
    pub mk_direction: TrendDirection,
    /// Floor used (units/s).
    pub slope_floor: f64,
    /// Verdict.
    pub verdict: LeakVerdict,
}

/// Decide whether a metric (e.g. RSS bytes sampled at 10 Hz) is leaking.
///
/// Verdict logic, all at the same two-sided `level`:
///
/// * **Leak** ⇔ the autocorrelation-corrected OLS slope interval
///   (Santer et al. 2000, see [`crate::regression::slope_ci_autocorrelated`])
///   has lower bound > 0, **and** the OLS slope > `slope_floor`, **and** the
///   serial-correlation-corrected Mann–Kendall test (Yue & Wang 2004, see
///   [`crate::trend::mann_kendall_autocorrected`]) finds a significant
///   increase. Requiring the parametric and the rank test to agree guards
///   against a few outliers (GC spikes) producing an OLS trend and against
///   a monotone-but-tiny drift; the floor ignores statistically significant
///   but operationally irrelevant growth. Each test alone has a one-sided
///   false-positive rate ≤ (1 − level)/2, so the conjunction does too.
/// * **NoLeak** ⇔ the OLS slope interval's upper bound ≤ `slope_floor`: any
///   growth is confidently below what we care about.
/// * **Inconclusive** otherwise (e.g. the interval straddles the floor, or
///   OLS and Mann–Kendall disagree); collect a longer series.
///
/// Needs at least [`LEAK_MIN_POINTS`] samples, t in seconds, non-decreasing
/// with non-zero span.
pub fn leak_test(t: &[f64], y: &[f64], opts: &LeakOptions) -> Result<LeakTest, StatsError> {
    check_pairs(t, y, LEAK_MIN_POINTS)?;
    check_opts(opts)?;
    check_time_order(t)?;
    let fit = slope_ci_autocorrelated_validated(t, y, opts.level)?;
    let mut slopes = pairwise_slopes(t, y)?;
    let sen_slope = sen_median(&mut slopes);
    let mk = mk_autocorrected_validated(t, y, sen_slope);
    let sen_interval = sen_ci(&mut slopes, y, opts.level, mk.variance_inflation);
    let mk_direction = mk.direction(opts.level);
    let ci = fit.ci;
    let mut result = LeakTest {
        n: t.len(),
        duration_s: t[t.len() - 1] - t[0],
        slope: fit.slope,
        slope_ci: ci,
        slope_fit: fit,
        theil_sen_slope: sen_slope,
        theil_sen_ci: sen_interval,
        mk_s: mk.s,
        mk_p_value: mk.p_value,
        mk_direction,
        slope_floor: opts.slope_floor,
        verdict: LeakVerdict::Inconclusive,
    };
    result.verdict = result.verdict_for_floor(opts.slope_floor);
    Ok(result)
}

impl LeakTest {
    /// Re-apply the [`leak_test`] decision rule with another slope floor
    /// (same intervals and Mann–Kendall result), e.g. to report verdicts at
    /// several thresholds without recomputing.
    pub fn verdict_for_floor(&self, slope_floor: f64) -> LeakVerdict {
        if self.slope_ci.lower > 0.0
            && self.slope > slope_floor
            && self.mk_direction == TrendDirection::Increasing
        {
            LeakVerdict::Leak
        } else if self.slope_ci.upper <= slope_floor {
            LeakVerdict::NoLeak
        } else {
            LeakVerdict::Inconclusive
        }
    }
}

fn check_opts(opts: &LeakOptions) -> Result<(), StatsError> {
    check_level(opts.level)?;
    if !(opts.slope_floor.is_finite() && opts.slope_floor >= 0.0) {
        return Err(StatsError::InvalidParameter {
            name: "slope_floor",
            reason: "must be finite and non-negative",
        });
    }
    Ok(())
}

/// Result of [`churn_leak_test`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChurnLeakTest {
    /// Slope of the series under churn (connections/objects created and destroyed).
    pub churn: SlopeInterval,
    /// Slope of the static (idle or constant-load) reference series.
    pub reference: SlopeInterval,
    /// churn slope − reference slope (units/s).
    pub excess_slope: f64,
    /// Floor used (units/s).
    pub slope_floor: f64,
    /// Verdict.
    pub verdict: LeakVerdict,
}

/// Two-series leak test: does memory grow faster under churn than in a
/// static reference run?
///
/// Both slopes get the autocorrelation-corrected interval of
/// [`crate::regression::slope_ci_autocorrelated`] at `level`.
///
/// * **Leak** ⇔ churn lower bound > reference upper bound, **and** churn
///   lower bound > `slope_floor`, **and** the excess slope (difference of
///   the point estimates) exceeds `slope_floor`. Non-overlap of two 95 %
///   intervals is a conservative test of the difference (≈ 99.4 % for equal
///   widths; Schenker & Gentleman 2001, *Am. Stat.* 55(3)), so false
///   positives stay below (1 − level)/2.
/// * **NoLeak** ⇔ churn upper − reference lower ≤ `slope_floor` (the largest
///   plausible excess is negligible).
/// * **Inconclusive** otherwise.
pub fn churn_leak_test(
    churn_t: &[f64],
    churn_y: &[f64],
    reference_t: &[f64],
    reference_y: &[f64],
    opts: &LeakOptions,
) -> Result<ChurnLeakTest, StatsError> {
    check_pairs(churn_t, churn_y, LEAK_MIN_POINTS)?;
    check_pairs(reference_t, reference_y, LEAK_MIN_POINTS)?;
    check_opts(opts)?;
    check_time_order(churn_t)?;
    check_time_order(reference_t)?;
    let churn = slope_ci_autocorrelated_validated(churn_t, churn_y, opts.level)?;
    let reference = slope_ci_autocorrelated_validated(reference_t, reference_y, opts.level)?;
    let excess = churn.slope - reference.slope;
    let floor = opts.slope_floor;
    let verdict = if churn.ci.lower > reference.ci.upper && churn.ci.lower > floor && excess > floor
    {
        LeakVerdict::Leak
    } else if churn.ci.upper - reference.ci.lower <= floor {
        LeakVerdict::NoLeak
    } else {
        LeakVerdict::Inconclusive
    };
    Ok(ChurnLeakTest {
        churn,
        reference,
        excess_slope: excess,
        slope_floor: floor,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jitter(i: usize) -> f64 {
        ((i * 7919 % 1000) as f64 / 1000.0) - 0.5
    }

    fn series(n: usize, slope: f64, noise: f64) -> (Vec<f64>, Vec<f64>) {
        let t: Vec<f64> = (0..n).map(|i| i as f64 / 10.0).collect();
        let y = t
            .iter()
            .enumerate()
            .map(|(i, t)| 1000.0 + slope * t + noise * jitter(i))
            .collect();
        (t, y)
    }

    #[test]
    fn verdicts() {
        let opts = LeakOptions {
            level: 0.95,
            slope_floor: 0.5,
        };
        let (t, y) = series(600, 10.0, 5.0);
        let r = leak_test(&t, &y, &opts).unwrap();
        assert_eq!(r.verdict, LeakVerdict::Leak);
        assert!((r.theil_sen_slope - 10.0).abs() < 0.1);
        assert_eq!(r.mk_direction, TrendDirection::Increasing);
        // Significant but below the floor.
        let (t, y) = series(600, 0.2, 1.0);
        let r = leak_test(&t, &y, &opts).unwrap();
        assert!(r.slope_ci.lower > 0.0);
        assert_eq!(r.verdict, LeakVerdict::NoLeak);
        // Same statistics without a floor: a (small) leak.
        assert_eq!(r.verdict_for_floor(0.0), LeakVerdict::Leak);
        // Flat: NoLeak; shrinking: NoLeak.
        let (t, y) = series(600, 0.0, 1.0);
        assert_eq!(
            leak_test(&t, &y, &opts).unwrap().verdict,
            LeakVerdict::NoLeak
        );
        let (t, y) = series(600, -3.0, 1.0);
        assert_eq!(
            leak_test(&t, &y, &opts).unwrap().verdict,
            LeakVerdict::NoLeak
        );
        // Too short and noisy to tell.
        let (t, y) = series(12, 0.0, 50.0);
        assert_eq!(
            leak_test(&t, &y, &opts).unwrap().verdict,
            LeakVerdict::Inconclusive
        );
        // All-equal series.
        let t: Vec<f64> = (0..50).map(f64::from).collect();
        let r = leak_test(&t, &[7.0; 50], &opts).unwrap();
        assert_eq!((r.slope, r.verdict), (0.0, LeakVerdict::NoLeak));
    }

    #[test]
    fn churn_verdicts() {
        let opts = LeakOptions {
            level: 0.95,
            slope_floor: 0.5,
        };
        let (ts, ys) = series(600, 2.0, 2.0);
        let (tc, yc) = series(600, 12.0, 2.0);
        let r = churn_leak_test(&tc, &yc, &ts, &ys, &opts).unwrap();
        assert_eq!(r.verdict, LeakVerdict::Leak);
        assert!((r.excess_slope - 10.0).abs() < 0.5);
        let r = churn_leak_test(&ts, &ys, &ts, &ys, &opts).unwrap();
        assert_eq!(r.verdict, LeakVerdict::NoLeak);
    }

    #[test]
    fn leak_rejects_bad_input() {
        let (t, y) = series(9, 1.0, 0.0);
        assert!(matches!(
            leak_test(&t, &y, &LeakOptions::default()),
            Err(StatsError::TooFewPoints { needed: 10, got: 9 })
        ));
        let (t, mut y) = series(20, 1.0, 0.0);
        y[3] = f64::INFINITY;
        assert_eq!(
            leak_test(&t, &y, &LeakOptions::default()),
            Err(StatsError::NonFinite { index: 3 })
        );
        let (t, y) = series(20, 1.0, 0.0);
        assert_eq!(
            leak_test(&t, &y[..19], &LeakOptions::default()),
            Err(StatsError::LengthMismatch {
                left: 20,
                right: 19
            })
        );
        let bad = LeakOptions {
            level: 0.95,
            slope_floor: -1.0,
        };
        assert!(leak_test(&t, &y, &bad).is_err());
        assert_eq!(
            leak_test(&[5.0; 20], &y, &LeakOptions::default()),
            Err(StatsError::DegenerateRegressor)
        );
    }
}
