//! Ordinary least squares with plain and autocorrelation-corrected slope intervals.

use serde::{Deserialize, Serialize};

use crate::autocorr::{acf_validated, ar1_effective_n, geyer_tau_validated};
use crate::dist::t_crit;
use crate::error::{check_level, check_pairs, StatsError};
use crate::interval::Interval;
use crate::summary::mean;

/// Simple linear regression y = intercept + slope·x fitted by OLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OlsFit {
    /// Number of points.
    pub n: usize,
    /// Slope (units of y per unit of x).
    pub slope: f64,
    /// Intercept (value of y at x = 0).
    pub intercept: f64,
    /// Standard error of the slope, assuming independent homoscedastic errors.
    pub slope_se: f64,
    /// Standard error of the intercept, same assumption.
    pub intercept_se: f64,
    /// Residual standard deviation √(RSS / df).
    pub residual_sd: f64,
    /// Residual degrees of freedom n − 2.
    pub df: f64,
    /// Coefficient of determination (1 when y is constant and fitted exactly).
    pub r_squared: f64,
}

impl OlsFit {
    /// Student-t interval for the slope, `slope ± t_{df} · slope_se`
    /// (valid for independent errors only).
    pub fn slope_ci(&self, level: f64) -> Result<Interval, StatsError> {
        check_level(level)?;
        let h = t_crit(level, self.df) * self.slope_se;
        Ok(Interval {
            lower: self.slope - h,
            upper: self.slope + h,
            level,
        })
    }

    /// Student-t interval for the intercept.
    pub fn intercept_ci(&self, level: f64) -> Result<Interval, StatsError> {
        check_level(level)?;
        let h = t_crit(level, self.df) * self.intercept_se;
        Ok(Interval {
            lower: self.intercept - h,
            upper: self.intercept + h,
            level,
        })
    }
}

/// Validated OLS core returning the fit and the residuals.
pub(crate) fn ols_validated(x: &[f64], y: &[f64]) -> Result<(OlsFit, Vec<f64>), StatsError> {
    let n = x.len();
    let mx = mean(x);
    let my = mean(y);
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    // Relative test so that e.g. epoch-second timestamps with tiny spread still count.
    if sxx.is_nan() || sxx <= 1e-24 * x.iter().map(|v| v * v).sum::<f64>() {
        return Err(StatsError::DegenerateRegressor);
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y.iter().map(|v| (v - my) * (v - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let resid: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(a, b)| b - intercept - slope * a)
        .collect();
    let rss: f64 = resid.iter().map(|e| e * e).sum();
    let df = (n - 2) as f64;
    let s2 = rss / df;
    let fit = OlsFit {
        n,
        slope,
        intercept,
        slope_se: (s2 / sxx).sqrt(),
        intercept_se: (s2 * (1.0 / n as f64 + mx * mx / sxx)).sqrt(),
        residual_sd: s2.sqrt(),
        df,
        r_squared: if syy > 0.0 { 1.0 - rss / syy } else { 1.0 },
    };
    Ok((fit, resid))
}

/// Ordinary least squares fit of `y` on `x` (Gauss–Markov; standard errors
/// as in Draper & Smith, *Applied Regression Analysis*, 3rd ed., ch. 1).
///
/// Needs n ≥ 3 (one residual degree of freedom) and x with non-zero spread.
pub fn ols(x: &[f64], y: &[f64]) -> Result<OlsFit, StatsError> {
    check_pairs(x, y, 3)?;
    Ok(ols_validated(x, y)?.0)
}

/// How the slope interval accounted for serial correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlopeCiMethod {
    /// No positive serial correlation found: plain OLS interval (n_eff = n).
    Independent,
    /// AR(1) effective-sample-size correction (Santer et al. 2000).
    Ar1EffectiveN,
    /// Effective sample size n/τ from Geyer's initial monotone sequence
    /// estimate τ on the residuals (was more conservative than AR(1)).
    InitialSequence,
    /// Steady-state windows: autocorrelation time pooled (median) over
    /// non-overlapping windows of the whole series, see
    /// [`crate::steady::detect_steady_state`].
    PooledWindows,
}

/// Which fit supplied the residuals used to estimate noise variance and
/// serial correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoiseResiduals {
    /// Residuals of the straight-line fit itself.
    Linear,
    /// Residuals of a quadratic fit (curvature absorbed), used by
    /// steady-state detection.
    Quadratic,
}

/// OLS slope with an interval corrected for serially correlated residuals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SlopeInterval {
    /// Number of points.
    pub n: usize,
    /// Effective sample size used, clamped to [3, n].
    pub n_eff: f64,
    /// Raw lag-1 autocorrelation of the noise residuals.
    pub r1: f64,
    /// OLS slope.
    pub slope: f64,
    /// OLS intercept.
    pub intercept: f64,
    /// Corrected standard error of the slope.
    pub se: f64,
    /// Degrees of freedom of the t quantile, n_eff − p (≥ 1), p = 2 for
    /// linear and 3 for quadratic noise residuals.
    pub df: f64,
    /// The interval.
    pub ci: Interval,
    /// Which correction applied.
    pub method: SlopeCiMethod,
    /// Which residuals the noise estimate came from.
    pub noise_residuals: NoiseResiduals,
}

/// OLS slope interval for a time series with serially correlated residuals,
/// using the
/// effective-sample-size adjustment of Santer et al. (2000), "Statistical
/// significance of trends and trend differences in layer-average atmospheric
/// temperature time series", *J. Geophys. Res.* 105(D6), 7337–7356:
///
/// `n_eff = n (1 − r) / (1 + r)`, `se = se_OLS · √((n − 2)/(n_eff − 2))`,
/// `df = n_eff − 2`,
///
/// where `r` is the lag-1 autocorrelation of the OLS residuals. Because the
/// residual r1 is biased towards zero in short series, it is first corrected
/// by `+(2 + 4r)/n` (Kendall's 1954 first-order bias `(1 + 4ρ)/n` of the
/// sample autocorrelation, plus `1/n` for the fitted trend term), then
/// clamped to `[0, 1)`: negative autocorrelation is never allowed to push
/// n_eff above n (which would narrow the interval), and n_eff is clamped to
/// `[3, n]`.
///
/// An AR(1) model underestimates persistence when white measurement jitter
/// sits on top of a persistent component (the jitter drags r1 down), so
/// n_eff is the *smaller* of the AR(1) value and n/τ, τ from Geyer's (1992)
/// initial monotone sequence estimator on the residuals (see
/// [`crate::autocorr::integrated_autocorrelation_time`]); `method` says
/// which one applied. Monte Carlo coverage (tests): 94.9–96.1 % for AR(1)
/// residuals with ρ ∈ {0, 0.5, 0.7, 0.9}, n ∈ {300, 600}. Short, strongly
/// correlated series come out optimistic (development runs: n = 20 → 91 %
/// at ρ = 0.7, 88 % at ρ = 0.9; n = 50 → 92 % at ρ = 0.9; n = 100 → 94 %).
///
/// Needs n ≥ 3 and x (time) with non-zero spread; x should be increasing.
pub fn slope_ci_autocorrelated(
    x: &[f64],
    y: &[f64],
    level: f64,
) -> Result<SlopeInterval, StatsError> {
    check_pairs(x, y, 3)?;
    check_level(level)?;
    slope_ci_autocorrelated_validated(x, y, level)
}

pub(crate) fn slope_ci_autocorrelated_validated(
    x: &[f64],
    y: &[f64],
    level: f64,
) -> Result<SlopeInterval, StatsError> {
    corrected_slope_ci(x, y, level, NoiseResiduals::Linear, None)
}

/// Residuals of y on (1, v, v²), v = standardised x; `None` if singular.
pub(crate) fn quadratic_residuals(x: &[f64], y: &[f64]) -> Option<Vec<f64>> {
    let mx = mean(x);
    let scale = x.iter().map(|v| (v - mx).abs()).fold(0.0, f64::max);
    if scale.is_nan() || scale <= 0.0 {
        return None;
    }
    let v: Vec<f64> = x.iter().map(|a| (a - mx) / scale).collect();
    // Normal equations A β = c for the basis (1, v, v²).
    let mut a = [[0.0f64; 4]; 3];
    for (vi, yi) in v.iter().zip(y) {
        let basis = [1.0, *vi, vi * vi];
        for r in 0..3 {
            for c in 0..3 {
                a[r][c] += basis[r] * basis[c];
            }
            a[r][3] += basis[r] * yi;
        }
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..3 {
        let piv = (col..3).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        if a[piv][col].abs() < 1e-12 * a[0][0] {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let beta: Vec<f64> = (0..3).map(|r| a[r][3] / a[r][r]).collect();
    Some(
        v.iter()
            .zip(y)
            .map(|(vi, yi)| yi - beta[0] - beta[1] * vi - beta[2] * vi * vi)
            .collect(),
    )
}

/// Effective sample sizes (AR(1), Geyer) implied by regression residuals
/// from a fit with `p` parameters. A perfect fit has no residual structure
/// to correct for and gives (n, n).
pub(crate) fn residual_neff(resid: &[f64], p: f64) -> (f64, f64) {
    let n = resid.len() as f64;
    if resid.iter().all(|&e| e == 0.0) {
        return (n, n);
    }
    let r1 = acf_validated(resid, 1);
    // Kendall's bias (1 + 4ρ)/n plus 1/n per fitted term beyond the mean.
    let r_corr = r1 + (p + 4.0 * r1) / n;
    (
        ar1_effective_n(n, r_corr),
        (n / geyer_tau_validated(resid)).clamp(n.min(3.0), n),
    )
}

/// Core of the corrected slope interval. `noise` selects the residuals for
/// the noise variance/autocorrelation; `pooled_tau`, when given, replaces
/// the per-fit autocorrelation estimate by an externally pooled integrated
/// autocorrelation time.
pub(crate) fn corrected_slope_ci(
    x: &[f64],
    y: &[f64],
    level: f64,
    noise: NoiseResiduals,
    pooled_tau: Option<f64>,
) -> Result<SlopeInterval, StatsError> {
    let (fit, linear_resid) = ols_validated(x, y)?;
    let nu = fit.n;
    let n = nu as f64;
    let quad = if noise == NoiseResiduals::Quadratic && nu >= 5 {
        quadratic_residuals(x, y)
    } else {
        None
    };
    let (resid, noise_residuals, p) = match quad {
        Some(r) => (r, NoiseResiduals::Quadratic, 3.0),
        None => (linear_resid, NoiseResiduals::Linear, 2.0),
    };
    let rss: f64 = resid.iter().map(|e| e * e).sum();
    let mx = mean(x);
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    let base_se = (rss / (n - p) / sxx).sqrt();
    let r1 = acf_validated(&resid, 1);
    let (n_eff, method) = match pooled_tau {
        Some(tau) if tau <= 1.0 => (n, SlopeCiMethod::Independent),
        Some(tau) => ((n / tau).clamp(n.min(3.0), n), SlopeCiMethod::PooledWindows),
        None => {
            let (ar1_neff, geyer_neff) = residual_neff(&resid, p);
            if ar1_neff >= n && geyer_neff >= n {
                (n, SlopeCiMethod::Independent)
            } else if geyer_neff < ar1_neff {
                (geyer_neff, SlopeCiMethod::InitialSequence)
            } else {
                (ar1_neff, SlopeCiMethod::Ar1EffectiveN)
            }
        }
    };
    let df = if method == SlopeCiMethod::Independent {
        n - p
    } else {
        (n_eff - p).max(1.0)
    };
    let se = base_se * ((n - p) / df).sqrt();
    let h = t_crit(level, df) * se;
    Ok(SlopeInterval {
        n: nu,
        n_eff,
        r1,
        slope: fit.slope,
        intercept: fit.intercept,
        se,
        df,
        ci: Interval {
            lower: fit.slope - h,
            upper: fit.slope + h,
            level,
        },
        method,
        noise_residuals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ols_known_line() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 5.0, 4.0, 5.0];
        let f = ols(&x, &y).unwrap();
        // Standard textbook example: slope 0.6, intercept 2.2, RSS 2.4.
        assert!((f.slope - 0.6).abs() < 1e-12);
        assert!((f.intercept - 2.2).abs() < 1e-12);
        assert!((f.residual_sd - (2.4f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((f.slope_se - (0.8f64 / 10.0).sqrt()).abs() < 1e-12);
        assert_eq!(f.df, 3.0);
        let ci = f.slope_ci(0.95).unwrap();
        // t_{.975,3} = 3.182446305
        assert!((ci.half_width() - 3.182_446_305 * 0.08f64.sqrt()).abs() < 1e-8);
    }

    #[test]
    fn ols_edge_cases() {
        assert!(matches!(
            ols(&[1.0, 2.0], &[1.0, 2.0]),
            Err(StatsError::TooFewPoints { .. })
        ));
        assert_eq!(
            ols(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]),
            Err(StatsError::DegenerateRegressor)
        );
        assert_eq!(
            ols(&[1.0, 2.0], &[1.0]),
            Err(StatsError::LengthMismatch { left: 2, right: 1 })
        );
        assert_eq!(
            ols(&[1.0, 2.0, 3.0], &[1.0, f64::NAN, 3.0]),
            Err(StatsError::NonFinite { index: 1 })
        );
        let flat = ols(&[1.0, 2.0, 3.0, 4.0], &[5.0; 4]).unwrap();
        assert_eq!((flat.slope, flat.slope_se, flat.r_squared), (0.0, 0.0, 1.0));
        let s = slope_ci_autocorrelated(&[1.0, 2.0, 3.0, 4.0], &[5.0; 4], 0.95).unwrap();
        assert_eq!((s.ci.lower, s.ci.upper), (0.0, 0.0));
        assert_eq!(s.method, SlopeCiMethod::Independent);
    }
}
