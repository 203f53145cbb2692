//! Render every chart kind into a temp dir and check the files.

use std::fs;
use std::path::{Path, PathBuf};

use runcost_charts::*;

/// A fresh output directory. Set `RUNCOST_CHARTS_TEST_OUT=/some/dir` to keep
/// the charts (in `/some/dir/<name>/`) for looking at them.
struct OutDir {
    _tmp: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl OutDir {
    fn new(name: &str) -> OutDir {
        match std::env::var_os("RUNCOST_CHARTS_TEST_OUT") {
            Some(root) => {
                let path = PathBuf::from(root).join(name);
                let _ = fs::remove_dir_all(&path);
                fs::create_dir_all(&path).unwrap();
                OutDir { _tmp: None, path }
            }
            None => {
                let tmp = tempfile::tempdir().unwrap();
                let path = tmp.path().to_path_buf();
                OutDir {
                    _tmp: Some(tmp),
                    path,
                }
            }
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

/// Width and height from the PNG signature + IHDR chunk, checked by hand.
fn png_header_size(path: &Path) -> (u32, u32) {
    let bytes = fs::read(path).unwrap();
    assert!(bytes.len() > 33, "{} too short", path.display());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

/// Decode the PNG fully; returns its size and whether anything non-white was drawn.
fn decode_png(path: &Path) -> ((u32, u32), bool) {
    let img = image::open(path).unwrap().to_rgb8();
    let inked = img.pixels().any(|p| p.0 != [255, 255, 255]);
    (img.dimensions(), inked)
}

/// Asserts both files exist with the expected size and returns the SVG text.
fn check(files: &ChartFiles, size: (u32, u32)) -> String {
    assert!(files.svg.extension().is_some_and(|e| e == "svg"));
    assert!(files.png.extension().is_some_and(|e| e == "png"));
    assert_eq!(png_header_size(&files.png), size);
    let (dim, inked) = decode_png(&files.png);
    assert_eq!(dim, size);
    assert!(inked, "PNG is blank");
    let svg = fs::read_to_string(&files.svg).unwrap();
    assert!(svg.starts_with("<svg"), "not an SVG");
    assert!(svg.contains(&format!("width=\"{}\" height=\"{}\"", size.0, size.1)));
    assert!(!svg.contains("NaN"), "NaN in SVG");
    svg
}

fn no_temp_files(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp"), "leftover temp file {name}");
    }
}

fn ramp(n: usize, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    (0..n).map(|i| (i as f64, f(i as f64))).collect()
}

fn footprint_spec() -> TimelineSpec {
    let mut rss = ramp(120, |t| 100.0 + (t / 10.0).sin() * 5.0);
    rss[50] = (f64::NAN, f64::NAN); // gap
    TimelineSpec {
        title: "footprint of gateway".into(),
        panels: vec![
            Panel {
                title: "memory panel".into(),
                y_label: "memory (MiB)".into(),
                y_include_zero: true,
                series: vec![
                    Series::new("RSS", rss),
                    Series::new("PSS", ramp(120, |t| 80.0 + t / 20.0)),
                    Series::new("USS", ramp(120, |_| 70.0)),
                ],
                y_bands: vec![YBand::new(95.0, 105.0, "recovery band")],
                ..Default::default()
            },
            Panel {
                title: "cpu panel".into(),
                y_label: "CPU (cores)".into(),
                y_include_zero: true,
                series: vec![Series::new("CPU", ramp(120, |t| t / 100.0))],
                markers: vec![Marker::new(90.0, "cpu-only marker")],
                ..Default::default()
            },
        ],
        x_ranges: vec![
            XRange::new(0.0, 10.0, "warm-up"),
            XRange::new(40.0, 60.0, "burst").with_color(Rgb::RED),
        ],
        markers: vec![Marker::new(75.0, "recovered")],
        ..Default::default()
    }
}

#[test]
fn timeline_two_panels() {
    let dir = OutDir::new("timeline_two_panels");
    let files = timeline(&dir.path().join("footprint-timeline"), &footprint_spec()).unwrap();
    assert_eq!(files.svg, dir.path().join("footprint-timeline.svg"));
    assert_eq!(files.png, dir.path().join("footprint-timeline.png"));
    let svg = check(&files, DEFAULT_SIZE);
    for text in [
        "footprint of gateway",
        "memory panel",
        "cpu panel",
        "memory (MiB)",
        "CPU (cores)",
        "time (s)",
        "RSS",
        "PSS",
        "USS",
        "recovery band",
        "warm-up",
        "burst",
        "recovered",
        "cpu-only marker",
    ] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    // Shared labels are written once (top panel), not per panel.
    assert_eq!(svg.matches(">\nwarm-up\n<").count(), 1);
    // A single series in the CPU panel gets no legend entry.
    assert_eq!(svg.matches(">\nCPU\n<").count(), 0);
    no_temp_files(dir.path());
}

#[test]
fn timeline_default_height_grows_with_panels() {
    let dir = OutDir::new("timeline_default_height_grows_with_panels");
    let mut spec = footprint_spec();
    spec.panels.push(spec.panels[1].clone());
    spec.panels.push(spec.panels[1].clone());
    let files = timeline(&dir.path().join("four"), &spec).unwrap();
    check(&files, (1000, 600 + 2 * 260));
    spec.size = Some((800, 500));
    let files = timeline(&dir.path().join("sized"), &spec).unwrap();
    check(&files, (800, 500));
}

#[test]
fn timeline_edge_cases() {
    let dir = OutDir::new("timeline_edge_cases");
    let spec = TimelineSpec {
        title: "edges".into(),
        panels: vec![
            Panel {
                title: "single".into(),
                series: vec![Series::new("one", vec![(5.0, 42.0)])],
                ..Default::default()
            },
            Panel {
                title: "flat zero".into(),
                series: vec![Series::new("zero", vec![(0.0, 0.0), (1.0, 0.0)])],
                ..Default::default()
            },
            Panel {
                title: "empty".into(),
                series: vec![Series::new("none", vec![])],
                ..Default::default()
            },
            Panel {
                title: "nan and inf".into(),
                y_scale: Scale::Log10,
                series: vec![Series::new(
                    "bad",
                    vec![
                        (f64::NAN, 1.0),
                        (1.0, f64::INFINITY),
                        (2.0, -1.0),
                        (3.0, 0.0),
                    ],
                )],
                y_bands: vec![YBand::new(-1.0, 2.0, "half-invalid band")],
                x_ranges: vec![XRange::new(f64::NAN, 3.0, "bad range")],
                markers: vec![Marker::new(f64::INFINITY, "bad marker")],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let files = timeline(&dir.path().join("edges"), &spec).unwrap();
    let svg = check(&files, (1000, 600 + 2 * 260));
    assert!(svg.contains("no data"));
    assert!(svg.contains("not shown"), "log-axis note missing");

    // No panels at all.
    let spec = TimelineSpec {
        title: "nothing".into(),
        ..Default::default()
    };
    let svg = check(
        &timeline(&dir.path().join("nothing"), &spec).unwrap(),
        DEFAULT_SIZE,
    );
    assert!(svg.contains("no data"));

    // All-equal values with a huge magnitude and a zero-width range.
    let spec = TimelineSpec {
        panels: vec![Panel {
            series: vec![Series::new("flat", ramp(10, |_| 3.5e9))],
            x_ranges: vec![XRange::new(4.0, 4.0, "instant")],
            ..Default::default()
        }],
        ..Default::default()
    };
    check(
        &timeline(&dir.path().join("flat"), &spec).unwrap(),
        DEFAULT_SIZE,
    );
}

fn scaling_spec() -> ScatterFitSpec {
    let xs = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
    ScatterFitSpec {
        title: "memory scaling".into(),
        x_label: "connections".into(),
        y_label: "memory (MiB)".into(),
        x_scale: Scale::Log10,
        y_scale: Scale::Log10,
        groups: (0..3)
            .map(|r| {
                Series::new(
                    format!("repeat {r}"),
                    xs.iter()
                        .map(|&x| (x, 2.0 * x * (1.0 + 0.01 * r as f64)))
                        .collect(),
                )
            })
            .collect(),
        fit: Some(Curve {
            name: String::new(),
            points: xs.iter().map(|&x| (x, 2.0 * x)).collect(),
        }),
        band: Some(Band {
            name: "confidence".into(),
            points: xs.iter().map(|&x| (x, 1.8 * x, 2.2 * x)).collect(),
        }),
        caption: Some("k = 1.02 [0.97, 1.07] LINEAR".into()),
        ..Default::default()
    }
}

#[test]
fn scatter_fit_log_log() {
    let dir = OutDir::new("scatter_fit_log_log");
    let files = scatter_fit(&dir.path().join("scaling"), &scaling_spec()).unwrap();
    let svg = check(&files, DEFAULT_SIZE);
    for text in [
        "memory scaling",
        "connections",
        "memory (MiB)",
        "repeat 0",
        "repeat 2",
        ">\nfit\n<",
        "confidence",
        "k = 1.02 [0.97, 1.07] LINEAR",
    ] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    assert!(!svg.contains("not shown"));
    no_temp_files(dir.path());
}

#[test]
fn scatter_fit_filters_non_positive_on_log_axes() {
    let dir = OutDir::new("scatter_fit_filters_non_positive_on_log_axes");
    let mut spec = scaling_spec();
    spec.groups[0].points.push((0.0, 5.0));
    spec.groups[0].points.push((3.0, -2.0));
    spec.groups[1].points.push((-1.0, 0.0));
    let svg = check(
        &scatter_fit(&dir.path().join("filtered"), &spec).unwrap(),
        DEFAULT_SIZE,
    );
    assert!(
        svg.contains("note: 2 values not shown (x &lt;= 0 on a log axis)"),
        "{svg}"
    );
    assert!(svg.contains("note: 2 values not shown (y &lt;= 0 on a log axis)"));

    // Everything filtered: an empty chart, not a panic.
    let spec = ScatterFitSpec {
        title: "all bad".into(),
        x_scale: Scale::Log10,
        y_scale: Scale::Log10,
        groups: vec![Series::new("g", vec![(0.0, 1.0), (1.0, -1.0)])],
        ..Default::default()
    };
    let svg = check(
        &scatter_fit(&dir.path().join("allbad"), &spec).unwrap(),
        DEFAULT_SIZE,
    );
    assert!(svg.contains("no data"));
}

#[test]
fn scatter_fit_single_point_and_equal_values() {
    let dir = OutDir::new("scatter_fit_single_point_and_equal_values");
    for (name, points, log) in [
        ("single", vec![(3.0, 7.0)], false),
        ("single-log", vec![(3.0, 7.0)], true),
        ("equal", vec![(1.0, 5.0), (2.0, 5.0), (3.0, 5.0)], false),
        ("equal-x", vec![(2.0, 1.0), (2.0, 3.0)], true),
        ("empty", vec![], false),
    ] {
        let scale = if log { Scale::Log10 } else { Scale::Linear };
        let spec = ScatterFitSpec {
            title: name.into(),
            x_scale: scale,
            y_scale: scale,
            groups: vec![Series::new("g", points)],
            ..Default::default()
        };
        check(
            &scatter_fit(&dir.path().join(name), &spec).unwrap(),
            DEFAULT_SIZE,
        );
    }
}

#[test]
fn lines_sweep_with_error_bars() {
    let dir = OutDir::new("lines_sweep_with_error_bars");
    let spec =
        LinesSpec {
            title: "threads sweep".into(),
            x_label: "worker threads".into(),
            y_label: "RSS (MiB)".into(),
            y_include_zero: true,
            point_markers: true,
            series: vec![
                Series::new("idle", vec![(1.0, 10.0), (2.0, 12.0), (4.0, 15.0)])
                    .with_error_bars(vec![(1.0, 9.0, 11.0), (2.0, 11.0, 13.5), (4.0, 16.0, 14.0)]),
                Series::new("loaded", vec![(1.0, 20.0), (2.0, 25.0), (4.0, 31.0)])
                    .with_color(Rgb::PURPLE),
            ],
            caption: Some("median of 5 repeats".into()),
            size: Some((640, 480)),
            ..Default::default()
        };
    let svg = check(
        &lines(&dir.path().join("sweep"), &spec).unwrap(),
        (640, 480),
    );
    for text in [
        "threads sweep",
        "worker threads",
        "RSS (MiB)",
        "idle",
        "loaded",
        "median of 5 repeats",
    ] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    assert!(svg.contains("#9467BD"), "explicit colour not used");
}

#[test]
fn lines_percentile_axis() {
    let dir = OutDir::new("lines_percentile_axis");
    let ps = [0.0, 50.0, 90.0, 99.0, 99.9, 100.0];
    let spec = LinesSpec {
        title: "latency by percentile".into(),
        x_label: "percentile".into(),
        y_label: "latency (ms)".into(),
        x_scale: Scale::Percentile,
        y_scale: Scale::Log10,
        series: vec![
            Series::new("1k rps", ps.iter().map(|&p| (p, 1.0 + p / 10.0)).collect()),
            Series::new("4k rps", ps.iter().map(|&p| (p, 2.0 + p / 5.0)).collect()),
        ],
        ..Default::default()
    };
    let svg = check(
        &lines(&dir.path().join("pct"), &spec).unwrap(),
        DEFAULT_SIZE,
    );
    for tick in ["50%", "90%", "99%", "99.9%"] {
        assert!(
            svg.contains(&format!(">\n{tick}\n<")),
            "tick {tick} missing"
        );
    }
    // p = 100 cannot be placed on the axis.
    assert!(svg.contains("outside [0, 100) on a percentile axis"));
}

#[test]
fn lines_edge_cases() {
    let dir = OutDir::new("lines_edge_cases");
    let cases: Vec<(&str, Vec<Series>, Scale)> = vec![
        ("no-series", vec![], Scale::Linear),
        (
            "empty-series",
            vec![Series::new("e", vec![])],
            Scale::Linear,
        ),
        (
            "one-point",
            vec![Series::new("p", vec![(1.0, 1.0)])],
            Scale::Log10,
        ),
        (
            "all-equal",
            vec![Series::new("q", ramp(5, |_| -2.0))],
            Scale::Linear,
        ),
        (
            "all-nan",
            vec![Series::new("n", vec![(f64::NAN, f64::NAN)])],
            Scale::Percentile,
        ),
        (
            "huge",
            vec![Series::new(
                "h",
                vec![(0.0, f64::MAX), (1.0, -f64::MAX), (2.0, 1.0)],
            )],
            Scale::Linear,
        ),
        (
            "tiny-span",
            vec![Series::new(
                "t",
                vec![(1e9, 1.0), (1e9 + 1e-3, 1.0 + 1e-12)],
            )],
            Scale::Linear,
        ),
        (
            "many-series",
            (0..25)
                .map(|i| {
                    Series::new(
                        format!("series number {i} with a long name that needs shortening"),
                        ramp(3, |t| t + i as f64),
                    )
                })
                .collect(),
            Scale::Linear,
        ),
    ];
    for (name, series, scale) in cases {
        let spec = LinesSpec {
            title: name.into(),
            x_scale: scale,
            series,
            point_markers: true,
            ..Default::default()
        };
        check(&lines(&dir.path().join(name), &spec).unwrap(), DEFAULT_SIZE);
    }
}

#[test]
fn stacked_areas_and_bars() {
    let dir = OutDir::new("stacked_areas_and_bars");
    let t: Vec<f64> = (0..8).map(f64::from).collect();
    let spec = StackedSpec {
        title: "USS by category".into(),
        x_label: "time (s)".into(),
        y_label: "USS (MiB), stacked".into(),
        x: t.clone(),
        layers: vec![
            Layer::new("anon", vec![32.0; 8]),
            Layer::new("heap", t.iter().map(|x| 2.0 * x).collect()),
            Layer {
                color: Some(Rgb::PURPLE),
                ..Layer::new("3 more", vec![1.0, f64::NAN, -1.0])
            },
        ],
        caption: Some("9 reads".into()),
        ..Default::default()
    };
    let svg = check(
        &stacked(&dir.path().join("areas"), &spec).unwrap(),
        DEFAULT_SIZE,
    );
    for text in ["USS by category", "anon", "heap", "3 more", "9 reads"] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    // Stacked: the axis reaches the sum of the layers (32 + 14 + 1 at most).
    assert!(svg.contains(">\n40\n<"), "no tick at 40");
    assert!(svg.contains("#9467BD"), "explicit colour not used");
    let bars = StackedSpec {
        bars: true,
        x: vec![0.0, 1.0, 2.0],
        ..spec.clone()
    };
    check(
        &stacked(&dir.path().join("bars"), &bars).unwrap(),
        DEFAULT_SIZE,
    );
    // Nothing, one position, and no finite x: never a panic or a NaN.
    for (name, x) in [
        ("empty", vec![]),
        ("one", vec![3.0]),
        ("nan", vec![f64::NAN]),
    ] {
        let s = StackedSpec { x, ..spec.clone() };
        check(&stacked(&dir.path().join(name), &s).unwrap(), DEFAULT_SIZE);
    }
}

#[test]
fn text_is_escaped_in_svg() {
    let dir = OutDir::new("text_is_escaped_in_svg");
    let spec = LinesSpec {
        title: "a <b> & c".into(),
        series: vec![
            Series::new("x & y", vec![(0.0, 1.0), (1.0, 2.0)]),
            Series::new("µs ≤ 5 %", vec![(0.0, 2.0), (1.0, 3.0)]),
        ],
        ..Default::default()
    };
    let svg = check(
        &lines(&dir.path().join("esc"), &spec).unwrap(),
        DEFAULT_SIZE,
    );
    assert!(svg.contains("a &lt;b&gt; &amp; c"));
    assert!(svg.contains("x &amp; y"));
    assert!(svg.contains("µs ≤ 5 %"));
}

#[test]
fn stems_with_dots_and_missing_dirs() {
    let dir = OutDir::new("stems_with_dots_and_missing_dirs");
    let stem = dir.path().join("deep/er/rate-1.5");
    let files = lines(&stem, &LinesSpec::default()).unwrap();
    assert_eq!(files.svg, PathBuf::from(format!("{}.svg", stem.display())));
    check(&files, DEFAULT_SIZE);
    no_temp_files(&dir.path().join("deep/er"));
}

#[test]
fn overwrite_and_deterministic_output() {
    let dir = OutDir::new("overwrite_and_deterministic_output");
    let stem = dir.path().join("again");
    let a = timeline(&stem, &footprint_spec()).unwrap();
    let (svg1, png1) = (fs::read(&a.svg).unwrap(), fs::read(&a.png).unwrap());
    let b = timeline(&stem, &footprint_spec()).unwrap();
    assert_eq!(a, b);
    assert_eq!(svg1, fs::read(&b.svg).unwrap());
    assert_eq!(png1, fs::read(&b.png).unwrap());
    no_temp_files(dir.path());
}

#[test]
fn error_names_the_file() {
    let dir = OutDir::new("error_names_the_file");
    let blocker = dir.path().join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    let err = lines(&blocker.join("chart"), &LinesSpec::default()).unwrap_err();
    assert!(err.path.starts_with(&blocker), "{err}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn charts_from_many_threads() {
    let dir = OutDir::new("charts_from_many_threads");
    std::thread::scope(|s| {
        for i in 0..4 {
            let path = dir.path().join(format!("t{i}"));
            s.spawn(move || {
                register_fonts().unwrap();
                check(&scatter_fit(&path, &scaling_spec()).unwrap(), DEFAULT_SIZE);
            });
        }
    });
}
