//! Nearest-rank percentiles and sample-count confidence tiers.
//!
//! Source: the nearest-rank definition is Hyndman & Fan (1996), "Sample
//! quantiles in statistical packages", *The American Statistician* 50(4),
//! definition 1 (inverse of the empirical CDF); with rank = ⌈p·n⌉ as in
//! NIST/SEMATECH e-Handbook §7.2.6.2. It always returns an observed value,
//! which is what a latency/memory report should quote.

use serde::{Deserialize, Serialize};

use crate::error::{check_finite, StatsError};

/// 1-based nearest rank for percentile `p` (a fraction in [0, 1]) of `n` sorted
/// values: `ceil(p·n)` clamped to `[1, n]`. Returns 0 only when `n == 0`.
pub fn nearest_rank(p: f64, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    // Guard against p·n landing a hair above an integer through rounding
    // (e.g. 0.95 * 100 = 95.00000000000001 would otherwise give rank 96).
    let raw = p * n as f64;
    let rounded = raw.round();
    let r = if (raw - rounded).abs() <= 1e-9 * raw.abs().max(1.0) {
        rounded
    } else {
        raw.ceil()
    };
    (r.max(1.0) as usize).min(n)
}

fn check_p(p: f64) -> Result<(), StatsError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter {
            name: "p",
            reason: "percentile must be a fraction in [0, 1]",
        })
    }
}

/// Sorted copy of finite data (caller validated).
pub(crate) fn sorted_copy(data: &[f64]) -> Vec<f64> {
    let mut v = data.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Nearest-rank percentile of `data` (any order) for `p` in [0, 1].
///
/// Hyndman & Fan (1996) definition 1. Needs at least one value.
/// This does not check whether the sample is large enough to *quote* the
/// percentile; use [`quotable_percentile`] for that.
pub fn percentile_nearest_rank(data: &[f64], p: f64) -> Result<f64, StatsError> {
    check_finite(data, 1)?;
    check_p(p)?;
    let s = sorted_copy(data);
    Ok(s[nearest_rank(p, s.len()) - 1])
}

/// Several nearest-rank percentiles at once (one sort).
pub fn percentiles_nearest_rank(data: &[f64], ps: &[f64]) -> Result<Vec<f64>, StatsError> {
    check_finite(data, 1)?;
    for &p in ps {
        check_p(p)?;
    }
    let s = sorted_copy(data);
    Ok(ps
        .iter()
        .map(|&p| s[nearest_rank(p, s.len()) - 1])
        .collect())
}

/// Confidence tier implied by the number of samples.
///
/// The thresholds are the runcost design rule. Rationale: an empirical tail
/// quantile is only stable when several observations lie beyond it (p95 from
/// 100 samples leaves 5 above it, p99 from 500 leaves 5), because the
/// distribution-free confidence interval of a quantile is bounded by order
/// statistics (binomial argument; Conover, *Practical Nonparametric
/// Statistics*, 3rd ed., 1999, §3.2); p50/p90 are held to 30 samples.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Fewer than 3 samples: a smoke run, no statistics.
    Smoke,
    /// 3–4 samples.
    Tiny,
    /// 5–9 samples.
    Small,
    /// 10–29 samples: enough for a mean interval, no percentiles.
    Baseline,
    /// 30–99 samples: p50 and p90 may be quoted.
    P90,
    /// 100–499 samples: up to p95.
    P95,
    /// 500 or more samples: up to p99.
    P99,
}

impl Tier {
    /// Tier for a sample count.
    pub fn from_n(n: usize) -> Tier {
        match n {
            0..=2 => Tier::Smoke,
            3..=4 => Tier::Tiny,
            5..=9 => Tier::Small,
            10..=29 => Tier::Baseline,
            30..=99 => Tier::P90,
            100..=499 => Tier::P95,
            _ => Tier::P99,
        }
    }

    /// Smallest sample count that falls in this tier.
    pub fn min_samples(self) -> usize {
        match self {
            Tier::Smoke => 0,
            Tier::Tiny => 3,
            Tier::Small => 5,
            Tier::Baseline => 10,
            Tier::P90 => 30,
            Tier::P95 => 100,
            Tier::P99 => 500,
        }
    }

    /// Highest percentile (fraction) this tier may quote, or `None` when no
    /// percentile may be quoted (fewer than 30 samples).
    pub fn max_quotable_percentile(self) -> Option<f64> {
        match self {
            Tier::Smoke | Tier::Tiny | Tier::Small | Tier::Baseline => None,
            Tier::P90 => Some(0.90),
            Tier::P95 => Some(0.95),
            Tier::P99 => Some(0.99),
        }
    }

    /// Whether percentile `p` (fraction) may be quoted at this tier.
    pub fn may_quote(self, p: f64) -> bool {
        self.max_quotable_percentile()
            .is_some_and(|max| p <= max + 1e-12)
    }
}

/// Minimum samples needed to quote percentile `p` (fraction):
/// 30 up to p90, 100 up to p95, 500 up to p99, `None` above p99.
pub fn min_samples_for_percentile(p: f64) -> Option<usize> {
    [Tier::P90, Tier::P95, Tier::P99]
        .into_iter()
        .find(|t| t.may_quote(p))
        .map(Tier::min_samples)
}

/// Nearest-rank percentile, refused with
/// [`StatsError::PercentileNotQuotable`] when the sample's [`Tier`] is too
/// low (e.g. p99 from 10 samples).
pub fn quotable_percentile(data: &[f64], p: f64) -> Result<f64, StatsError> {
    check_p(p)?;
    let n = data.len();
    if !Tier::from_n(n).may_quote(p) {
        return Err(StatsError::PercentileNotQuotable {
            p,
            n,
            needed: min_samples_for_percentile(p).unwrap_or(usize::MAX),
        });
    }
    percentile_nearest_rank(data, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_on_known_arrays() {
        // NIST / Wikipedia "nearest-rank method" examples.
        let d = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(percentile_nearest_rank(&d, 0.05).unwrap(), 15.0);
        assert_eq!(percentile_nearest_rank(&d, 0.30).unwrap(), 20.0);
        assert_eq!(percentile_nearest_rank(&d, 0.40).unwrap(), 20.0);
        assert_eq!(percentile_nearest_rank(&d, 0.50).unwrap(), 35.0);
        assert_eq!(percentile_nearest_rank(&d, 1.0).unwrap(), 50.0);
        let d = [3.0, 6.0, 7.0, 8.0, 8.0, 10.0, 13.0, 15.0, 16.0, 20.0];
        assert_eq!(percentile_nearest_rank(&d, 0.25).unwrap(), 7.0);
        assert_eq!(percentile_nearest_rank(&d, 0.50).unwrap(), 8.0);
        assert_eq!(percentile_nearest_rank(&d, 0.75).unwrap(), 15.0);
        assert_eq!(percentile_nearest_rank(&d, 1.00).unwrap(), 20.0);
        // Order of input does not matter.
        let mut r = d;
        r.reverse();
        assert_eq!(percentile_nearest_rank(&r, 0.75).unwrap(), 15.0);
        assert_eq!(
            percentiles_nearest_rank(&r, &[0.0, 0.9, 0.95]).unwrap(),
            vec![3.0, 16.0, 20.0]
        );
    }

    #[test]
    fn rank_formula_and_clamping() {
        assert_eq!(nearest_rank(0.0, 10), 1);
        assert_eq!(nearest_rank(0.01, 10), 1);
        assert_eq!(nearest_rank(0.95, 100), 95);
        assert_eq!(nearest_rank(0.99, 500), 495);
        assert_eq!(nearest_rank(0.951, 100), 96);
        assert_eq!(nearest_rank(1.0, 7), 7);
        assert_eq!(nearest_rank(0.5, 0), 0);
        assert_eq!(nearest_rank(0.5, 1), 1);
    }

    #[test]
    fn percentile_rejects_bad_input() {
        assert_eq!(
            percentile_nearest_rank(&[], 0.5),
            Err(StatsError::TooFewPoints { needed: 1, got: 0 })
        );
        assert_eq!(
            percentile_nearest_rank(&[1.0, f64::NAN], 0.5),
            Err(StatsError::NonFinite { index: 1 })
        );
        assert!(percentile_nearest_rank(&[1.0], 1.5).is_err());
        assert!(percentile_nearest_rank(&[1.0], -0.1).is_err());
        assert_eq!(percentile_nearest_rank(&[4.0], 0.99).unwrap(), 4.0);
    }

    #[test]
    fn tiers_at_boundaries() {
        let cases = [
            (0, Tier::Smoke),
            (2, Tier::Smoke),
            (3, Tier::Tiny),
            (4, Tier::Tiny),
            (5, Tier::Small),
            (9, Tier::Small),
            (10, Tier::Baseline),
            (29, Tier::Baseline),
            (30, Tier::P90),
            (99, Tier::P90),
            (100, Tier::P95),
            (499, Tier::P95),
            (500, Tier::P99),
            (100_000, Tier::P99),
        ];
        for (n, t) in cases {
            assert_eq!(Tier::from_n(n), t, "n = {n}");
            assert_eq!(Tier::from_n(t.min_samples()), t);
        }
        assert_eq!(Tier::Baseline.max_quotable_percentile(), None);
        assert!(!Tier::Baseline.may_quote(0.5));
        assert!(Tier::P90.may_quote(0.5));
        assert!(Tier::P90.may_quote(0.9));
        assert!(!Tier::P90.may_quote(0.95));
        assert!(Tier::P95.may_quote(0.95));
        assert!(!Tier::P95.may_quote(0.99));
        assert!(Tier::P99.may_quote(0.99));
        assert!(!Tier::P99.may_quote(0.999));
        assert_eq!(min_samples_for_percentile(0.5), Some(30));
        assert_eq!(min_samples_for_percentile(0.95), Some(100));
        assert_eq!(min_samples_for_percentile(0.99), Some(500));
        assert_eq!(min_samples_for_percentile(0.999), None);
    }

    #[test]
    fn refuses_p99_from_ten_samples() {
        let d: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(
            quotable_percentile(&d, 0.99),
            Err(StatsError::PercentileNotQuotable {
                p: 0.99,
                n: 10,
                needed: 500
            })
        );
        let d: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quotable_percentile(&d, 0.95).unwrap(), 95.0);
        assert!(quotable_percentile(&d, 0.99).is_err());
    }

    #[test]
    fn tier_serializes_snake_case() {
        assert_eq!(serde_json::to_string(&Tier::P95).unwrap(), "\"p95\"");
        assert_eq!(serde_json::to_string(&Tier::Smoke).unwrap(), "\"smoke\"");
    }
}
