//! Confidence intervals for the mean of independent values.

use serde::{Deserialize, Serialize};

use crate::dist::t_crit;
use crate::error::{check_finite, check_level, StatsError};
use crate::summary::{mean, variance};

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Nominal two-sided coverage, e.g. 0.95.
    pub level: f64,
}

impl Interval {
    /// Whether `x` lies inside the closed interval.
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }

    /// Half of the interval's width.
    pub fn half_width(&self) -> f64 {
        (self.upper - self.lower) / 2.0
    }

    /// Whether the interval lies entirely on one side of zero.
    pub fn excludes_zero(&self) -> bool {
        self.lower > 0.0 || self.upper < 0.0
    }
}

/// Student-t interval for the mean of independent values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanInterval {
    /// Number of values.
    pub n: usize,
    /// Sample mean.
    pub mean: f64,
    /// Bessel standard deviation (`None` for n = 1).
    pub stdev: Option<f64>,
    /// Standard error of the mean s/√n (`None` for n = 1).
    pub std_error: Option<f64>,
    /// Degrees of freedom n − 1 (`None` for n = 1).
    pub df: Option<f64>,
    /// The interval; `None` when n = 1, because a single value carries no
    /// information about its own spread.
    pub ci: Option<Interval>,
}

/// Student's t interval `mean ± t_{(1+level)/2, n−1} · s/√n` (Student 1908,
/// "The probable error of a mean", *Biometrika* 6(1)).
///
/// Assumes independent values (e.g. per-repeat results from fresh runs);
/// for a time series use [`crate::autocorr::mean_ci_autocorrelated`].
/// n = 0 is an error; n = 1 returns the mean with `ci: None`; an all-equal
/// sample gives a zero-width interval.
pub fn mean_ci_t(data: &[f64], level: f64) -> Result<MeanInterval, StatsError> {
    check_finite(data, 1)?;
    check_level(level)?;
    let n = data.len();
    let m = mean(data);
    if n == 1 {
        return Ok(MeanInterval {
            n,
            mean: m,
            stdev: None,
            std_error: None,
            df: None,
            ci: None,
        });
    }
    let sd = variance(data).sqrt();
    let se = sd / (n as f64).sqrt();
    let df = (n - 1) as f64;
    let h = t_crit(level, df) * se;
    Ok(MeanInterval {
        n,
        mean: m,
        stdev: Some(sd),
        std_error: Some(se),
        df: Some(df),
        ci: Some(Interval {
            lower: m - h,
            upper: m + h,
            level,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_interval_known_values() {
        // mean 5, s = sqrt(32/7), n = 8, t_{.975,7} = 2.364624252
        let d = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let r = mean_ci_t(&d, 0.95).unwrap();
        let h = 2.364_624_252 * (32.0f64 / 7.0).sqrt() / 8f64.sqrt();
        let ci = r.ci.unwrap();
        assert!((ci.lower - (5.0 - h)).abs() < 1e-8);
        assert!((ci.upper - (5.0 + h)).abs() < 1e-8);
        assert_eq!(r.df, Some(7.0));
    }

    #[test]
    fn t_interval_edge_cases() {
        assert!(matches!(
            mean_ci_t(&[], 0.95),
            Err(StatsError::TooFewPoints { .. })
        ));
        let one = mean_ci_t(&[4.2], 0.95).unwrap();
        assert_eq!(one.mean, 4.2);
        assert!(one.ci.is_none() && one.stdev.is_none());
        // n = 2: t_{.975,1} = 12.7062
        let two = mean_ci_t(&[1.0, 3.0], 0.95).unwrap().ci.unwrap();
        assert!((two.half_width() - 12.706_204_736).abs() < 1e-6);
        let flat = mean_ci_t(&[3.0; 5], 0.95).unwrap().ci.unwrap();
        assert_eq!((flat.lower, flat.upper), (3.0, 3.0));
        assert!(mean_ci_t(&[1.0, f64::NAN], 0.95).is_err());
        assert!(mean_ci_t(&[1.0, 2.0], 1.0).is_err());
    }
}
