//! Thin wrappers over `statrs` quantile functions (never rounded tables).

use statrs::distribution::{ContinuousCDF, FisherSnedecor, Normal, StudentsT};

/// Above this many degrees of freedom Student's t is replaced by the normal
/// (difference < 1e-7 in the quantiles used here).
const T_DF_NORMAL_CUTOFF: f64 = 1e7;

/// Standard normal CDF.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    Normal::new(0.0, 1.0).expect("valid").cdf(x)
}

/// Standard normal quantile.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    Normal::new(0.0, 1.0).expect("valid").inverse_cdf(p)
}

/// Two-sided critical value z_{(1+level)/2}.
pub(crate) fn z_crit(level: f64) -> f64 {
    normal_quantile(0.5 + level / 2.0)
}

/// Two-sided Student-t critical value t_{(1+level)/2, df}; `df` may be fractional.
pub(crate) fn t_crit(level: f64, df: f64) -> f64 {
    debug_assert!(df > 0.0);
    if df > T_DF_NORMAL_CUTOFF {
        return z_crit(level);
    }
    StudentsT::new(0.0, 1.0, df)
        .expect("df > 0")
        .inverse_cdf(0.5 + level / 2.0)
}

/// Upper quantile of the F distribution: F_{d1,d2}(p).
pub(crate) fn f_quantile(p: f64, d1: f64, d2: f64) -> f64 {
    FisherSnedecor::new(d1, d2)
        .expect("d1, d2 > 0")
        .inverse_cdf(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_reference_values() {
        // Reference values from R: qt(.975, 9), qnorm(.975), qf(.95, 1, 20).
        assert!((t_crit(0.95, 9.0) - 2.262_157_162_8).abs() < 1e-8);
        assert!((z_crit(0.95) - 1.959_963_984_5).abs() < 1e-8);
        assert!((f_quantile(0.95, 1.0, 20.0) - 4.351_243_503_7).abs() < 1e-7);
        let t25 = t_crit(0.95, 2.5);
        assert!(t25 > t_crit(0.95, 3.0) && t25 < t_crit(0.95, 2.0));
    }
}
