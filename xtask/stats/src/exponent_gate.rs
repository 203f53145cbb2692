//! The scaling-exponent gate: OK / IMPROVED / WARN / REGRESSED for a
//! candidate exponent k against a baseline's, from the two intervals.

use serde::{Deserialize, Serialize};

use crate::error::StatsError;
use crate::gate::GateVerdict;
use crate::interval::Interval;
use crate::powerlaw::GrowthTest;

/// A fitted exponent and its interval (both runs' at the same level).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExponentEstimate {
    /// Point estimate k̂.
    pub k: f64,
    /// Interval lower end (≤ k).
    pub lower: f64,
    /// Interval upper end (≥ k).
    pub upper: f64,
}

/// Thresholds of [`gate_exponent`], as absolute changes of k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExponentGateOptions {
    /// A significant rise of k beyond this is WARN (a fall: IMPROVED).
    pub warn: f64,
    /// A significant rise of k beyond this is REGRESSED; ≥ `warn`.
    pub regress: f64,
}

impl Default for ExponentGateOptions {
    /// WARN beyond +0.1 (the half-width of the linear band), REGRESSED
    /// beyond +0.2.
    fn default() -> Self {
        ExponentGateOptions {
            warn: 0.1,
            regress: 0.2,
        }
    }
}

/// Result of [`gate_exponent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExponentGateResult {
    /// The verdict.
    pub verdict: GateVerdict,
    /// k̂ candidate − k̂ baseline.
    pub difference: f64,
    /// MOVER interval of the difference (at the inputs' level).
    pub difference_ci: Interval,
    /// Whether `difference_ci` excludes 0.
    pub significant: bool,
}

/// Gate a change of a scaling exponent on the evidence for it.
///
/// The interval of d = k̂_c − k̂_b comes from the two runs' own (possibly
/// asymmetric) intervals by the MOVER rule (method of variance estimates
/// recovery; Zou & Donner 2008, *Stat. Med.* 27:1693; Newcombe 1998 for
/// its origin): with independent runs,
///
/// * L = d − √((k̂_c − l_c)² + (u_b − k̂_b)²),
/// * U = d + √((u_c − k̂_c)² + (k̂_b − l_b)²),
///
/// each side using the half-widths that face the other estimate. Then, as
/// in [`crate::gate::gate_metric`], a verdict needs both evidence and size:
///
/// * **REGRESSED** ⇔ L > 0 and d > `regress`;
/// * **WARN** ⇔ L > 0 and d > `warn`, not REGRESSED;
/// * **IMPROVED** ⇔ U < 0 and −d > `warn`;
/// * **OK** otherwise.
///
/// The verdict classes of the two fits (LINEAR, INDETERMINATE, ...) play no
/// part: which side of a band edge a point estimate fell on is not evidence
/// that k changed. With 95 % inputs a false WARN or REGRESSED needs L > 0
/// on identical targets, at most ≈ 2.5 %; the Monte Carlo test
/// `exponent_gate` measures it and the power (tests/exponent_gate.rs).
/// A NO GROWTH run has no k: the pair NO GROWTH ↔ a fit is judged on
/// the growth across the sizes instead ([`gate_growth`]).
///
/// Errors for non-finite values, an interval that does not contain its
/// estimate, and thresholds that are negative, non-finite or `warn >
/// regress`.
pub fn gate_exponent(
    baseline: &ExponentEstimate,
    candidate: &ExponentEstimate,
    level: f64,
    opts: &ExponentGateOptions,
) -> Result<ExponentGateResult, StatsError> {
    crate::error::check_level(level)?;
    for (name, e) in [("baseline", baseline), ("candidate", candidate)] {
        let ok = [e.k, e.lower, e.upper].iter().all(|v| v.is_finite())
            && e.lower <= e.k
            && e.k <= e.upper;
        if !ok {
            return Err(StatsError::InvalidParameter {
                name,
                reason: "needs a finite exponent inside its interval (lower ≤ k ≤ upper)",
            });
        }
    }
    let valid = |v: f64| v.is_finite() && v >= 0.0;
    if !valid(opts.warn) || !valid(opts.regress) || opts.warn > opts.regress {
        return Err(StatsError::InvalidParameter {
            name: "warn/regress",
            reason: "thresholds must be finite with 0 ≤ warn ≤ regress",
        });
    }
    Ok(mover_gate(
        baseline,
        candidate,
        level,
        opts.warn,
        opts.regress,
    ))
}

/// The MOVER interval of candidate − baseline and the verdict on it: a
/// rise needs L > 0 and a size beyond `warn` / `regress`, a fall U < 0 and
/// a size beyond `warn`.
fn mover_gate(
    baseline: &ExponentEstimate,
    candidate: &ExponentEstimate,
    level: f64,
    warn: f64,
    regress: f64,
) -> ExponentGateResult {
    let d = candidate.k - baseline.k;
    let lower = d - (candidate.k - candidate.lower).hypot(baseline.upper - baseline.k);
    let upper = d + (candidate.upper - candidate.k).hypot(baseline.k - baseline.lower);
    let verdict = if lower > 0.0 && d > regress {
        GateVerdict::Regressed
    } else if lower > 0.0 && d > warn {
        GateVerdict::Warn
    } else if upper < 0.0 && -d > warn {
        GateVerdict::Improved
    } else {
        GateVerdict::Ok
    };
    ExponentGateResult {
        verdict,
        difference: d,
        difference_ci: Interval {
            lower,
            upper,
            level,
        },
        significant: lower > 0.0 || upper < 0.0,
    }
}

/// Thresholds of [`gate_growth`]: fractions of the baseline's mean cost at
/// its smallest size, and an absolute floor in cost units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GrowthGateOptions {
    /// A significant rise of the growth beyond this fraction is WARN.
    pub warn: f64,
    /// ... beyond this fraction REGRESSED; ≥ `warn`.
    pub regress: f64,
    /// A change of the growth within this absolute amount is never a change.
    pub floor: f64,
}

/// Gate the growth across the sizes (mean cost at the largest size minus
/// at the smallest, [`GrowthTest`]) of two scaling runs, for the pair an
/// exponent cannot judge: one run NO GROWTH (no k at all), the other a
/// fit. Entering NO GROWTH as k = 0 [0, 0] made every fit whose k interval
/// clears 0 a REGRESSED, so a target whose growth is near the noise, and
/// falls on both sides of the growth test in identical runs, alarmed in
/// about one pair in five (the Monte Carlo `exponent_gate` measures both
/// rules). Here the evidence is the MOVER interval of g_c − g_b from the
/// two Welch intervals, and the size is relative to what the target costs
/// at its smallest size: REGRESSED ⇔ L > 0 and g_c − g_b > max(`regress` ×
/// base, `floor`); WARN alike with `warn`; IMPROVED ⇔ U < 0 and the fall
/// beyond max(`warn` × base, `floor`).
///
/// Errors as [`gate_exponent`] for non-finite inputs, intervals that do not
/// hold their estimate, and thresholds that are negative or inverted.
pub fn gate_growth(
    baseline: &GrowthTest,
    candidate: &GrowthTest,
    level: f64,
    opts: &GrowthGateOptions,
) -> Result<ExponentGateResult, StatsError> {
    crate::error::check_level(level)?;
    let est = |g: &GrowthTest| ExponentEstimate {
        k: g.difference,
        lower: g.difference_ci.lower,
        upper: g.difference_ci.upper,
    };
    for (name, g) in [("baseline", baseline), ("candidate", candidate)] {
        let e = est(g);
        let ok = [e.k, e.lower, e.upper, g.mean_smallest]
            .iter()
            .all(|v| v.is_finite())
            && e.lower <= e.k
            && e.k <= e.upper;
        if !ok {
            return Err(StatsError::InvalidParameter {
                name,
                reason: "needs a finite growth inside its interval (lower ≤ difference ≤ upper)",
            });
        }
    }
    let valid = |v: f64| v.is_finite() && v >= 0.0;
    if !valid(opts.warn) || !valid(opts.regress) || !valid(opts.floor) || opts.warn > opts.regress {
        return Err(StatsError::InvalidParameter {
            name: "warn/regress/floor",
            reason: "thresholds must be finite with 0 ≤ warn ≤ regress and floor ≥ 0",
        });
    }
    let base = baseline.mean_smallest.abs();
    Ok(mover_gate(
        &est(baseline),
        &est(candidate),
        level,
        (opts.warn * base).max(opts.floor),
        (opts.regress * base).max(opts.floor),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: f64, lower: f64, upper: f64) -> ExponentEstimate {
        ExponentEstimate { k, lower, upper }
    }

    fn verdict(b: ExponentEstimate, c: ExponentEstimate) -> GateVerdict {
        gate_exponent(&b, &c, 0.95, &ExponentGateOptions::default())
            .unwrap()
            .verdict
    }

    #[test]
    fn the_interval_of_the_difference_uses_the_facing_half_widths() {
        let r = gate_exponent(
            &e(1.0, 0.9, 1.2),
            &e(1.5, 1.2, 1.6),
            0.95,
            &ExponentGateOptions::default(),
        )
        .unwrap();
        assert!((r.difference - 0.5).abs() < 1e-12);
        // L = 0.5 − √(0.3² + 0.2²), U = 0.5 + √(0.1² + 0.1²).
        assert!((r.difference_ci.lower - (0.5 - 0.13f64.sqrt())).abs() < 1e-12);
        assert!((r.difference_ci.upper - (0.5 + 0.02f64.sqrt())).abs() < 1e-12);
        assert!(r.significant);
        assert_eq!(r.verdict, GateVerdict::Regressed);
    }

    #[test]
    fn verdicts_need_evidence_and_size() {
        // LINEAR → INDETERMINATE on the same k: no evidence, OK.
        assert_eq!(
            verdict(e(1.0, 0.95, 1.05), e(1.02, 0.92, 1.12)),
            GateVerdict::Ok
        );
        // Clearly higher but within the warn threshold: OK.
        assert_eq!(
            verdict(e(1.0, 0.99, 1.01), e(1.05, 1.04, 1.06)),
            GateVerdict::Ok
        );
        // Significant, between warn and regress: WARN.
        assert_eq!(
            verdict(e(1.0, 0.99, 1.01), e(1.15, 1.14, 1.16)),
            GateVerdict::Warn
        );
        // Large but uncertain: OK.
        assert_eq!(verdict(e(1.0, 0.6, 1.4), e(1.5, 1.0, 2.0)), GateVerdict::Ok);
        // Clearly lower by more than warn: IMPROVED.
        assert_eq!(
            verdict(e(2.0, 1.9, 2.1), e(1.0, 0.9, 1.1)),
            GateVerdict::Improved
        );
        // NO GROWTH (k = 0 [0, 0]) → a linear fit: REGRESSED, and back.
        assert_eq!(
            verdict(e(0.0, 0.0, 0.0), e(1.0, 0.9, 1.1)),
            GateVerdict::Regressed
        );
        assert_eq!(
            verdict(e(1.0, 0.9, 1.1), e(0.0, 0.0, 0.0)),
            GateVerdict::Improved
        );
        assert_eq!(verdict(e(0.0, 0.0, 0.0), e(0.0, 0.0, 0.0)), GateVerdict::Ok);
    }

    fn growth(d: f64, lower: f64, upper: f64) -> GrowthTest {
        GrowthTest {
            n_smallest: 10.0,
            n_largest: 1000.0,
            points_smallest: 3,
            points_largest: 3,
            mean_smallest: 100.0,
            mean_largest: 100.0 + d,
            difference: d,
            difference_ci: Interval {
                lower,
                upper,
                level: 0.95,
            },
            df: 4.0,
        }
    }

    #[test]
    fn growth_gate_needs_evidence_and_a_size_against_the_base() {
        let opts = GrowthGateOptions {
            warn: 0.05,
            regress: 0.10,
            floor: 1.0,
        };
        let v = |b: GrowthTest, c: GrowthTest| gate_growth(&b, &c, 0.95, &opts).unwrap().verdict;
        // No growth (0 ± 2) → +3 ± 2: the change's interval holds 0.
        assert_eq!(
            v(growth(0.0, -2.0, 2.0), growth(3.0, 1.0, 5.0)),
            GateVerdict::Ok
        );
        // No growth → +50 [45, 55] on a base of 100: REGRESSED.
        assert_eq!(
            v(growth(0.0, -2.0, 2.0), growth(50.0, 45.0, 55.0)),
            GateVerdict::Regressed
        );
        // +7 [6, 8] against 0 [-0.5, 0.5]: significant, 7 % of the base: WARN.
        assert_eq!(
            v(growth(0.0, -0.5, 0.5), growth(7.0, 6.0, 8.0)),
            GateVerdict::Warn
        );
        // And back down: IMPROVED.
        assert_eq!(
            v(growth(50.0, 45.0, 55.0), growth(0.0, -2.0, 2.0)),
            GateVerdict::Improved
        );
        // Significant but under the floor of 1 cost unit: OK.
        let tight = GrowthGateOptions {
            warn: 0.0,
            regress: 0.0,
            floor: 1.0,
        };
        let r = gate_growth(
            &growth(0.0, -0.1, 0.1),
            &growth(0.5, 0.4, 0.6),
            0.95,
            &tight,
        )
        .unwrap();
        assert!(r.significant);
        assert_eq!(r.verdict, GateVerdict::Ok);
        assert!(gate_growth(&growth(0.0, 1.0, 2.0), &growth(0.0, -1.0, 1.0), 0.95, &opts).is_err());
    }

    #[test]
    fn refuses_what_it_cannot_judge() {
        let o = ExponentGateOptions::default();
        let ok = e(1.0, 0.9, 1.1);
        assert!(gate_exponent(&e(1.0, 1.1, 1.2), &ok, 0.95, &o).is_err());
        assert!(gate_exponent(&ok, &e(f64::NAN, 0.9, 1.1), 0.95, &o).is_err());
        let inverted = ExponentGateOptions {
            warn: 0.3,
            regress: 0.2,
        };
        assert!(gate_exponent(&ok, &ok, 0.95, &inverted).is_err());
        assert!(gate_exponent(&ok, &ok, 1.5, &o).is_err());
    }
}
