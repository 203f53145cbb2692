//! Seeded generators shared by the Monte Carlo tests.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// Trials for Monte Carlo coverage tests.
pub const TRIALS: usize = 2000;

pub fn rng(seed: u64) -> Pcg64 {
    Pcg64::seed_from_u64(seed)
}

/// Standard normal via Box–Muller.
pub fn gauss(r: &mut Pcg64) -> f64 {
    loop {
        let u1: f64 = r.gen();
        if u1 > 0.0 {
            let u2: f64 = r.gen();
            return (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        }
    }
}

/// Stationary AR(1) series with marginal sd `sd` around `mu`.
pub fn ar1(r: &mut Pcg64, n: usize, rho: f64, sd: f64, mu: f64) -> Vec<f64> {
    let innov = sd * (1.0 - rho * rho).sqrt();
    let mut x = sd * gauss(r);
    (0..n)
        .map(|_| {
            let v = mu + x;
            x = rho * x + innov * gauss(r);
            v
        })
        .collect()
}

pub const KIB: f64 = 1024.0;
pub const MIB: f64 = 1024.0 * 1024.0;

/// A memory series in bytes sampled at `hz` for `secs`: baseline + leak·t +
/// AR(1) noise (sd `sd`, lag-1 `rho`) + white jitter (sd `sd/4`),
/// rounded to 4 KiB pages. Returns (t, y).
pub fn memory_series(
    r: &mut Pcg64,
    hz: f64,
    secs: f64,
    baseline: f64,
    leak_per_s: f64,
    sd: f64,
    rho: f64,
) -> (Vec<f64>, Vec<f64>) {
    let n = (hz * secs).round() as usize;
    let noise = ar1(r, n, rho, sd, 0.0);
    let t: Vec<f64> = (0..n).map(|i| i as f64 / hz).collect();
    let y = t
        .iter()
        .zip(&noise)
        .map(|(t, e)| {
            let v = baseline + leak_per_s * t + e + 0.25 * sd * gauss(r);
            (v / (4.0 * KIB)).round() * 4.0 * KIB
        })
        .collect();
    (t, y)
}

/// Fraction helper.
pub fn frac(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

/// Scaling data: cost = a + b·n^k at each size in every repeat, times
/// (1 + relative_sd·z) plus additive_sd·z (independent standard normals).
#[allow(clippy::too_many_arguments)]
pub fn power_law_points(
    r: &mut Pcg64,
    sizes: &[f64],
    repeats: u32,
    a: f64,
    b: f64,
    k: f64,
    additive_sd: f64,
    relative_sd: f64,
) -> Vec<runcost_stats::ScalingPoint> {
    let mut pts = Vec::new();
    for rep in 0..repeats {
        for &n in sizes {
            let mu = a + b * n.powf(k);
            let cost = mu * (1.0 + relative_sd * gauss(r)) + additive_sd * gauss(r);
            pts.push(runcost_stats::ScalingPoint {
                repeat_id: rep,
                n,
                cost,
            });
        }
    }
    pts
}
