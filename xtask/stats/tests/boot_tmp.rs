mod common;
use common::*;
use rand::Rng;
use runcost_stats::*;
fn k_of(p: &[ScalingPoint]) -> f64 {
    match fit_power_law(p, &PowerLawOptions::default()).unwrap() { PowerLawOutcome::Fit(f) => f.k, _ => f64::NAN }
}
#[test]
fn boot() {
    let sizes = [10.0, 30.0, 100.0, 300.0, 1000.0];
    for &reps in &[3u32, 5] {
    for &k in &[0.5, 1.0, 2.0] {
        let mut r = rng(99 + reps as u64 + (k * 10.0) as u64);
        let trials = 300;
        let (mut cov_rep, mut cov_pt, mut cov_prof) = (0, 0, 0);
        for _ in 0..trials {
            let b = 300.0 / 1000f64.powf(k);
            let pts: Vec<ScalingPoint> = (0..reps).flat_map(|rep| sizes.iter().map(move |&n| (rep, n))).map(|(rep, n)| ScalingPoint { repeat_id: rep, n, cost: 700.0 + b * f64::powf(n, k) + 5.0 * gauss(&mut r) }).collect();
            if let PowerLawOutcome::Fit(f) = fit_power_law(&pts, &PowerLawOptions::default()).unwrap() { cov_prof += f.k_ci.contains(k) as usize; }
            let mut ks_rep = vec![]; let mut ks_pt = vec![];
            for _ in 0..200 {
                // whole repeats
                let pick: Vec<u32> = (0..reps).map(|_| r.gen_range(0..reps)).collect();
                let bs: Vec<ScalingPoint> = pick.iter().flat_map(|&rp| pts.iter().filter(move |p| p.repeat_id == rp).copied()).collect();
                ks_rep.push(k_of(&bs));
                // within size
                let bs2: Vec<ScalingPoint> = sizes.iter().flat_map(|&n| { let g: Vec<ScalingPoint> = pts.iter().filter(|p| p.n == n).copied().collect(); (0..reps).map(|_| g[r.gen_range(0..g.len())]).collect::<Vec<_>>() }).collect();
                ks_pt.push(k_of(&bs2));
            }
            for (ks, c) in [(&mut ks_rep, &mut cov_rep), (&mut ks_pt, &mut cov_pt)] {
                ks.sort_by(f64::total_cmp);
                let lo = ks[4]; let hi = ks[194];
                *c += (lo <= k && k <= hi) as usize;
            }
        }
        println!("BOOT reps={reps} k={k}: percentile bootstrap over repeats {:.3}, within-size {:.3}, profile-F {:.3}", frac(cov_rep, trials), frac(cov_pt, trials), frac(cov_prof, trials));
    }}
}
