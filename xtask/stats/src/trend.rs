//! Rank-based trend statistics: Mann–Kendall test and Theil–Sen slope.

use serde::{Deserialize, Serialize};

use crate::autocorr::acf_validated;
use crate::dist::{normal_cdf, z_crit};
use crate::error::{check_finite, check_level, check_pairs, StatsError};
use crate::interval::Interval;
use crate::percentile::sorted_copy;

/// Direction reported by a trend test at a given significance level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendDirection {
    /// Significant upward trend.
    Increasing,
    /// Significant downward trend.
    Decreasing,
    /// No significant monotonic trend.
    NoTrend,
}

/// Result of a Mann–Kendall trend test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MannKendall {
    /// Number of points.
    pub n: usize,
    /// Kendall's S = Σ_{i<j} sign(y_j − y_i).
    pub s: i64,
    /// Variance of S under H0, tie-corrected (and serial-correlation
    /// inflated when produced by [`mann_kendall_autocorrected`]).
    pub var_s: f64,
    /// Factor by which the independent-sample variance was multiplied
    /// (1 for the plain test).
    pub variance_inflation: f64,
    /// Continuity-corrected normal score.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

impl MannKendall {
    /// Trend direction at two-sided significance level `1 − level`
    /// (e.g. `level = 0.95` → α = 0.05).
    pub fn direction(&self, level: f64) -> TrendDirection {
        if self.p_value < 1.0 - level {
            if self.s > 0 {
                TrendDirection::Increasing
            } else {
                TrendDirection::Decreasing
            }
        } else {
            TrendDirection::NoTrend
        }
    }
}

/// Kendall S in O(n²).
fn kendall_s(y: &[f64]) -> i64 {
    let mut s = 0i64;
    for i in 0..y.len() {
        let yi = y[i];
        for &yj in &y[i + 1..] {
            s += (yj > yi) as i64 - (yj < yi) as i64;
        }
    }
    s
}

/// Var(S) under H0 with the tie correction of Kendall (1975), *Rank
/// Correlation Methods*: [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18.
fn var_s_ties(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let s = sorted_copy(y);
    let mut ties = 0.0;
    let mut i = 0;
    while i < s.len() {
        let mut j = i + 1;
        while j < s.len() && s[j] == s[i] {
            j += 1;
        }
        let t = (j - i) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        i = j;
    }
    (n * (n - 1.0) * (2.0 * n + 5.0) - ties) / 18.0
}

fn mk_from(n: usize, s: i64, var_s: f64, inflation: f64) -> MannKendall {
    let sd = var_s.sqrt();
    let z = if s == 0 || sd <= 0.0 {
        0.0
    } else if s > 0 {
        (s as f64 - 1.0) / sd
    } else {
        (s as f64 + 1.0) / sd
    };
    MannKendall {
        n,
        s,
        var_s,
        variance_inflation: inflation,
        z,
        p_value: (2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0),
    }
}

/// Mann–Kendall monotonic trend test (Mann 1945, *Econometrica* 13;
/// Kendall 1975) on a series given in time order, with the tie-corrected
/// variance and the continuity-corrected normal approximation
/// Z = (S ∓ 1)/√Var(S). Assumes independent observations; for serially
/// correlated series use [`mann_kendall_autocorrected`]. Needs n ≥ 3
/// (the normal approximation is rough below n ≈ 10).
pub fn mann_kendall(y: &[f64]) -> Result<MannKendall, StatsError> {
    check_finite(y, 3)?;
    Ok(mk_from(y.len(), kendall_s(y), var_s_ties(y), 1.0))
}

/// Yue & Wang (2004) variance inflation n/n* = 1 + 2 Σ_{k=1}^{n−1} (1 − k/n) r^k
/// for an AR(1) detrended series with lag-1 autocorrelation r (r clamped to
/// [0, 1) so negative correlation never deflates the variance).
fn yue_wang_inflation(n: usize, r: f64) -> f64 {
    let r = r.clamp(0.0, 1.0 - 1e-12);
    let nf = n as f64;
    let mut sum = 0.0;
    let mut rk = 1.0;
    for k in 1..n {
        rk *= r;
        if rk < 1e-15 {
            break;
        }
        sum += (1.0 - k as f64 / nf) * rk;
    }
    1.0 + 2.0 * sum
}

/// Mann–Kendall test with the variance inflated for serial correlation,
/// following Yue & Wang (2004), "The Mann-Kendall test modified by effective
/// sample size to detect trend in serially correlated hydrological series",
/// *Water Resour. Manag.* 18, 201–218: the series is detrended with the
/// Theil–Sen slope, its lag-1 autocorrelation r is taken (with Kendall's
/// first-order bias correction +(2 + 4r)/n, as for regression residuals)
/// and Var(S) is multiplied by 1 + 2 Σ (1 − k/n) r^k. `x` is the time of each
/// point (used for detrending only); points must be in time order. Needs n ≥ 3.
pub fn mann_kendall_autocorrected(x: &[f64], y: &[f64]) -> Result<MannKendall, StatsError> {
    check_pairs(x, y, 3)?;
    let ts = theil_sen_validated(x, y, None)?;
    Ok(mk_autocorrected_validated(x, y, ts.slope))
}

pub(crate) fn mk_autocorrected_validated(x: &[f64], y: &[f64], sen_slope: f64) -> MannKendall {
    let n = y.len();
    let detrended: Vec<f64> = x.iter().zip(y).map(|(a, b)| b - sen_slope * a).collect();
    let r1 = acf_validated(&detrended, 1);
    let r = if detrended.iter().any(|&v| v != detrended[0]) {
        r1 + (2.0 + 4.0 * r1) / n as f64
    } else {
        0.0
    };
    let inflation = yue_wang_inflation(n, r);
    mk_from(n, kendall_s(y), var_s_ties(y) * inflation, inflation)
}

/// Theil–Sen slope estimate with Sen's distribution-free interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TheilSen {
    /// Number of points.
    pub n: usize,
    /// Median of pairwise slopes (y_j − y_i)/(x_j − x_i) over pairs with x_j ≠ x_i.
    pub slope: f64,
    /// Median of y_i − slope·x_i (Conover's intercept).
    pub intercept: f64,
    /// Number of pairwise slopes used.
    pub pairs: usize,
    /// Sen's interval; `None` when the sample is too small for the requested
    /// level (the order-statistic ranks fall outside the slope list).
    pub ci: Option<Interval>,
}

/// Theil–Sen slope (Theil 1950; Sen 1968, "Estimates of the regression
/// coefficient based on Kendall's tau", *JASA* 63, 1379–1389) with Sen's
/// interval: with N' pairwise slopes sorted ascending and
/// C = z_{(1+level)/2} √Var(S) (tie-corrected Mann–Kendall variance),
/// the bounds are the M1-th and (M2 + 1)-th slopes, M1 = (N' − C)/2,
/// M2 = (N' + C)/2, ranks rounded (Gilbert 1987, *Statistical Methods for
/// Environmental Pollution Monitoring*, ch. 16). The interval assumes
/// independent errors. Needs n ≥ 3 and at least two distinct x.
pub fn theil_sen(x: &[f64], y: &[f64], level: f64) -> Result<TheilSen, StatsError> {
    check_pairs(x, y, 3)?;
    check_level(level)?;
    theil_sen_validated(x, y, Some((level, 1.0)))
}

/// All pairwise slopes over pairs with distinct x.
pub(crate) fn pairwise_slopes(x: &[f64], y: &[f64]) -> Result<Vec<f64>, StatsError> {
    let n = x.len();
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[j] - x[i];
            if dx != 0.0 {
                slopes.push((y[j] - y[i]) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return Err(StatsError::DegenerateRegressor);
    }
    Ok(slopes)
}

/// k-th smallest (0-based) by selection, O(N) instead of a full sort.
fn order_stat(slopes: &mut [f64], k: usize) -> f64 {
    *slopes.select_nth_unstable_by(k, f64::total_cmp).1
}

/// Median of the pairwise slopes. Leaves `slopes` partitioned around index
/// `len/2` (everything before is ≤, everything after is ≥), which
/// [`sen_ci`] relies on to select its bounds within one half only.
pub(crate) fn sen_median(slopes: &mut [f64]) -> f64 {
    let np = slopes.len();
    let k = np / 2;
    let upper_mid = order_stat(slopes, k);
    if np % 2 == 1 {
        upper_mid
    } else {
        // The lower middle is the largest element of the left partition.
        let lower_mid = slopes[..k]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower_mid + upper_mid)
    }
}

/// Sen's interval with Var(S) of `y` multiplied by `inflation`.
/// Precondition: `slopes` was partitioned by [`sen_median`].
pub(crate) fn sen_ci(
    slopes: &mut [f64],
    y: &[f64],
    level: f64,
    inflation: f64,
) -> Option<Interval> {
    let np = slopes.len();
    let c = z_crit(level) * (var_s_ties(y) * inflation).sqrt();
    let m1 = ((np as f64 - c) / 2.0).round();
    let m2 = ((np as f64 + c) / 2.0).round() + 1.0;
    if m1 < 1.0 || m2 > np as f64 {
        return None;
    }
    let (lo, hi) = (m1 as usize - 1, m2 as usize - 1);
    let k = np / 2;
    let pick = |slopes: &mut [f64], i: usize| -> f64 {
        if i < k {
            order_stat(&mut slopes[..k], i)
        } else if i > k {
            order_stat(&mut slopes[k + 1..], i - k - 1)
        } else {
            slopes[k]
        }
    };
    Some(Interval {
        lower: pick(slopes, lo),
        upper: pick(slopes, hi),
        level,
    })
}

/// Conover's intercept: median of y − slope·x.
pub(crate) fn sen_intercept(x: &[f64], y: &[f64], slope: f64) -> f64 {
    let mut resid: Vec<f64> = x.iter().zip(y).map(|(a, b)| b - slope * a).collect();
    resid.sort_by(f64::total_cmp);
    crate::summary::quantile_sorted(&resid, 0.5)
}

/// `ci`: `Some((level, variance_inflation))` to compute Sen's interval with
/// Var(S) multiplied by `variance_inflation`.
pub(crate) fn theil_sen_validated(
    x: &[f64],
    y: &[f64],
    ci: Option<(f64, f64)>,
) -> Result<TheilSen, StatsError> {
    let mut slopes = pairwise_slopes(x, y)?;
    let slope = sen_median(&mut slopes);
    let interval = ci.and_then(|(level, inflation)| sen_ci(&mut slopes, y, level, inflation));
    Ok(TheilSen {
        n: x.len(),
        slope,
        intercept: sen_intercept(x, y, slope),
        pairs: slopes.len(),
        ci: interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mann_kendall_known_values() {
        // Strictly increasing n = 10: S = 45, Var = 10·9·25/18 = 125.
        let y: Vec<f64> = (0..10).map(f64::from).collect();
        let mk = mann_kendall(&y).unwrap();
        assert_eq!(mk.s, 45);
        assert!((mk.var_s - 125.0).abs() < 1e-12);
        assert!((mk.z - 44.0 / 125f64.sqrt()).abs() < 1e-12);
        assert_eq!(mk.direction(0.95), TrendDirection::Increasing);
        // Ties: [1,1,2,2,2]: groups t=2 (2·1·9=18), t=3 (3·2·11=66)
        // Var = (5·4·15 − 84)/18 = 216/18 = 12; S = 6.
        let mk = mann_kendall(&[1.0, 1.0, 2.0, 2.0, 2.0]).unwrap();
        assert_eq!(mk.s, 6);
        assert!((mk.var_s - 12.0).abs() < 1e-12);
        // All equal: S = 0, no trend, no NaN.
        let mk = mann_kendall(&[3.0; 8]).unwrap();
        assert_eq!((mk.s, mk.z, mk.p_value), (0, 0.0, 1.0));
        assert_eq!(mk.direction(0.95), TrendDirection::NoTrend);
        let y: Vec<f64> = (0..10).map(|i| -f64::from(i)).collect();
        assert_eq!(
            mann_kendall(&y).unwrap().direction(0.95),
            TrendDirection::Decreasing
        );
        assert!(mann_kendall(&[1.0, 2.0]).is_err());
        assert!(mann_kendall(&[1.0, f64::NAN, 2.0]).is_err());
    }

    #[test]
    fn theil_sen_known_values() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        // One gross outlier does not move the slope.
        let y = [2.0, 4.0, 6.0, 8.0, 100.0];
        let ts = theil_sen(&x, &y, 0.95).unwrap();
        assert_eq!(ts.pairs, 10);
        assert_eq!(ts.slope, 2.0);
        assert_eq!(ts.intercept, 0.0);
        // Equal x are skipped; all-equal x is degenerate.
        assert_eq!(
            theil_sen(&[1.0; 4], &[1.0, 2.0, 3.0, 4.0], 0.95),
            Err(StatsError::DegenerateRegressor)
        );
        // n = 5: C = 1.96·√(50/3) = 8.0, M1 = 1, M2 + 1 = 10: the full range.
        let ci = ts.ci.unwrap();
        assert_eq!((ci.lower, ci.upper), (2.0, 92.0));
        // n = 4 is too small for a 95 % Sen interval (M1 rounds to 0).
        let ts = theil_sen(&x[..4], &y[..4], 0.95).unwrap();
        assert!(ts.ci.is_none());
        // Larger exact line: interval collapses on the slope.
        let x: Vec<f64> = (0..30).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| 1.5 * v + 2.0).collect();
        let ts = theil_sen(&x, &y, 0.95).unwrap();
        let ci = ts.ci.unwrap();
        assert_eq!((ts.slope, ci.lower, ci.upper), (1.5, 1.5, 1.5));
    }

    #[test]
    fn yue_wang_inflation_values() {
        assert_eq!(yue_wang_inflation(100, 0.0), 1.0);
        assert_eq!(yue_wang_inflation(100, -0.5), 1.0);
        // Large n: → (1 + r)/(1 − r).
        assert!((yue_wang_inflation(100_000, 0.5) - 3.0).abs() < 1e-3);
        let x: Vec<f64> = (0..50).map(f64::from).collect();
        let mk = mann_kendall_autocorrected(&x, &[2.0; 50]).unwrap();
        assert_eq!(mk.variance_inflation, 1.0);
    }
}
