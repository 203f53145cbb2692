//! Seeded Monte Carlo checks of coverage, false-positive rate and power.
//!
//! Heavy tests are ignored in debug builds (the crate itself is compiled
//! without optimisation there); run them with
//! `cargo test -p runcost-stats --release`.

mod common;

use common::*;
use runcost_stats::*;

#[test]
#[cfg_attr(debug_assertions, ignore = "Monte Carlo: run with --release")]
fn leak_false_positive_and_power() {
    let opts_floor = LeakOptions {
        level: 0.95,
        slope_floor: 1.0 * KIB,
    };
    let opts_zero = LeakOptions {
        level: 0.95,
        slope_floor: 0.0,
    };
    let trials = 1000;
    for &rho in &[0.7, 0.9] {
        let mut r = rng(0x1eaf + (rho * 10.0) as u64);
        let (mut fp_floor, mut fp_zero, mut ols_only) = (0, 0, 0);
        for _ in 0..trials {
            let (t, y) = memory_series(&mut r, 10.0, 60.0, 50.0 * MIB, 0.0, 20.0 * KIB, rho);
            let a = leak_test(&t, &y, &opts_floor).unwrap();
            let b = leak_test(&t, &y, &opts_zero).unwrap();
            fp_floor += (a.verdict == LeakVerdict::Leak) as usize;
            fp_zero += (b.verdict == LeakVerdict::Leak) as usize;
            ols_only += (b.slope_ci.lower > 0.0) as usize;
        }
        println!(
            "leak-free rho={rho}: LEAK rate floor=1KiB/s {:.4}, floor=0 {:.4}, OLS-CI alone {:.4}",
            frac(fp_floor, trials),
            frac(fp_zero, trials),
            frac(ols_only, trials)
        );
        assert!(frac(fp_floor, trials) <= 0.05);
        assert!(frac(fp_zero, trials) <= 0.05);
    }
    let mut r = rng(0x1eaf_b16);
    let mut found = 0;
    let mut ts_err = 0.0;
    for _ in 0..trials {
        let (t, y) = memory_series(&mut r, 10.0, 60.0, 50.0 * MIB, 10.0 * KIB, 20.0 * KIB, 0.7);
        let a = leak_test(&t, &y, &opts_floor).unwrap();
        found += (a.verdict == LeakVerdict::Leak) as usize;
        ts_err += (a.theil_sen_slope - 10.0 * KIB).abs() / trials as f64;
    }
    println!(
        "10 KiB/s leak: LEAK rate {:.4}, mean |Theil-Sen error| {:.1} B/s",
        frac(found, trials),
        ts_err
    );
    assert!(frac(found, trials) >= 0.95);
}
