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
//! | [`compare`] | baseline vs candidate relative change (Fieller) |

pub mod autocorr;
pub mod compare;
mod dist;
pub mod error;
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
    mean_ci_autocorrelated,
    AutocorrMeanInterval, MeanCiMethod,
};
pub use compare::{compare, Comparison, Shift};
pub use error::StatsError;
pub use interval::{mean_ci_t, Interval, MeanInterval};
pub use leak::{
    churn_leak_test, leak_test, ChurnLeakTest, LeakOptions, LeakTest, LeakVerdict,
};
pub use percentile::{
    min_samples_for_percentile, nearest_rank, percentile_nearest_rank, percentiles_nearest_rank,
    quotable_percentile, Tier,
};
pub use powerlaw::{
    fit_power_law, NoiseModel, PowerLawFit, PowerLawOptions, PowerLawOutcome, ScalingPoint,
    ScalingVerdict, LINEARITY_MARGIN,
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
