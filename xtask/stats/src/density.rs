//! Density breakpoint: how many concurrent boxes a host carries before a
//! latency percentile degrades, and a memory-based capacity estimate.
//!
//! Source: the rule is runcost's (design §9), after firkin's density
//! benchmark: breakpoint = the largest concurrency level whose p95 latency
//! is at most `factor` × the p95 at the first (lowest) level. A curve that
//! crosses the limit and comes back under it is reported as non-monotonic
//! rather than smoothed over, since the breakpoint is then fragile.

use serde::{Deserialize, Serialize};

use crate::error::StatsError;

/// The breakpoint of a density curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Breakpoint {
    /// p95 at the first level (the reference).
    pub baseline: f64,
    /// `factor × baseline`.
    pub limit: f64,
    pub factor: f64,
    /// Largest level whose value ≤ limit (the first level always qualifies).
    pub level: u32,
    /// Levels above the limit.
    pub exceeded: Vec<u32>,
    /// Some level below the breakpoint exceeded the limit: the curve crosses
    /// it more than once.
    pub crosses_back: bool,
    /// Values never decrease as the level grows.
    pub monotonic: bool,
    /// value / baseline per level.
    pub ratios: Vec<(u32, f64)>,
}

/// `points` are (level, p95) with strictly increasing levels ≥ 1.
pub fn density_breakpoint(points: &[(u32, f64)], factor: f64) -> Result<Breakpoint, StatsError> {
    if points.is_empty() {
        return Err(StatsError::TooFewPoints { needed: 1, got: 0 });
    }
    if !(factor.is_finite() && factor >= 1.0) {
        return Err(StatsError::InvalidParameter {
            name: "factor",
            reason: "must be finite and at least 1",
        });
    }
    for w in points.windows(2) {
        if w[1].0 <= w[0].0 {
            return Err(StatsError::InvalidParameter {
                name: "levels",
                reason: "must be strictly increasing",
            });
        }
    }
    if points
        .iter()
        .any(|(l, v)| *l == 0 || !v.is_finite() || *v <= 0.0)
    {
        return Err(StatsError::InvalidParameter {
            name: "points",
            reason: "levels must be ≥ 1 and values finite and positive",
        });
    }
    let baseline = points[0].1;
    let limit = factor * baseline;
    let level = points
        .iter()
        .filter(|(_, v)| *v <= limit)
        .map(|(l, _)| *l)
        .max()
        .unwrap_or(points[0].0);
    let exceeded: Vec<u32> = points
        .iter()
        .filter(|(_, v)| *v > limit)
        .map(|(l, _)| *l)
        .collect();
    let crosses_back = exceeded.iter().any(|l| *l < level);
    let monotonic = points.windows(2).all(|w| w[1].1 >= w[0].1);
    Ok(Breakpoint {
        baseline,
        limit,
        factor,
        level,
        exceeded,
        crosses_back,
        monotonic,
        ratios: points.iter().map(|(l, v)| (*l, v / baseline)).collect(),
    })
}

/// How many boxes of `per_box` bytes fit in `available` bytes (floor), or
/// None when the per-box cost is not positive.
pub fn memory_capacity(available: f64, per_box: f64) -> Option<u64> {
    if !(per_box.is_finite() && per_box > 0.0 && available.is_finite() && available >= 0.0) {
        return None;
    }
    Some((available / per_box).floor() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_curve_breaks_at_the_top() {
        let b = density_breakpoint(&[(1, 10.0), (2, 11.0), (4, 12.0), (8, 19.9)], 2.0).unwrap();
        assert_eq!(b.level, 8);
        assert!(b.exceeded.is_empty());
        assert!(b.monotonic && !b.crosses_back);
        assert_eq!(b.limit, 20.0);
    }

    #[test]
    fn degrading_curve() {
        let b = density_breakpoint(&[(1, 10.0), (2, 15.0), (4, 20.0), (8, 45.0)], 2.0).unwrap();
        // Exactly at the limit still counts.
        assert_eq!(b.level, 4);
        assert_eq!(b.exceeded, vec![8]);
        assert_eq!(b.ratios[3], (8, 4.5));
    }

    #[test]
    fn non_monotonic_curve_is_flagged() {
        let b = density_breakpoint(&[(1, 10.0), (2, 25.0), (4, 12.0), (8, 40.0)], 2.0).unwrap();
        assert_eq!(b.level, 4);
        assert!(b.crosses_back);
        assert!(!b.monotonic);
        assert_eq!(b.exceeded, vec![2, 8]);
    }

    #[test]
    fn one_level_and_first_level_always_qualifies() {
        let b = density_breakpoint(&[(1, 5.0)], 2.0).unwrap();
        assert_eq!(b.level, 1);
        let b = density_breakpoint(&[(1, 5.0), (2, 50.0)], 2.0).unwrap();
        assert_eq!(b.level, 1);
    }

    #[test]
    fn bad_input() {
        assert!(density_breakpoint(&[], 2.0).is_err());
        assert!(density_breakpoint(&[(1, 1.0), (1, 2.0)], 2.0).is_err());
        assert!(density_breakpoint(&[(2, 1.0), (1, 2.0)], 2.0).is_err());
        assert!(density_breakpoint(&[(1, f64::NAN)], 2.0).is_err());
        assert!(density_breakpoint(&[(0, 1.0)], 2.0).is_err());
        assert!(density_breakpoint(&[(1, 1.0)], 0.5).is_err());
    }

    #[test]
    fn capacity() {
        assert_eq!(memory_capacity(1000.0, 300.0), Some(3));
        assert_eq!(memory_capacity(1000.0, 0.0), None);
        assert_eq!(memory_capacity(0.0, 10.0), Some(0));
    }
}
