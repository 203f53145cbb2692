//! Chart drawing for runcost reports.
//!
//! This crate knows nothing about runcost's result types: callers hand it
//! plain data (`Vec<(f64, f64)>` and a few labels) and get back an SVG and a
//! PNG of the same chart.
//!
//! # Output
//!
//! Every chart function takes a path *stem* such as `charts/footprint-timeline`
//! and writes **both** `<stem>.svg` and `<stem>.png` (the extension is
//! appended, so a stem containing dots is fine), returning their paths in a
//! [`ChartFiles`]. Missing parent directories are created. Each file is first
//! rendered into a temporary file in the same directory and then renamed into
//! place, so a reader never sees a half-written chart. The default canvas is
//! [`DEFAULT_SIZE`] (1000×600 px); multi-panel timelines grow taller by
//! default, and every spec has a `size` override.
//!
//! Text is rendered with an embedded copy of DejaVu Sans (see
//! `fonts/LICENSE-DejaVu.txt`), so output is deterministic and needs no fonts
//! installed on the machine. The font is registered with plotters once per
//! process, on first use (see [`register_fonts`]).
//!
//! # Charts
//!
//! * [`timeline`]: x = seconds, one or more vertically stacked panels sharing
//!   the x axis (e.g. memory in MiB, CPU in cores), with shaded x-ranges
//!   ("warm-up", "burst"), vertical markers and horizontal bands (a ±5 %
//!   recovery band).
//! * [`scatter_fit`]: point groups (e.g. one per repeat), optionally on
//!   log-log axes, with an optional fitted curve, a shaded band around it and
//!   a caption line (e.g. `k = 1.02 [0.97, 1.07] LINEAR`).
//! * [`stacked`]: layers summed bottom-up, as areas over x (memory by
//!   category over a window) or as bars (one per cell).
//! * [`lines`]: generic x–y chart with several named series, optional error
//!   bars, log axes, or a percentile x axis for latency-by-percentile curves.
//!
//! # Data conventions
//!
//! * **Gaps**: a point whose x or y is NaN or infinite is not drawn and
//!   *breaks the line* there, so `vec![(0., 1.), (1., 2.), (f64::NAN, f64::NAN),
//!   (5., 2.)]` draws two separate pieces. A piece made of a single point is
//!   drawn as a dot. Gap points are not reported.
//! * **Axis scales** ([`Scale`]): on a log axis values `<= 0` cannot be
//!   shown, on a percentile axis values outside `[0, 100)`; such points are
//!   left out (also breaking the line) and a note under the chart says how
//!   many were omitted and why.
//! * **Degenerate data**: empty series, a single point or all-equal values
//!   never panic and never produce a NaN axis: ranges are padded around the
//!   value, and a plot with nothing to draw says "no data".
//! * A **legend** is drawn to the right of the plot area (never over the
//!   data) when there is more than one entry to explain.
//!
//! # Example
//!
//! ```no_run
//! use runcost_charts::*;
//! use std::path::Path;
//!
//! let rss: Vec<(f64, f64)> = (0..60).map(|t| (t as f64, 100.0 + t as f64)).collect();
//! let spec = TimelineSpec {
//!     title: "gateway footprint".into(),
//!     panels: vec![Panel {
//!         title: "memory".into(),
//!         y_label: "MiB".into(),
//!         y_include_zero: true,
//!         series: vec![Series::new("RSS", rss)],
//!         ..Default::default()
//!     }],
//!     x_ranges: vec![XRange::new(0.0, 10.0, "warm-up")],
//!     ..Default::default()
//! };
//! let files = timeline(Path::new("report/charts/footprint-timeline"), &spec)?;
//! println!("{} {}", files.svg.display(), files.png.display());
//! # Ok::<(), runcost_charts::ChartError>(())
//! ```

mod axis;
mod draw;
mod lines;
mod output;
mod scatter;
mod stacked;
mod timeline;

use std::fmt;
use std::path::{Path, PathBuf};

pub use axis::Scale;
pub use output::register_fonts;

/// Default canvas size in pixels (width, height) for both the SVG and the PNG.
pub const DEFAULT_SIZE: (u32, u32) = (1000, 600);

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Neutral grey, the default for [`XRange`] (e.g. "warm-up").
    pub const GREY: Rgb = Rgb(127, 127, 127);
    /// Red (e.g. a "burst" range).
    pub const RED: Rgb = Rgb(214, 39, 40);
    /// Green, the default for [`YBand`].
    pub const GREEN: Rgb = Rgb(44, 160, 44);
    /// Blue.
    pub const BLUE: Rgb = Rgb(31, 119, 180);
    /// Orange.
    pub const ORANGE: Rgb = Rgb(255, 127, 14);
    /// Purple.
    pub const PURPLE: Rgb = Rgb(148, 103, 189);
    /// Near-black, the default for [`Marker`].
    pub const DARK: Rgb = Rgb(60, 60, 60);

    /// The `i`-th colour of the fixed series palette ([`PALETTE`]), cycling.
    pub fn palette(i: usize) -> Rgb {
        PALETTE[i % PALETTE.len()]
    }
}

/// Fixed series palette (the "tab10" colours), used in order for series that
/// have no explicit colour.
pub const PALETTE: [Rgb; 10] = [
    Rgb(31, 119, 180),  // blue
    Rgb(255, 127, 14),  // orange
    Rgb(44, 160, 44),   // green
    Rgb(214, 39, 40),   // red
    Rgb(148, 103, 189), // purple
    Rgb(140, 86, 75),   // brown
    Rgb(227, 119, 194), // pink
    Rgb(127, 127, 127), // grey
    Rgb(188, 189, 34),  // olive
    Rgb(23, 190, 207),  // cyan
];

/// A named data series.
///
/// Drawn as a line in [`timeline`] and [`lines`] and as points in
/// [`scatter_fit`]. NaN / infinite coordinates break the line (see the crate
/// docs on gaps).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// `(x, y)` points, in x order for lines.
    pub points: Vec<(f64, f64)>,
    /// Optional vertical error bars `(x, lo, hi)`, drawn in the series colour.
    pub error_bars: Vec<(f64, f64, f64)>,
    /// Colour override; `None` takes the next colour of [`PALETTE`] (by the
    /// series' index in its panel / chart).
    pub color: Option<Rgb>,
}

impl Series {
    /// A series with a name and points, no error bars, palette colour.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            ..Default::default()
        }
    }

    /// Set the error bars `(x, lo, hi)`.
    pub fn with_error_bars(mut self, error_bars: Vec<(f64, f64, f64)>) -> Series {
        self.error_bars = error_bars;
        self
    }

    /// Set an explicit colour.
    pub fn with_color(mut self, color: Rgb) -> Series {
        self.color = Some(color);
        self
    }
}

/// A shaded span of the x axis with a label written above the plot, e.g.
/// "warm-up" in grey or "burst" in red.
#[derive(Clone, Debug, PartialEq)]
pub struct XRange {
    /// Start (x units, seconds in a timeline).
    pub start: f64,
    /// End; `start` and `end` may be given in either order.
    pub end: f64,
    /// Label; may be empty.
    pub label: String,
    /// Shade colour (drawn translucent).
    pub color: Rgb,
}

impl XRange {
    /// A grey range.
    pub fn new(start: f64, end: f64, label: impl Into<String>) -> XRange {
        XRange {
            start,
            end,
            label: label.into(),
            color: Rgb::GREY,
        }
    }

    /// Set the colour.
    pub fn with_color(mut self, color: Rgb) -> XRange {
        self.color = color;
        self
    }
}

/// A vertical line at `x` with a label written above the plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Position on the x axis.
    pub x: f64,
    /// Label; may be empty.
    pub label: String,
    /// Line colour (drawn dashed).
    pub color: Rgb,
}

impl Marker {
    /// A dark dashed marker.
    pub fn new(x: f64, label: impl Into<String>) -> Marker {
        Marker {
            x,
            label: label.into(),
            color: Rgb::DARK,
        }
    }

    /// Set the colour.
    pub fn with_color(mut self, color: Rgb) -> Marker {
        self.color = color;
        self
    }
}

/// A shaded horizontal band `lo..hi` across the whole plot, e.g. a ±5 %
/// recovery band around a baseline. Its label appears in the legend.
#[derive(Clone, Debug, PartialEq)]
pub struct YBand {
    /// Lower edge (y units).
    pub lo: f64,
    /// Upper edge; `lo` and `hi` may be given in either order.
    pub hi: f64,
    /// Legend label; may be empty.
    pub label: String,
    /// Shade colour (drawn translucent, edges a little stronger).
    pub color: Rgb,
}

impl YBand {
    /// A green band.
    pub fn new(lo: f64, hi: f64, label: impl Into<String>) -> YBand {
        YBand {
            lo,
            hi,
            label: label.into(),
            color: Rgb::GREEN,
        }
    }

    /// Set the colour.
    pub fn with_color(mut self, color: Rgb) -> YBand {
        self.color = color;
        self
    }
}

/// One panel of a [`TimelineSpec`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// Panel title, written above the panel; may be empty.
    pub title: String,
    /// Y axis label with unit, e.g. `"memory (MiB)"`.
    pub y_label: String,
    /// Y axis scale (usually [`Scale::Linear`]).
    pub y_scale: Scale,
    /// Force 0 into a linear y range (memory, CPU).
    pub y_include_zero: bool,
    /// Series drawn as lines.
    pub series: Vec<Series>,
    /// Shaded x-ranges for this panel only (see also [`TimelineSpec::x_ranges`]).
    pub x_ranges: Vec<XRange>,
    /// Vertical markers for this panel only (see also [`TimelineSpec::markers`]).
    pub markers: Vec<Marker>,
    /// Horizontal bands.
    pub y_bands: Vec<YBand>,
}

/// A time chart: one or more panels stacked vertically that share the x axis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimelineSpec {
    /// Chart title.
    pub title: String,
    /// X axis label; empty means `"time (s)"`.
    pub x_label: String,
    /// Panels, top to bottom.
    pub panels: Vec<Panel>,
    /// Shaded x-ranges drawn in every panel, labelled once above the top panel.
    pub x_ranges: Vec<XRange>,
    /// Vertical markers drawn in every panel, labelled once above the top panel.
    pub markers: Vec<Marker>,
    /// Canvas size; `None` is 1000 px wide and 600 px tall for up to two
    /// panels, 260 px taller for each further panel.
    pub size: Option<(u32, u32)>,
}

/// A fitted curve, drawn as a dark line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curve {
    /// Legend name; empty means `"fit"`.
    pub name: String,
    /// `(x, y)` points in x order; NaN breaks the line.
    pub points: Vec<(f64, f64)>,
}

/// A shaded band between two curves, e.g. a confidence band around a fit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Band {
    /// Legend name; empty means `"band"`.
    pub name: String,
    /// `(x, lo, hi)` in x order; NaN breaks the band.
    pub points: Vec<(f64, f64, f64)>,
}

/// A scaling chart: groups of points with an optional fit and band.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScatterFitSpec {
    /// Chart title.
    pub title: String,
    /// X axis label with unit.
    pub x_label: String,
    /// Y axis label with unit.
    pub y_label: String,
    /// X axis scale ([`Scale::Log10`] for log-log).
    pub x_scale: Scale,
    /// Y axis scale.
    pub y_scale: Scale,
    /// Force 0 into a linear x range.
    pub x_include_zero: bool,
    /// Force 0 into a linear y range.
    pub y_include_zero: bool,
    /// Point groups (e.g. one per repeat), each with its own colour and
    /// marker shape. Error bars are drawn if present.
    pub groups: Vec<Series>,
    /// Optional fitted curve.
    pub fit: Option<Curve>,
    /// Optional shaded band (drawn under the points and the fit).
    pub band: Option<Band>,
    /// Optional caption line under the plot, e.g. `k = 1.02 [0.97, 1.07] LINEAR`.
    pub caption: Option<String>,
    /// Canvas size; `None` is [`DEFAULT_SIZE`].
    pub size: Option<(u32, u32)>,
}

/// A generic x–y line chart (sweeps, rate vs latency, latency by percentile).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinesSpec {
    /// Chart title.
    pub title: String,
    /// X axis label with unit (for a percentile axis e.g. `"percentile"`).
    pub x_label: String,
    /// Y axis label with unit.
    pub y_label: String,
    /// X axis scale: [`Scale::Percentile`] takes x as percentiles in percent
    /// (`50.0`, `99.9`) and spreads the tail out.
    pub x_scale: Scale,
    /// Y axis scale.
    pub y_scale: Scale,
    /// Force 0 into a linear x range.
    pub x_include_zero: bool,
    /// Force 0 into a linear y range.
    pub y_include_zero: bool,
    /// Draw a marker at every point as well as the line (each series gets
    /// its own marker shape).
    pub point_markers: bool,
    /// The series.
    pub series: Vec<Series>,
    /// Optional caption line under the plot.
    pub caption: Option<String>,
    /// Canvas size; `None` is [`DEFAULT_SIZE`].
    pub size: Option<(u32, u32)>,
}

/// One layer of a [`StackedSpec`]: a value at each of the spec's x positions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layer {
    /// Legend name.
    pub name: String,
    /// One value per x position (missing, negative or NaN stacks as 0).
    pub values: Vec<f64>,
    /// Fill colour; `None` takes the next [`PALETTE`] colour.
    pub color: Option<Rgb>,
}

impl Layer {
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Layer {
        Layer {
            name: name.into(),
            values,
            color: None,
        }
    }
}

/// A stacked chart: the first layer at the bottom, each next one on top.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StackedSpec {
    /// Chart title.
    pub title: String,
    /// X axis label with unit.
    pub x_label: String,
    /// Y axis label with unit.
    pub y_label: String,
    /// The x positions every layer has a value at (linear axis).
    pub x: Vec<f64>,
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
    /// Bars at each x instead of filled areas between them.
    pub bars: bool,
    /// Optional caption line under the plot.
    pub caption: Option<String>,
    /// Canvas size; `None` is [`DEFAULT_SIZE`].
    pub size: Option<(u32, u32)>,
}

/// The two files written for a chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartFiles {
    /// `<stem>.svg`
    pub svg: PathBuf,
    /// `<stem>.png`
    pub png: PathBuf,
}

/// Failure to write a chart; names the file concerned.
#[derive(Debug)]
pub struct ChartError {
    /// The file that could not be written (or the directory that could not
    /// be created).
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
    source: Option<std::io::Error>,
}

impl ChartError {
    pub(crate) fn new(path: &Path, message: impl Into<String>) -> ChartError {
        ChartError {
            path: path.to_path_buf(),
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn io(path: &Path, what: &str, err: std::io::Error) -> ChartError {
        ChartError {
            path: path.to_path_buf(),
            message: format!("{what}: {err}"),
            source: Some(err),
        }
    }
}

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chart {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ChartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Draw a [`TimelineSpec`] to `<stem>.svg` and `<stem>.png`.
pub fn timeline(stem: &Path, spec: &TimelineSpec) -> Result<ChartFiles, ChartError> {
    output::write_figure(stem, &timeline::Timeline(spec))
}

/// Draw a [`ScatterFitSpec`] to `<stem>.svg` and `<stem>.png`.
pub fn scatter_fit(stem: &Path, spec: &ScatterFitSpec) -> Result<ChartFiles, ChartError> {
    output::write_figure(stem, &scatter::ScatterFit(spec))
}

/// Draw a [`StackedSpec`] to `<stem>.svg` and `<stem>.png`.
pub fn stacked(stem: &Path, spec: &StackedSpec) -> Result<ChartFiles, ChartError> {
    output::write_figure(stem, &stacked::Stacked(spec))
}

/// Draw a [`LinesSpec`] to `<stem>.svg` and `<stem>.png`.
pub fn lines(stem: &Path, spec: &LinesSpec) -> Result<ChartFiles, ChartError> {
    output::write_figure(stem, &lines::Lines(spec))
}
