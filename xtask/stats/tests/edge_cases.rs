//! Edge cases through the public API: n = 0, 1, 2, NaN, all-equal series.

use runcost_stats::*;

#[test]
fn empty_input_is_an_error_everywhere() {
    let e: [f64; 0] = [];
    assert!(matches!(
        summarize(&e),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(
        mean_ci_t(&e, 0.95),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(
        mean_ci_autocorrelated(&e, 0.95),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(
        percentile_nearest_rank(&e, 0.5),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(ols(&e, &e), Err(StatsError::TooFewPoints { .. })));
    assert!(matches!(
        mann_kendall(&e),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(
        theil_sen(&e, &e, 0.95),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(
        compare(&e, &[1.0, 2.0], 0.95),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(
        leak_test(&e, &e, &LeakOptions::default()),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(
        detect_steady_state(&e, &e, &SteadyOptions::default()),
        Err(StatsError::TooFewPoints { .. })
    ));
    assert!(matches!(
        fit_power_law(&[], &PowerLawOptions::default()),
        Ok(PowerLawOutcome::NoVerdict { .. })
    ));
    assert_eq!(Tier::from_n(0), Tier::Smoke);
}

#[test]
fn one_and_two_points() {
    let s = summarize(&[5.0]).unwrap();
    assert_eq!((s.n, s.stdev, s.mad), (1, None, 0.0));
    assert!(mean_ci_t(&[5.0], 0.95).unwrap().ci.is_none());
    assert!(mean_ci_t(&[5.0, 6.0], 0.95).unwrap().ci.is_some());
    assert!(mean_ci_autocorrelated(&[5.0, 6.0], 0.95).is_err());
    assert_eq!(percentile_nearest_rank(&[5.0], 0.99).unwrap(), 5.0);
    assert!(quotable_percentile(&[5.0, 6.0], 0.5).is_err());
    assert!(ols(&[1.0, 2.0], &[1.0, 2.0]).is_err());
    assert!(compare(&[1.0], &[1.0, 2.0], 0.95).is_err());
    let c = compare(&[1.0, 1.1], &[2.0, 2.1], 0.95).unwrap();
    assert!(c.relative_ci.is_some());
}

#[test]
fn nan_and_infinity_rejected() {
    let bad = [1.0, 2.0, f64::NAN, 4.0];
    let inf = [1.0, f64::NEG_INFINITY, 3.0, 4.0];
    let t = [0.0, 1.0, 2.0, 3.0];
    assert_eq!(summarize(&bad), Err(StatsError::NonFinite { index: 2 }));
    assert_eq!(summarize(&inf), Err(StatsError::NonFinite { index: 1 }));
    assert!(mean_ci_t(&bad, 0.95).is_err());
    assert!(mean_ci_autocorrelated(&bad, 0.95).is_err());
    assert!(ols(&t, &bad).is_err());
    assert!(slope_ci_autocorrelated(&t, &inf, 0.95).is_err());
    assert!(mann_kendall(&bad).is_err());
    assert!(compare(&bad, &t, 0.95).is_err());
    assert!(percentiles_nearest_rank(&inf, &[0.5]).is_err());
    assert!(modified_z_outliers(&bad).is_err());
}

#[test]
fn all_equal_series_give_finite_results() {
    let y = [42.0; 40];
    let t: Vec<f64> = (0..40).map(|i| i as f64 / 10.0).collect();
    let s = summarize(&y).unwrap();
    assert_eq!((s.stdev, s.iqr, s.mad), (Some(0.0), 0.0, 0.0));
    assert!(s.outliers.is_empty());
    let m = mean_ci_t(&y, 0.95).unwrap().ci.unwrap();
    assert_eq!((m.lower, m.upper), (42.0, 42.0));
    let a = mean_ci_autocorrelated(&y, 0.95).unwrap();
    assert_eq!((a.ci.lower, a.ci.upper), (42.0, 42.0));
    let sl = slope_ci_autocorrelated(&t, &y, 0.95).unwrap();
    assert_eq!((sl.slope, sl.ci.lower, sl.ci.upper), (0.0, 0.0, 0.0));
    let mk = mann_kendall(&y).unwrap();
    assert_eq!((mk.s, mk.p_value), (0, 1.0));
    let ts = theil_sen(&t, &y, 0.95).unwrap();
    assert_eq!(ts.slope, 0.0);
    assert_eq!(
        leak_test(&t, &y, &LeakOptions::default()).unwrap().verdict,
        LeakVerdict::NoLeak
    );
    let c = compare(&y, &y, 0.95).unwrap();
    assert_eq!(
        (c.relative_change, c.shift),
        (Some(0.0), Shift::NotSignificant)
    );
    // No NaN/inf anywhere: serde_json would write them as null.
    let json = serde_json::to_string(&(s, a, sl, mk, ts, c)).unwrap();
    assert!(!json.contains("null"), "{json}");
}
