//! Measurements of runcost itself, printed as ratios from one run.

pub mod load;
pub mod sampling;
pub mod scaling;
