//! Seeded generators for the Monte Carlo tests.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

pub(crate) fn rng(seed: u64) -> Pcg64 {
    Pcg64::seed_from_u64(seed)
}

/// Standard normal via Box–Muller.
pub(crate) fn gauss(r: &mut Pcg64) -> f64 {
    loop {
        let u1: f64 = r.gen();
        if u1 > 0.0 {
            let u2: f64 = r.gen();
            return (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        }
    }
}

/// Stationary AR(1) series with marginal sd `sd` and mean `mu`.
pub(crate) fn ar1(r: &mut Pcg64, n: usize, rho: f64, sd: f64, mu: f64) -> Vec<f64> {
    let innov = sd * (1.0 - rho * rho).sqrt();
    let mut x = sd * gauss(r);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(mu + x);
        x = rho * x + innov * gauss(r);
    }
    out
}
