//! Autocorrelation and mean intervals for autocorrelated series.

use serde::{Deserialize, Serialize};

use crate::dist::t_crit;
use crate::error::{check_finite, check_level, StatsError};
use crate::interval::Interval;
use crate::summary::{mean, variance};

/// Sample autocorrelation at `lag` with the usual 1/n-normalised
/// autocovariance (Box, Jenkins & Reinsel, *Time Series Analysis*, ch. 2).
/// Returns 0 for a constant series. Caller validated.
pub(crate) fn acf_validated(y: &[f64], lag: usize) -> f64 {
    let n = y.len();
    if lag >= n {
        return 0.0;
    }
    let m = mean(y);
    let c0: f64 = y.iter().map(|v| (v - m) * (v - m)).sum();
    if c0 <= 0.0 {
        return 0.0;
    }
    let ck: f64 = (0..n - lag).map(|i| (y[i] - m) * (y[i + lag] - m)).sum();
    ck / c0
}

/// Sample autocorrelation r_k at `lag` (Box–Jenkins estimator). Needs n ≥ lag + 2.
pub fn autocorrelation(y: &[f64], lag: usize) -> Result<f64, StatsError> {
    check_finite(y, lag + 2)?;
    Ok(acf_validated(y, lag))
}

/// Lag-1 autocorrelation r1 (Box–Jenkins estimator). Needs n ≥ 3.
pub fn lag1_autocorrelation(y: &[f64]) -> Result<f64, StatsError> {
    check_finite(y, 3)?;
    Ok(acf_validated(y, 1))
}

/// AR(1) effective sample size `n (1 − r) / (1 + r)` with `r` clamped to
/// `[0, 1)` — negative autocorrelation never raises n_eff above n — and the
/// result clamped to `[3, n]` (or `n` itself when n < 3).
/// Source: Bayley & Hammersley (1946), "The effective number of independent
/// observations in an autocorrelated time series", *JRSS Suppl.* 8(2).
pub fn ar1_effective_n(n: f64, r: f64) -> f64 {
    let r = r.clamp(0.0, 1.0 - 1e-12);
    let lo = n.min(3.0);
    (n * (1.0 - r) / (1.0 + r)).clamp(lo, n)
}

/// Minimum number of batches for the batch-means estimator
/// (Schmeiser 1982 recommends 10–30).
pub const MIN_BATCHES: usize = 10;
/// Batch size grows until |lag-1 autocorrelation of batch means| ≤ this.
pub const BATCH_R1_THRESHOLD: f64 = 0.1;

/// Which estimator determined the width of [`AutocorrMeanInterval`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MeanCiMethod {
    /// AR(1) effective sample size (bias-corrected r1) was the wider one
    /// (this includes the independent case r1 ≤ 0, where n_eff = n).
    Ar1EffectiveN,
    /// Non-overlapping batch means was the wider one.
    BatchMeans {
        /// Points per batch.
        batch_size: usize,
        /// Number of batches.
        batches: usize,
        /// Lag-1 autocorrelation of the batch means.
        batch_r1: f64,
        /// Whether the |r1| ≤ 0.1 criterion was met (otherwise the
        /// fallback of exactly 10 batches was used).
        converged: bool,
    },
}

/// Interval for the mean of an autocorrelated series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutocorrMeanInterval {
    /// Number of points.
    pub n: usize,
    /// Effective number of independent points implied by the chosen
    /// standard error, clamped to [3, n].
    pub n_eff: f64,
    /// Raw lag-1 autocorrelation of the series.
    pub r1: f64,
    /// Sample mean.
    pub mean: f64,
    /// Standard error of the mean.
    pub se: f64,
    /// Degrees of freedom of the t quantile.
    pub df: f64,
    /// The interval.
    pub ci: Interval,
    /// Which estimator set the width.
    pub method: MeanCiMethod,
}

struct Candidate {
    se: f64,
    df: f64,
    half: f64,
    method: MeanCiMethod,
}

/// AR(1) candidate: n_eff from the bias-corrected lag-1 autocorrelation and
/// the variance estimator that is unbiased under that n_eff (Bayley &
/// Hammersley 1946): Var(ȳ) = s² (n − 1) / (n (n_eff − 1)).
fn ar1_candidate(y: &[f64], r1: f64, level: f64) -> (Candidate, f64) {
    let n = y.len() as f64;
    // Kendall (1954), Biometrika 41: E[r1] ≈ ρ − (1 + 4ρ)/n.
    let r = r1 + (1.0 + 4.0 * r1) / n;
    let n_eff = ar1_effective_n(n, r);
    let df = (n_eff - 1.0).max(1.0);
    let se = (variance(y) * (n - 1.0) / (n * df)).sqrt();
    let half = t_crit(level, df) * se;
    (
        Candidate {
            se,
            df,
            half,
            method: MeanCiMethod::Ar1EffectiveN,
        },
        n_eff,
    )
}

fn batch_means(y: &[f64], b: usize) -> Vec<f64> {
    let nb = y.len() / b;
    // Drop the *leading* remainder: the end of a series is the steadier part.
    let start = y.len() - nb * b;
    (0..nb)
        .map(|i| mean(&y[start + i * b..start + (i + 1) * b]))
        .collect()
}

/// Batch-means candidate (Law & Carson 1979; Schmeiser 1982): grow the batch
/// size b = 1, 2, … while at least [`MIN_BATCHES`] batches remain, stop at the
/// first b whose batch means have |r1| ≤ [`BATCH_R1_THRESHOLD`]; if none
/// qualifies fall back to exactly `MIN_BATCHES` batches. Interval uses
/// t with (batches − 1) df. `None` when n < 2·MIN_BATCHES.
fn batch_candidate(y: &[f64], level: f64) -> Option<Candidate> {
    let n = y.len();
    if n < 2 * MIN_BATCHES {
        return None;
    }
    let mut pick = None;
    for b in 1..=n / MIN_BATCHES {
        let m = batch_means(y, b);
        let r = acf_validated(&m, 1);
        if r.abs() <= BATCH_R1_THRESHOLD {
            pick = Some((b, m, r, true));
            break;
        }
    }
    let (b, m, r, converged) = pick.unwrap_or_else(|| {
        let b = n / MIN_BATCHES;
        let m = batch_means(y, b);
        let r = acf_validated(&m, 1);
        (b, m, r, false)
    });
    let k = m.len() as f64;
    let df = k - 1.0;
    let se = (variance(&m) / k).sqrt();
    Some(Candidate {
        se,
        df,
        half: t_crit(level, df) * se,
        method: MeanCiMethod::BatchMeans {
            batch_size: b,
            batches: m.len(),
            batch_r1: r,
            converged,
        },
    })
}

/// Confidence interval for the mean of an autocorrelated series (e.g. memory
/// samples at 10 Hz).
///
/// Two standard estimators are computed and the **wider** interval is
/// reported (the method that set it is in `method`):
///
/// 1. AR(1) effective sample size: r1 corrected for its small-sample bias
///    (Kendall 1954: E[r1] ≈ ρ − (1 + 4ρ)/n), clamped to [0, 1),
///    `n_eff = n (1 − r)/(1 + r)` clamped to [3, n] (Bayley & Hammersley
///    1946), Var(ȳ) = s²(n − 1)/(n (n_eff − 1)), t with n_eff − 1 df.
/// 2. Non-overlapping batch means (Law & Carson 1979, "A sequential procedure
///    for determining the length of a steady-state simulation", *Oper. Res.*
///    27(5); Schmeiser 1982, *Oper. Res.* 30(3)): batch size grows until the
///    batch means' |r1| ≤ 0.1 with ≥ 10 batches, else 10 batches.
///
/// Why both: Monte Carlo (see tests) shows the batch-means stopping rule
/// alone undercovers on AR(1) data (≈ 88 % at ρ = 0.9, n = 300; ≈ 93 % at
/// ρ = 0.5) because a noisy r1 of few batch means often passes the 0.1
/// test too early, while the AR(1) estimator is near-nominal on AR(1) data
/// but blind to slow components that barely move r1. Taking the wider of
/// the two keeps AR(1) coverage at ≈ 95 % and loses nothing when the series
/// is not AR(1). Negative autocorrelation never narrows the interval below
/// the independent-sample t interval.
///
/// Needs n ≥ 3. A constant series yields a zero-width interval.
pub fn mean_ci_autocorrelated(y: &[f64], level: f64) -> Result<AutocorrMeanInterval, StatsError> {
    check_finite(y, 3)?;
    check_level(level)?;
    Ok(mean_ci_autocorrelated_validated(y, level))
}

pub(crate) fn mean_ci_autocorrelated_validated(y: &[f64], level: f64) -> AutocorrMeanInterval {
    let n = y.len();
    let nf = n as f64;
    let r1 = acf_validated(y, 1);
    let m = mean(y);
    let var = variance(y);
    let (ar1, ar1_neff) = ar1_candidate(y, r1, level);
    let (best, n_eff) = match batch_candidate(y, level) {
        Some(bm) if bm.half > ar1.half => {
            let n_eff = if bm.se > 0.0 {
                (var / (bm.se * bm.se)).clamp(3.0, nf)
            } else {
                nf
            };
            (bm, n_eff)
        }
        _ => (ar1, if var > 0.0 { ar1_neff } else { nf }),
    };
    AutocorrMeanInterval {
        n,
        n_eff,
        r1,
        mean: m,
        se: best.se,
        df: best.df,
        ci: Interval {
            lower: m - best.half,
            upper: m + best.half,
            level,
        },
        method: best.method,
    }
}

#[cfg(test)]
pub(crate) mod proto {
    use super::*;

    pub fn ar1_ci(y: &[f64], level: f64, bias: bool) -> (f64, f64) {
        let n = y.len() as f64;
        let mut r = acf_validated(y, 1);
        if bias {
            r += (1.0 + 4.0 * r) / n;
        }
        let r = r.clamp(0.0, 0.99);
        let neff = (n * (1.0 - r) / (1.0 + r)).clamp(3.0, n);
        let var = variance(y) * (n - 1.0) / (n * (neff - 1.0));
        let h = t_crit(level, neff - 1.0) * var.sqrt();
        (h, neff)
    }

    /// AR(p) spectral density at zero, YW + AIC. returns (half-width, neff, p)
    pub fn arp_ci(y: &[f64], level: f64, pmax: usize) -> (f64, f64, usize) {
        let n = y.len();
        let m = mean(y);
        let acov: Vec<f64> = (0..=pmax)
            .map(|k| (0..n - k).map(|i| (y[i] - m) * (y[i + k] - m)).sum::<f64>() / n as f64)
            .collect();
        let g0 = acov[0];
        // Levinson-Durbin
        let mut phi: Vec<f64> = vec![];
        let mut v = g0;
        let mut best = (n as f64 * v.ln(), 0usize, vec![], v);
        for k in 1..=pmax {
            let mut acc = acov[k];
            for j in 0..phi.len() { acc -= phi[j] * acov[k - 1 - j]; }
            let kk = acc / v;
            let mut nphi = phi.clone();
            for j in 0..phi.len() { nphi[j] = phi[j] - kk * phi[phi.len() - 1 - j]; }
            nphi.push(kk);
            phi = nphi;
            v *= 1.0 - kk * kk;
            let aic = n as f64 * v.ln() + 2.0 * k as f64;
            if aic < best.0 { best = (aic, k, phi.clone(), v); }
        }
        let (_, p, phi, v) = best;
        let s: f64 = phi.iter().sum();
        let s0 = v / ((1.0 - s) * (1.0 - s)).max(1e-12);
        let neff = (n as f64 * g0 / s0).clamp(3.0, n as f64);
        let var = variance(y) * (n as f64 - 1.0) / (n as f64 * (neff - 1.0));
        (t_crit(level, neff - 1.0) * var.sqrt(), neff, p)
    }

    /// Geyer initial monotone sequence tau
    pub fn geyer_tau(y: &[f64]) -> f64 {
        let n = y.len();
        let m = mean(y);
        let c0: f64 = y.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64;
        if c0 <= 0.0 { return 1.0; }
        let g = |k: usize| -> f64 { (0..n - k).map(|i| (y[i] - m) * (y[i + k] - m)).sum::<f64>() / n as f64 / c0 };
        let mut tau = -1.0;
        let mut prev = f64::INFINITY;
        let mut k = 0;
        while 2 * k + 1 < n / 2 {
            let gam = g(2 * k) + g(2 * k + 1);
            if gam <= 0.0 { break; }
            let gam = gam.min(prev);
            tau += 2.0 * gam;
            prev = gam;
            k += 1;
        }
        tau.max(1.0)
    }

    /// brief's batch means; returns (half-width, B)
    pub fn bm_ci(y: &[f64], level: f64, min_batches: usize, thr: f64) -> (f64, f64) {
        let n = y.len();
        let mut chosen = None;
        let mut b = 1;
        while n / b >= min_batches {
            let nb = n / b;
            let start = n - nb * b;
            let means: Vec<f64> = (0..nb)
                .map(|i| mean(&y[start + i * b..start + (i + 1) * b]))
                .collect();
            if acf_validated(&means, 1).abs() <= thr {
                chosen = Some(means);
                break;
            }
            b += 1;
        }
        let means = chosen.unwrap_or_else(|| {
            let nb = min_batches;
            let b = n / nb;
            let start = n - nb * b;
            (0..nb)
                .map(|i| mean(&y[start + i * b..start + (i + 1) * b]))
                .collect()
        });
        let nb = means.len() as f64;
        let h = t_crit(level, nb - 1.0) * (variance(&means) / nb).sqrt();
        (h, nb)
    }
}
