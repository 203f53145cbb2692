//! Writes one of each chart (plus a few edge cases) into a directory:
//!
//! ```text
//! cargo run -p runcost-charts --example demo -- /tmp/charts-demo
//! ```

use std::path::PathBuf;

use runcost_charts::*;

/// Small deterministic noise source (no rand dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: demo OUTPUT_DIR")?;
    let mut rng = Lcg(42);

    // --- timeline: memory + CPU over a run with warm-up and a burst --------
    let (mut rss, mut pss, mut uss, mut cpu) = (vec![], vec![], vec![], vec![]);
    for i in 0..=180 {
        let t = i as f64 * 0.5;
        if (30.0..32.0).contains(&t) {
            // sampler hiccup: a gap in every series
            for v in [&mut rss, &mut pss, &mut uss, &mut cpu] {
                v.push((f64::NAN, f64::NAN));
            }
            continue;
        }
        let warm = (t / 10.0).min(1.0);
        let burst = if (40.0..55.0).contains(&t) {
            1.0
        } else if t >= 55.0 {
            (-(t - 55.0) / 6.0).exp()
        } else {
            0.0
        };
        let base = 60.0 + 40.0 * warm + 55.0 * burst;
        rss.push((t, base + 1.5 * rng.next()));
        pss.push((t, base * 0.82 + 1.2 * rng.next()));
        uss.push((t, base * 0.7 + 1.0 * rng.next()));
        cpu.push((
            t,
            (0.05 + 0.15 * warm + 1.6 * burst + 0.04 * rng.next()).max(0.0),
        ));
    }
    let spec = TimelineSpec {
        title: "gateway: footprint over time".into(),
        x_label: "time since start (s)".into(),
        panels: vec![
            Panel {
                title: "memory".into(),
                y_label: "memory (MiB)".into(),
                y_include_zero: true,
                series: vec![
                    Series::new("RSS", rss),
                    Series::new("PSS", pss),
                    Series::new("USS", uss),
                ],
                y_bands: vec![YBand::new(95.0, 105.0, "±5 % of baseline")],
                ..Default::default()
            },
            Panel {
                title: "CPU".into(),
                y_label: "CPU (cores)".into(),
                y_include_zero: true,
                series: vec![Series::new("CPU", cpu)],
                ..Default::default()
            },
        ],
        x_ranges: vec![
            XRange::new(0.0, 10.0, "warm-up"),
            XRange::new(40.0, 55.0, "burst").with_color(Rgb::RED),
        ],
        markers: vec![Marker::new(71.0, "recovered (t=71 s)")],
        size: None,
    };
    report(timeline(&dir.join("footprint-timeline"), &spec)?);

    // --- scatter_fit: log-log scaling with a fit and band ------------------
    let xs: Vec<f64> = (0..11).map(|k| 2f64.powi(k)).collect();
    let groups = (1..=3)
        .map(|r| {
            let pts = xs
                .iter()
                .map(|&x| {
                    (
                        x * (1.0 + 0.04 * rng.next()),
                        3.1 * x.powf(1.02) * (1.0 + 0.08 * rng.next()),
                    )
                })
                .collect();
            Series::new(format!("repeat {r}"), pts)
        })
        .collect();
    let fine: Vec<f64> = (0..=50)
        .map(|i| 10f64.powf(i as f64 * 3.0103 / 50.0))
        .collect();
    let spec = ScatterFitSpec {
        title: "memory vs open connections".into(),
        x_label: "open connections".into(),
        y_label: "RSS above idle (MiB)".into(),
        x_scale: Scale::Log10,
        y_scale: Scale::Log10,
        groups,
        fit: Some(Curve {
            name: "fit y = a·x^k".into(),
            points: fine.iter().map(|&x| (x, 3.1 * x.powf(1.02))).collect(),
        }),
        band: Some(Band {
            name: "95 % band".into(),
            points: fine
                .iter()
                .map(|&x| (x, 3.1 * x.powf(0.97) * 0.9, 3.1 * x.powf(1.07) * 1.1))
                .collect(),
        }),
        caption: Some("k = 1.02 [0.97, 1.07]  LINEAR".into()),
        ..Default::default()
    };
    report(scatter_fit(&dir.join("scaling-connections"), &spec)?);

    // --- lines: sweep with error bars --------------------------------------
    let knob: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
    let mk = |scale: f64, rng: &mut Lcg| {
        let pts: Vec<(f64, f64)> = knob
            .iter()
            .map(|&k| (k, scale * (20.0 + 6.0 * k.ln()) + rng.next()))
            .collect();
        let bars = pts.iter().map(|&(x, y)| (x, y - 2.0, y + 2.5)).collect();
        (pts, bars)
    };
    let (a, ab) = mk(1.0, &mut rng);
    let (b, bb) = mk(1.4, &mut rng);
    let spec = LinesSpec {
        title: "worker threads sweep".into(),
        x_label: "worker threads".into(),
        y_label: "RSS (MiB)".into(),
        x_scale: Scale::Log10,
        y_include_zero: true,
        point_markers: true,
        series: vec![
            Series::new("idle", a).with_error_bars(ab),
            Series::new("under load (1k rps)", b).with_error_bars(bb),
        ],
        caption: Some("median of 5 repeats, bars: min–max".into()),
        ..Default::default()
    };
    report(lines(&dir.join("sweep-workers"), &spec)?);

    // --- lines: latency by percentile --------------------------------------
    let ps = [
        0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99,
    ];
    let series = [500.0, 2000.0, 8000.0]
        .iter()
        .enumerate()
        .map(|(i, rate)| {
            let pts = ps
                .iter()
                .map(|&p| {
                    let tail = -(1.0 - p / 100.0f64).ln();
                    (p, 0.8 + 0.3 * i as f64 + tail * (0.4 + 0.6 * i as f64))
                })
                .collect();
            Series::new(format!("{rate} rps"), pts)
        })
        .collect();
    let spec = LinesSpec {
        title: "latency by percentile".into(),
        x_label: "percentile".into(),
        y_label: "latency (ms)".into(),
        x_scale: Scale::Percentile,
        y_scale: Scale::Log10,
        point_markers: true,
        series,
        ..Default::default()
    };
    report(lines(&dir.join("latency-percentiles"), &spec)?);

    // --- lines: rate vs latency, with a zero on the log axis ----------------
    let rates: [f64; 7] = [0.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0];
    let spec = LinesSpec {
        title: "offered rate vs latency".into(),
        x_label: "offered rate (req/s)".into(),
        y_label: "latency (ms)".into(),
        y_scale: Scale::Log10,
        point_markers: true,
        series: ["p50", "p99", "p99.9"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let f = [1.0, 3.0, 7.0][i];
                Series::new(
                    *n,
                    rates
                        .iter()
                        .map(|&r| {
                            (
                                r,
                                if r == 0.0 {
                                    0.0
                                } else {
                                    f * (1.0 + r / 2500.0).powi(2)
                                },
                            )
                        })
                        .collect(),
                )
            })
            .collect(),
        ..Default::default()
    };
    report(lines(&dir.join("rate-latency"), &spec)?);

    // --- edge cases ---------------------------------------------------------
    let spec = LinesSpec {
        title: "empty".into(),
        x_label: "x".into(),
        y_label: "y".into(),
        series: vec![Series::new("nothing", vec![])],
        ..Default::default()
    };
    report(lines(&dir.join("edge-empty"), &spec)?);
    let spec = TimelineSpec {
        title: "single point and flat line".into(),
        panels: vec![
            Panel {
                title: "one sample".into(),
                y_label: "memory (MiB)".into(),
                series: vec![Series::new("RSS", vec![(3.0, 42.0)])],
                ..Default::default()
            },
            Panel {
                title: "flat".into(),
                y_label: "CPU (cores)".into(),
                series: vec![Series::new("CPU", vec![(0.0, 0.0), (10.0, 0.0)])],
                ..Default::default()
            },
            Panel {
                title: "no samples".into(),
                y_label: "threads".into(),
                series: vec![],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    report(timeline(&dir.join("edge-timeline"), &spec)?);
    Ok(())
}

fn report(files: ChartFiles) {
    println!("{}\n{}", files.svg.display(), files.png.display());
}
