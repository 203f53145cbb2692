//! Statistics core of runcost: pure functions, no I/O.
//!
//! Every method names its source in its doc comment. Inputs are validated
//! once at the public entry points (non-finite values and too-short inputs
//! give a [`StatsError`]). Result types derive `serde` so they can be written
//! to JSON as they are. Quantiles come from `statrs` (never rounded tables);
//! nothing here draws random numbers, so no seed is needed — the Monte Carlo
//! tests use seeded `rand_pcg::Pcg64` generators.
//!
//! | Module | Contents |
//! |---|---|
//! | [`percentile`] | nearest-rank percentiles, sample-count [`Tier`]s |
//! | [`summary`] | descriptive summary, modified z-score outliers |
//! | [`interval`] | Student-t interval for independent values |
//! | [`autocorr`] | autocorrelation, mean interval for autocorrelated series |
//! | [`regression`] | OLS, autocorrelation-corrected slope interval |
//! | [`trend`] | Mann–Kendall test, Theil–Sen slope |
//! | [`steady`] | warm-up detection, adaptive-precision check |
//! | [`leak`] | single-series and churn-vs-reference leak verdicts |
//! | [`powerlaw`] | cost(n) = a + b·n^k scaling fit and verdict |
//! | [`mod@compare`] | baseline vs candidate relative change (Fieller) |
//! | [`gate`] | per-metric OK / improved / warn / regressed verdict |
//! | [`exponent_gate`] | the same for a scaling exponent, from two intervals |
//! | [`density`] | density breakpoint, memory capacity estimate |
//! | [`changepoint`] | E-divisive change points in a metric's run history |
//!
//! ```
//! use runcost_stats::{leak_test, mean_ci_autocorrelated, LeakOptions, LeakVerdict, Tier};
//!
//! // 60 s of RSS samples at 10 Hz growing by 10 KiB/s.
//! let t: Vec<f64> = (0..600).map(|i| i as f64 / 10.0).collect();
//! let rss: Vec<f64> = t
//!     .iter()
//!     .enumerate()
//!     .map(|(i, t)| 50e6 + 10_240.0 * t + 4096.0 * ((i * 37 % 11) as f64 - 5.0))
//!     .collect();
//! let verdict = leak_test(&t, &rss, &LeakOptions { level: 0.95, slope_floor: 1024.0 })?;
//! assert_eq!(verdict.verdict, LeakVerdict::Leak);
//!
//! let ci = mean_ci_autocorrelated(&rss[..100], 0.95)?;
//! assert!(ci.n_eff <= 100.0);
//! assert_eq!(Tier::from_n(rss.len()).max_quotable_percentile(), Some(0.99));
//! # Ok::<(), runcost_stats::StatsError>(())
//! ```

pub mod autocorr;
pub mod changepoint;
pub mod compare;
pub mod density;
mod dist;
pub mod drift;
pub mod error;
pub mod exponent_gate;
pub mod gate;
pub mod interval;
pub mod leak;
pub mod percentile;
pub mod powerlaw;
pub mod regression;
pub mod steady;
pub mod summary;
pub mod trend;

pub use autocorr::{
    ar1_effective_n, autocorrelation, integrated_autocorrelation_time, lag1_autocorrelation,
    mean_ci_autocorrelated, AutocorrMeanInterval, MeanCiMethod,
};
pub use changepoint::{
    detect_change_points, ChangePoint, ChangePointOptions, CHANGEPOINT_DEFAULT_MIN_SIZE,
};
pub use compare::{compare, Comparison, Shift};
pub use drift::{drift_test, DriftTest, DriftVerdict, DRIFT_MIN_POINTS};
pub use error::StatsError;
pub use exponent_gate::{
    gate_exponent, gate_growth, ExponentEstimate, ExponentGateOptions, ExponentGateResult,
    GrowthGateOptions,
};
pub use gate::{gate_metric, GateOptions, GateResult, GateVerdict, MetricDirection};
pub use interval::{mean_ci_t, Interval, MeanInterval};
pub use leak::{churn_leak_test, leak_test, ChurnLeakTest, LeakOptions, LeakTest, LeakVerdict};
pub use percentile::{
    min_samples_for_percentile, nearest_rank, percentile_nearest_rank, percentiles_nearest_rank,
    quotable_percentile, Tier,
};
pub use powerlaw::{
    fit_power_law, growth_test, judge_scaling, FallingFit, GrowthTest, NoiseModel, PowerLawFit,
    PowerLawOptions, PowerLawOutcome, ScalingOutcome, ScalingPoint, ScalingVerdict,
    LINEARITY_MARGIN,
};
pub use regression::{
    ols, slope_ci_autocorrelated, NoiseResiduals, OlsFit, SlopeCiMethod, SlopeInterval,
};
pub use steady::{
    detect_steady_state, mean_precision, PrecisionCheck, SteadyOptions, SteadyState, Window,
};
pub use summary::{modified_z_outliers, summarize, OutlierReport, OutlierScale, Summary};
pub use trend::{
    mann_kendall, mann_kendall_autocorrected, theil_sen, MannKendall, TheilSen, TrendDirection,
};
