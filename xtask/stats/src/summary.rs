//! Descriptive summary and robust outlier flags.

use serde::{Deserialize, Serialize};

use crate::error::{check_finite, StatsError};
use crate::percentile::sorted_copy;

/// Iglewicz & Hoaglin (1993) cut-off for the modified z-score.
pub const MODIFIED_Z_THRESHOLD: f64 = 3.5;
/// 0.6745 = Φ⁻¹(0.75): makes MAD consistent with σ under normality
/// (Iglewicz & Hoaglin 1993).
const MAD_CONSISTENCY: f64 = 0.6745;
/// Fallback when MAD = 0: modified z = (x − median) / (1.253314 · MeanAD),
/// 1.253314 = √(π/2) making the mean absolute deviation consistent with σ
/// (IBM SPSS Modeler algorithms guide, "modified z-score").
const MEAN_AD_CONSISTENCY: f64 = 1.253_314;

/// Linear-interpolation sample quantile of already sorted data,
/// Hyndman & Fan (1996) definition 7 (the default of R and NumPy).
/// `p` in [0, 1]; `sorted` must be non-empty.
pub(crate) fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    debug_assert!(n > 0);
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

pub(crate) fn mean(data: &[f64]) -> f64 {
    data.iter().sum::<f64>() / data.len() as f64
}

/// Bessel-corrected sample variance (n − 1 divisor); 0 for n < 2.
pub(crate) fn variance(data: &[f64]) -> f64 {
    let n = data.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(data);
    data.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1) as f64
}

/// Descriptive summary of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (Hyndman–Fan definition 7, i.e. mean of the two middle values for even n).
    pub median: f64,
    /// Sample standard deviation with Bessel's n − 1 divisor; `None` for n = 1.
    pub stdev: Option<f64>,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// First quartile (Hyndman–Fan definition 7).
    pub q1: f64,
    /// Third quartile (Hyndman–Fan definition 7).
    pub q3: f64,
    /// Interquartile range q3 − q1.
    pub iqr: f64,
    /// Median absolute deviation from the median (raw, unscaled).
    pub mad: f64,
    /// Indices flagged by the modified z-score rule (see [`modified_z_outliers`]).
    pub outliers: Vec<usize>,
}

/// Summarise a sample: n, mean, median, Bessel stdev, min, max, quartiles,
/// IQR, MAD and modified-z outlier indices.
///
/// Quartiles use Hyndman & Fan (1996) definition 7; MAD and outliers follow
/// Iglewicz & Hoaglin (1993), *How to Detect and Handle Outliers*, ASQC.
/// Needs at least one finite value.
pub fn summarize(data: &[f64]) -> Result<Summary, StatsError> {
    check_finite(data, 1)?;
    let n = data.len();
    let s = sorted_copy(data);
    let median = quantile_sorted(&s, 0.5);
    let q1 = quantile_sorted(&s, 0.25);
    let q3 = quantile_sorted(&s, 0.75);
    let out = outliers_validated(data, median);
    Ok(Summary {
        n,
        mean: mean(data),
        median,
        stdev: (n >= 2).then(|| variance(data).sqrt()),
        min: s[0],
        max: s[n - 1],
        q1,
        q3,
        iqr: q3 - q1,
        mad: out.mad,
        outliers: out
            .flags
            .iter()
            .enumerate()
            .filter_map(|(i, &f)| f.then_some(i))
            .collect(),
    })
}

/// Which robust scale the modified z-scores were computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutlierScale {
    /// Median absolute deviation (the Iglewicz–Hoaglin definition).
    Mad,
    /// MAD was 0 (over half the values identical); the mean absolute
    /// deviation from the median was used instead.
    MeanAbsDev,
    /// All values equal: every score is 0, nothing is flagged.
    Degenerate,
}

/// Modified z-scores and outlier flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutlierReport {
    /// Sample median.
    pub median: f64,
    /// Median absolute deviation (raw).
    pub mad: f64,
    /// Scale actually used.
    pub scale: OutlierScale,
    /// Modified z-score per input value (same order as the input).
    pub scores: Vec<f64>,
    /// `|score| > 3.5` per input value.
    pub flags: Vec<bool>,
}

impl OutlierReport {
    /// Number of flagged values.
    pub fn count(&self) -> usize {
        self.flags.iter().filter(|&&f| f).count()
    }
}

/// Modified z-score outlier test, Iglewicz & Hoaglin (1993):
/// `M_i = 0.6745 (x_i − median) / MAD`, outlier when `|M_i| > 3.5`.
///
/// When MAD = 0 (more than half the values tie) the score falls back to
/// `(x_i − median) / (1.253314 · MeanAD)` (IBM SPSS convention); when all
/// values are equal nothing is an outlier. Needs at least one value.
pub fn modified_z_outliers(data: &[f64]) -> Result<OutlierReport, StatsError> {
    check_finite(data, 1)?;
    let s = sorted_copy(data);
    Ok(outliers_validated(data, quantile_sorted(&s, 0.5)))
}

fn outliers_validated(data: &[f64], median: f64) -> OutlierReport {
    let dev: Vec<f64> = data.iter().map(|v| (v - median).abs()).collect();
    let mad = quantile_sorted(&sorted_copy(&dev), 0.5);
    let mean_ad = mean(&dev);
    let (scale, denom) = if mad > 0.0 {
        (OutlierScale::Mad, mad / MAD_CONSISTENCY)
    } else if mean_ad > 0.0 {
        (OutlierScale::MeanAbsDev, MEAN_AD_CONSISTENCY * mean_ad)
    } else {
        (OutlierScale::Degenerate, f64::INFINITY)
    };
    let scores: Vec<f64> = if scale == OutlierScale::Degenerate {
        vec![0.0; data.len()]
    } else {
        data.iter().map(|v| (v - median) / denom).collect()
    };
    let flags = scores
        .iter()
        .map(|z| z.abs() > MODIFIED_Z_THRESHOLD)
        .collect();
    OutlierReport {
        median,
        mad,
        scale,
        scores,
        flags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_sample() {
        let d = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let s = summarize(&d).unwrap();
        assert_eq!(s.n, 8);
        assert_eq!(s.mean, 5.0);
        assert_eq!(s.median, 4.5);
        // Bessel: sum sq dev = 32, /7.
        assert!((s.stdev.unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!((s.min, s.max), (2.0, 9.0));
        assert_eq!(s.q1, 4.0);
        assert_eq!(s.q3, 5.5);
        assert_eq!(s.iqr, 1.5);
        // |dev| = 2.5 .5 .5 .5 .5 .5 2.5 4.5 -> median 0.5
        assert_eq!(s.mad, 0.5);
        // 9: 0.6745*4.5/0.5 = 6.07 > 3.5; 2 and 7: 3.37 < 3.5.
        assert_eq!(s.outliers, vec![7]);
    }

    #[test]
    fn edge_cases_n0_n1_n2() {
        assert_eq!(
            summarize(&[]),
            Err(StatsError::TooFewPoints { needed: 1, got: 0 })
        );
        let s = summarize(&[3.0]).unwrap();
        assert_eq!((s.n, s.mean, s.median, s.stdev), (1, 3.0, 3.0, None));
        assert_eq!((s.q1, s.q3, s.iqr, s.mad), (3.0, 3.0, 0.0, 0.0));
        assert!(s.outliers.is_empty());
        let s = summarize(&[1.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.0);
        assert!((s.stdev.unwrap() - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn nan_and_inf_rejected() {
        assert_eq!(
            summarize(&[1.0, f64::NAN]),
            Err(StatsError::NonFinite { index: 1 })
        );
        assert_eq!(
            modified_z_outliers(&[f64::INFINITY]),
            Err(StatsError::NonFinite { index: 0 })
        );
    }

    #[test]
    fn mad_zero_handled() {
        let d = [5.0, 5.0, 5.0, 5.0, 100.0];
        let r = modified_z_outliers(&d).unwrap();
        assert_eq!(r.mad, 0.0);
        assert_eq!(r.scale, OutlierScale::MeanAbsDev);
        assert_eq!(r.flags, vec![false, false, false, false, true]);
        assert!(r.scores.iter().all(|z| z.is_finite()));
        // All equal: nothing flagged, no NaN.
        let r = modified_z_outliers(&[7.0; 6]).unwrap();
        assert_eq!(r.scale, OutlierScale::Degenerate);
        assert_eq!(r.count(), 0);
        assert!(r.scores.iter().all(|&z| z == 0.0));
        let s = summarize(&[7.0; 6]).unwrap();
        assert_eq!(s.stdev, Some(0.0));
        assert!(s.outliers.is_empty());
    }
}
