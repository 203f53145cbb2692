mod common;
use common::*;
use runcost_stats::*;
#[test]
fn dbg() {
    let opts = SteadyOptions { window: Window::Seconds(10.0), slope_floor: 0.0, level: 0.95, min_points: 20 };
    let mut r = rng(0x57ead);
    let t: Vec<f64> = (0..1200).map(|i| i as f64 / 10.0).collect();
    for _ in 0..300 {
        let e = ar1(&mut r, t.len(), 0.7, 0.5, 0.0);
        let y: Vec<f64> = t.iter().zip(&e).map(|(t, e)| 100.0 - 50.0 * (-t / 5.0).exp() + e).collect();
        let s = detect_steady_state(&t, &y, &opts).unwrap().unwrap();
        if s.start_time < 10.0 {
            println!("start {} slope {:.3} se {:.3} neff {:.1} r1 {:.3} df {:.1} {:?}", s.start_time, s.window_slope.slope, s.window_slope.se, s.window_slope.n_eff, s.window_slope.r1, s.window_slope.df, s.window_slope.method);
        }
        let _ = ar1(&mut r, 10, 0.0, 1.0, 0.0);
    }
}
