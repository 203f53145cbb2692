//! Measurements of runcost itself, printed as ratios from one run.

pub mod sampling;
pub mod scaling;
