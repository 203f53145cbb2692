//! The crate's single error type.

use std::fmt;

/// Why a statistic could not be computed.
///
/// Inputs are validated once, at the public entry point of each method:
/// non-finite values and too-short inputs are rejected here instead of
/// propagating NaN into results that end up in JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsError {
    /// The method needs at least `needed` points but got `got`.
    TooFewPoints {
        /// Minimum number of points the method accepts.
        needed: usize,
        /// Number of points supplied.
        got: usize,
    },
    /// Input value at `index` is NaN or infinite.
    NonFinite {
        /// Position of the first offending value.
        index: usize,
    },
    /// Two inputs that must be paired (x/y, t/y) differ in length.
    LengthMismatch {
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A parameter is outside its domain (e.g. confidence level not in (0, 1)).
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The regressor (x / time) has zero spread, so no slope can be fitted.
    DegenerateRegressor,
    /// Too few samples to quote the requested percentile honestly
    /// (see [`crate::percentile::Tier`]).
    PercentileNotQuotable {
        /// Requested percentile as a fraction in [0, 1].
        p: f64,
        /// Samples available.
        n: usize,
        /// Samples required for this percentile.
        needed: usize,
    },
}

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsError::TooFewPoints { needed, got } => {
                write!(f, "too few points: need at least {needed}, got {got}")
            }
            StatsError::NonFinite { index } => {
                write!(f, "non-finite value (NaN or infinity) at index {index}")
            }
            StatsError::LengthMismatch { left, right } => {
                write!(f, "paired inputs differ in length ({left} vs {right})")
            }
            StatsError::InvalidParameter { name, reason } => {
                write!(f, "invalid parameter `{name}`: {reason}")
            }
            StatsError::DegenerateRegressor => {
                write!(f, "regressor has zero spread; slope is undefined")
            }
            StatsError::PercentileNotQuotable { p, n, needed } => write!(
                f,
                "p{} needs at least {needed} samples, only {n} available",
                p * 100.0
            ),
        }
    }
}

impl std::error::Error for StatsError {}

/// Reject NaN/inf and inputs shorter than `needed`.
pub(crate) fn check_finite(data: &[f64], needed: usize) -> Result<(), StatsError> {
    if data.len() < needed {
        return Err(StatsError::TooFewPoints {
            needed,
            got: data.len(),
        });
    }
    match data.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite { index }),
        None => Ok(()),
    }
}

/// Validate a paired (x, y) input: equal length, finite, at least `needed` points.
pub(crate) fn check_pairs(x: &[f64], y: &[f64], needed: usize) -> Result<(), StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            left: x.len(),
            right: y.len(),
        });
    }
    check_finite(x, needed)?;
    check_finite(y, needed)
}

/// Validate a two-sided confidence level in (0, 1).
pub(crate) fn check_level(level: f64) -> Result<(), StatsError> {
    if level.is_finite() && level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter {
            name: "level",
            reason: "confidence level must lie strictly between 0 and 1",
        })
    }
}

/// Timestamps must be non-decreasing (series are given in time order).
pub(crate) fn check_time_order(t: &[f64]) -> Result<(), StatsError> {
    if t.windows(2).any(|w| w[1] < w[0]) {
        return Err(StatsError::InvalidParameter {
            name: "t",
            reason: "timestamps must be non-decreasing",
        });
    }
    Ok(())
}
