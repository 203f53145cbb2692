use crate::autocorr::proto::*;
use crate::testutil::*;
use crate::dist::t_crit;
#[test]
fn proto_coverage() {
    for &n in &[300usize, 600] {
        for &(rho, ars, ws) in &[(0.0f64, 1.0f64, 0.0f64), (0.5, 1.0, 0.0), (0.9, 1.0, 0.0), (0.9, 1.0, 0.25), (0.98, 0.5, 1.0), (0.9, 1.0, 1.0), (0.5, 1.0, 1.0)] {
            let mix = (ars, ws);
            let trials = 2000;
            let mut r = rng(42);
            let mut cov = [0usize; 4];
            let mut hw = [0f64; 4];
            for _ in 0..trials {
                let a = ar1(&mut r, n, rho, ars, 10.0);
                let w = ar1(&mut r, n, 0.0, ws, 0.0);
                let y: Vec<f64> = a.iter().zip(&w).map(|(a, w)| a + w).collect();
                let m = y.iter().sum::<f64>() / n as f64;
                let s2 = crate::summary::variance(&y);
                let tau = geyer_tau(&y);
                let neff = (n as f64 / tau).clamp(3.0, n as f64);
                let hg = t_crit(0.95, neff - 1.0) * (s2 * (n as f64 - 1.0) / (n as f64 * (neff - 1.0))).sqrt();
                let h1 = ar1_ci(&y, 0.95, true).0;
                let hb = bm_ci(&y, 0.95, 10, 0.1).0;
                let hs = [h1, hg, h1.max(hb), h1.max(hb).max(hg)];
                for k in 0..4 {
                    if (m - 10.0).abs() <= hs[k] { cov[k] += 1; }
                    hw[k] += hs[k] / trials as f64;
                }
            }
            println!("MIX n={n} rho={rho} mix={mix:?}: ar1c {:.3}/{:.3} geyer {:.3}/{:.3} max(ar1,bm) {:.3}/{:.3} max3 {:.3}/{:.3}",
              cov[0] as f64/trials as f64, hw[0], cov[1] as f64/trials as f64, hw[1], cov[2] as f64/trials as f64, hw[2], cov[3] as f64/trials as f64, hw[3]);
        }
    }
}
