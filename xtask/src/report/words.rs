//! Verdicts in words a reader understands.

use crate::results::Finding;
use runcost_stats::powerlaw::{PowerLawOutcome, ScalingVerdict};

pub fn finding(f: &Finding) -> String {
    match f {
        Finding::Scaling {
            metric,
            parameter,
            points,
            outcome,
        } => match outcome {
            PowerLawOutcome::NoVerdict { reason } => {
                format!(
                    "{}: NO VERDICT from {points} point(s): {reason}.",
                    metric.label()
                )
            }
            PowerLawOutcome::Fit(fit) => {
                let (lo, hi) = (fit.k_ci.lower, fit.k_ci.upper);
                let verdict = match fit.verdict {
                    ScalingVerdict::Sublinear => format!("SUBLINEAR: {} grows slower than {parameter}", metric.label()),
                    ScalingVerdict::Linear => format!("LINEAR: {} grows in proportion to {parameter}", metric.label()),
                    ScalingVerdict::Superlinear => format!("SUPERLINEAR: {} grows faster than {parameter}", metric.label()),
                    ScalingVerdict::Indeterminate => format!(
                        "INDETERMINATE: the interval for k crosses an edge of the linear band, so the data cannot say how {} grows with {parameter}",
                        metric.label()
                    ),
                };
                let clipped = if fit.k_ci_lower_clipped || fit.k_ci_upper_clipped {
                    " (interval clipped at the search range)"
                } else {
                    ""
                };
                format!(
                    "{verdict}; k = {:.3}, {:.0} % CI [{lo:.3}, {hi:.3}]{clipped}, from {} points at {} sizes.",
                    fit.k,
                    fit.k_ci.level * 100.0,
                    fit.points_used,
                    fit.distinct_sizes
                )
            }
        },
    }
}

/// One line for a chart caption: `k = 1.02 [0.97, 1.07] LINEAR (15 points, 5 sizes)`.
pub fn finding_short(f: &Finding) -> String {
    match f {
        Finding::Scaling {
            points, outcome, ..
        } => match outcome {
            PowerLawOutcome::NoVerdict { .. } => format!("no verdict ({points} points)"),
            PowerLawOutcome::Fit(fit) => format!(
                "k = {:.3} [{:.3}, {:.3}] {} ({} points, {} sizes)",
                fit.k,
                fit.k_ci.lower,
                fit.k_ci.upper,
                format!("{:?}", fit.verdict).to_uppercase(),
                fit.points_used,
                fit.distinct_sizes
            ),
        },
    }
}
