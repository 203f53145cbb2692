//! Drawing helpers shared by the chart kinds.

use std::collections::BTreeMap;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::{Axis, AxisOpts, Scale};
use crate::output::{DResult, FAMILY};
use crate::Rgb;

pub(crate) type Coord = Cartesian2d<AxisCoord, AxisCoord>;

/// Linear plotters coordinate over axis space with our own tick positions
/// (plotters' `WithKeyPoints` can't be used with `configure_mesh` for f64).
#[derive(Clone, Debug)]
pub(crate) struct AxisCoord {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
}

impl AxisCoord {
    fn new(a: &Axis) -> AxisCoord {
        AxisCoord {
            lo: a.lo,
            hi: a.hi,
            major: a.major.clone(),
            minor: a.minor.clone(),
        }
    }
}

impl Ranged for AxisCoord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !v.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let frac = ((v - self.lo) / span).clamp(-10.0, 10.0);
        let len = (limit.1 - limit.0) as f64;
        limit.0 + (len * frac).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Coord>;
/// Line pieces in axis space.
pub(crate) type Segs = Vec<Vec<(f64, f64)>>;
/// Pieces of `(x, lo, hi)` triples in axis space.
pub(crate) type Triples = Vec<Vec<(f64, f64, f64)>>;

pub(crate) const TITLE_PX: f64 = 22.0;
pub(crate) const PANEL_TITLE_PX: f64 = 16.0;
pub(crate) const DESC_PX: f64 = 15.0;
pub(crate) const TICK_PX: f64 = 13.0;
pub(crate) const LEGEND_PX: f64 = 14.0;
pub(crate) const NOTE_PX: f64 = 13.0;
pub(crate) const CAPTION_PX: f64 = 15.0;

pub(crate) const TEXT: RGBColor = RGBColor(30, 30, 30);
pub(crate) const MUTED: RGBColor = RGBColor(100, 100, 100);

pub(crate) fn font(px: f64) -> FontDesc<'static> {
    (FAMILY, px).into_font()
}

pub(crate) fn style(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: font(px),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

pub(crate) fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// `c` darkened towards black (for text in a shade's colour).
pub(crate) fn darker(c: Rgb) -> RGBColor {
    RGBColor(
        (c.0 as u32 * 6 / 10) as u8,
        (c.1 as u32 * 6 / 10) as u8,
        (c.2 as u32 * 6 / 10) as u8,
    )
}

/// Width and height of `text` in pixels.
pub(crate) fn text_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    px: f64,
) -> (u32, u32) {
    area.estimate_text_size(text, &TextStyle::from(font(px)))
        .unwrap_or(((text.chars().count() as f64 * px * 0.6) as u32, px as u32))
}

/// Height of one line of text of size `px`.
pub(crate) fn line_h<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, px: f64) -> u32 {
    text_size(area, "Hg", px).1.max(px as u32 / 2)
}

/// Counts of points left out, turned into note lines under a chart.
#[derive(Default)]
pub(crate) struct Notes(BTreeMap<String, usize>);

impl Notes {
    pub fn omit(&mut self, why: String) {
        *self.0.entry(why).or_default() += 1;
    }

    pub fn lines(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(why, n)| {
                let s = if *n == 1 { "" } else { "s" };
                format!("note: {n} value{s} not shown ({why})")
            })
            .collect()
    }
}

/// Map `v` on axis `which` with `scale`; records a note when it can't be shown.
fn fwd(scale: Scale, which: &str, v: f64, notes: &mut Notes) -> Option<f64> {
    let t = scale.forward(v);
    if t.is_none() && v.is_finite() {
        notes.omit(format!("{which} {}", scale.rejects()));
    }
    t
}

/// Points mapped into axis space, split into line pieces at gaps (NaN /
/// infinite) and at values the scale can't show (those are noted).
pub(crate) fn prep_points(points: &[(f64, f64)], xs: Scale, ys: Scale, notes: &mut Notes) -> Segs {
    let mut segs = Vec::new();
    let mut cur = Vec::new();
    for &(x, y) in points {
        let mapped = if x.is_finite() && y.is_finite() {
            let tx = fwd(xs, "x", x, notes);
            let ty = fwd(ys, "y", y, notes);
            tx.zip(ty)
        } else {
            None
        };
        match mapped {
            Some(p) => cur.push(p),
            None => {
                if !cur.is_empty() {
                    segs.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        segs.push(cur);
    }
    segs
}

/// `(x, lo, hi)` triples mapped into axis space with `lo <= hi`; split at gaps.
pub(crate) fn prep_triples(
    points: &[(f64, f64, f64)],
    xs: Scale,
    ys: Scale,
    notes: &mut Notes,
) -> Triples {
    let mut segs = Vec::new();
    let mut cur = Vec::new();
    for &(x, a, b) in points {
        let mapped = if x.is_finite() && a.is_finite() && b.is_finite() {
            let tx = fwd(xs, "x", x, notes);
            let ta = fwd(ys, "y", a, notes);
            let tb = fwd(ys, "y", b, notes);
            match (tx, ta, tb) {
                (Some(x), Some(a), Some(b)) => Some((x, a.min(b), a.max(b))),
                _ => None,
            }
        } else {
            None
        };
        match mapped {
            Some(p) => cur.push(p),
            None => {
                if !cur.is_empty() {
                    segs.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        segs.push(cur);
    }
    segs
}

/// Space reserved around a plot area.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Frame {
    pub y_area: u32,
    pub x_area: u32,
    pub top: u32,
    pub right: u32,
    pub left: u32,
    pub bottom: u32,
}

/// Tick-label length for an x axis of `px` pixels.
pub(crate) fn x_ticks_for(px: i64) -> usize {
    (px / 95).clamp(2, 12) as usize
}

/// Tick-label count for a y axis of `px` pixels.
pub(crate) fn y_ticks_for(px: i64) -> usize {
    (px / 45).clamp(2, 10) as usize
}

/// Half the width of the x axis' last tick label if it sits at the right
/// end of the axis (it is centred on its tick and must not be clipped).
pub(crate) fn last_label_overhang<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x: &Axis,
) -> u32 {
    match x.major.last() {
        Some(&t) if (x.hi - t) <= (x.hi - x.lo) * 0.05 => {
            text_size(root, &x.label(t), TICK_PX).0 / 2
        }
        _ => 0,
    }
}

/// Width of the y label area: tick labels plus the rotated axis description.
pub(crate) fn y_area_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    y: &Axis,
    desc: &str,
) -> u32 {
    let labels = y
        .labels()
        .map(|l| text_size(root, l, TICK_PX).0)
        .max()
        .unwrap_or(0);
    let desc_h = if desc.is_empty() {
        0
    } else {
        line_h(root, DESC_PX) + 10
    };
    labels + 18 + desc_h
}

/// Height of the x label area: tick labels plus the axis description.
pub(crate) fn x_area_height<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, desc: &str) -> u32 {
    let desc_h = if desc.is_empty() {
        0
    } else {
        line_h(root, DESC_PX) + 8
    };
    line_h(root, TICK_PX) + 16 + desc_h
}

pub(crate) fn build<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: &Axis,
    y: &Axis,
    f: &Frame,
) -> DResult<Chart<'a, DB>, DB> {
    ChartBuilder::on(area)
        .margin_top(f.top)
        .margin_right(f.right)
        .margin_left(f.left)
        .margin_bottom(f.bottom)
        .x_label_area_size(f.x_area)
        .y_label_area_size(f.y_area)
        .build_cartesian_2d(AxisCoord::new(x), AxisCoord::new(y))
}

/// Grid, axes, tick labels and axis descriptions.
pub(crate) fn mesh<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    x: &Axis,
    y: &Axis,
    x_desc: Option<&str>,
    y_desc: &str,
) -> DResult<(), DB> {
    let show_x = x_desc.is_some();
    let xf = move |v: &f64| if show_x { x.label(*v) } else { String::new() };
    let yf = |v: &f64| y.label(*v);
    let mut m = chart.configure_mesh();
    m.x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .bold_line_style(RGBColor(218, 218, 218).stroke_width(1))
        .light_line_style(RGBColor(240, 240, 240).stroke_width(1))
        .axis_style(RGBColor(110, 110, 110).stroke_width(1))
        .label_style(TextStyle::from(font(TICK_PX)).color(&TEXT))
        .axis_desc_style(TextStyle::from(font(DESC_PX)).color(&TEXT));
    if !y_desc.is_empty() {
        m.y_desc(y_desc);
    }
    if let Some(d) = x_desc.filter(|d| !d.is_empty()) {
        m.x_desc(d);
    }
    m.draw()
}

/// Pixel rectangle of the plot area: (left, top, right, bottom).
pub(crate) fn plot_px<DB: DrawingBackend>(chart: &Chart<'_, DB>) -> (i32, i32, i32, i32) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    (xr.start, yr.start, xr.end, yr.end)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
}

impl Shape {
    pub fn nth(i: usize) -> Shape {
        [
            Shape::Circle,
            Shape::Triangle,
            Shape::Square,
            Shape::Diamond,
            Shape::Cross,
        ][i % 5]
    }
}

/// Whether pixel `p` lies in the plot area (markers are drawn on the root
/// area in pixels, so plotters does not clip them).
fn inside<DB: DrawingBackend>(chart: &Chart<'_, DB>, (x, y): (i32, i32)) -> bool {
    let (l, t, r, b) = plot_px(chart);
    (l..=r).contains(&x) && (t..=b).contains(&y)
}

/// Draw a point marker centred at pixel `(px, py)` of `root`.
pub(crate) fn draw_shape<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (px, py): (i32, i32),
    shape: Shape,
    color: RGBColor,
    r: i32,
) -> DResult<(), DB> {
    let fill = color.filled();
    match shape {
        Shape::Circle => root.draw(&Circle::new((px, py), r, fill)),
        Shape::Triangle => {
            let h = r + 1;
            root.draw(&Polygon::new(
                vec![(px, py - h), (px - h, py + h - 1), (px + h, py + h - 1)],
                fill,
            ))
        }
        Shape::Square => root.draw(&Rectangle::new(
            [(px - r + 1, py - r + 1), (px + r - 1, py + r - 1)],
            fill,
        )),
        Shape::Diamond => {
            let h = r + 1;
            root.draw(&Polygon::new(
                vec![(px, py - h), (px + h, py), (px, py + h), (px - h, py)],
                fill,
            ))
        }
        Shape::Cross => {
            let s = color.stroke_width(2);
            root.draw(&PathElement::new(
                vec![(px - r, py - r), (px + r, py + r)],
                s,
            ))?;
            root.draw(&PathElement::new(
                vec![(px - r, py + r), (px + r, py - r)],
                s,
            ))
        }
    }
}

/// Draw line pieces; a piece of one point becomes a dot.
pub(crate) fn draw_segments<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    root: &DrawingArea<DB, Shift>,
    segs: &[Vec<(f64, f64)>],
    color: RGBColor,
    width: u32,
) -> DResult<(), DB> {
    for seg in segs {
        if seg.len() == 1 {
            let p = chart.backend_coord(&seg[0]);
            if inside(chart, p) {
                draw_shape(root, p, Shape::Circle, color, 3)?;
            }
        } else {
            chart.draw_series(LineSeries::new(
                seg.iter().copied(),
                color.stroke_width(width),
            ))?;
        }
    }
    Ok(())
}

/// Draw markers at every point of the pieces.
pub(crate) fn draw_points<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    root: &DrawingArea<DB, Shift>,
    segs: &[Vec<(f64, f64)>],
    shape: Shape,
    color: RGBColor,
) -> DResult<(), DB> {
    for p in segs.iter().flatten() {
        let p = chart.backend_coord(p);
        if inside(chart, p) {
            draw_shape(root, p, shape, color, 4)?;
        }
    }
    Ok(())
}

/// Vertical error bars with small caps.
pub(crate) fn draw_error_bars<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    root: &DrawingArea<DB, Shift>,
    bars: &[Vec<(f64, f64, f64)>],
    color: RGBColor,
) -> DResult<(), DB> {
    let s = color.stroke_width(1);
    for &(x, lo, hi) in bars.iter().flatten() {
        let (px, plo) = chart.backend_coord(&(x, lo));
        let (_, phi) = chart.backend_coord(&(x, hi));
        let (l, t, r, b) = plot_px(chart);
        if !(l..=r).contains(&px) {
            continue;
        }
        root.draw(&PathElement::new(
            vec![(px, plo.clamp(t, b)), (px, phi.clamp(t, b))],
            s,
        ))?;
        // Caps only where the bar really ends inside the plot.
        for end in [plo, phi] {
            if (t..=b).contains(&end) {
                root.draw(&PathElement::new(vec![(px - 4, end), (px + 4, end)], s))?;
            }
        }
    }
    Ok(())
}

/// A shaded band between `lo` and `hi` along x.
pub(crate) fn draw_band<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    segs: &[Vec<(f64, f64, f64)>],
    color: RGBColor,
) -> DResult<(), DB> {
    for seg in segs.iter().filter(|s| s.len() >= 2) {
        let mut poly: Vec<(f64, f64)> = seg.iter().map(|&(x, lo, _)| (x, lo)).collect();
        poly.extend(seg.iter().rev().map(|&(x, _, hi)| (x, hi)));
        chart.draw_series(std::iter::once(Polygon::new(
            poly,
            color.mix(0.18).filled(),
        )))?;
    }
    Ok(())
}

/// "no data" in the middle of the plot area.
pub(crate) fn no_data<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
) -> DResult<(), DB> {
    let (l, t, r, b) = plot_px(chart);
    root.draw_text(
        "no data",
        &style(18.0, MUTED, HPos::Center, VPos::Center),
        ((l + r) / 2, (t + b) / 2),
    )
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    Line(RGBColor),
    LinePoints(RGBColor, Shape),
    Points(RGBColor, Shape),
    Fill(RGBColor),
}

#[derive(Clone, Debug)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub swatch: Swatch,
}

const SWATCH_W: i32 = 26;
const LEGEND_GAP: u32 = 16;
const LEGEND_MAX_TEXT: u32 = 230;

/// Width to reserve right of the plot for a legend (0 if not needed).
pub(crate) fn legend_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> u32 {
    if entries.is_empty() {
        return 0;
    }
    let text = entries
        .iter()
        .map(|e| text_size(root, &e.label, LEGEND_PX).0)
        .max()
        .unwrap_or(0)
        .min(LEGEND_MAX_TEXT);
    LEGEND_GAP + SWATCH_W as u32 + 8 + text + 8
}

/// Draw the legend in the column right of the plot, top-aligned with it.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
    entries: &[LegendEntry],
) -> DResult<(), DB> {
    let (_, top, right, bottom) = plot_px(chart);
    let x0 = right + LEGEND_GAP as i32;
    let row = line_h(root, LEGEND_PX) as i32 + 7;
    let mut y = top + row / 2 + 2;
    for (i, e) in entries.iter().enumerate() {
        if y + row / 2 > bottom && i + 1 < entries.len() {
            let more = format!("+{} more", entries.len() - i);
            root.draw_text(
                &more,
                &style(LEGEND_PX, MUTED, HPos::Left, VPos::Center),
                (x0, y),
            )?;
            break;
        }
        let mid = (x0 + SWATCH_W / 2, y);
        match e.swatch {
            Swatch::Line(c) => {
                root.draw(&PathElement::new(
                    vec![(x0, y), (x0 + SWATCH_W, y)],
                    c.stroke_width(3),
                ))?;
            }
            Swatch::LinePoints(c, shape) => {
                root.draw(&PathElement::new(
                    vec![(x0, y), (x0 + SWATCH_W, y)],
                    c.stroke_width(2),
                ))?;
                draw_shape(root, mid, shape, c, 4)?;
            }
            Swatch::Points(c, shape) => draw_shape(root, mid, shape, c, 4)?,
            Swatch::Fill(c) => {
                root.draw(&Rectangle::new(
                    [(x0, y - 6), (x0 + SWATCH_W, y + 6)],
                    c.mix(0.25).filled(),
                ))?;
                root.draw(&Rectangle::new(
                    [(x0, y - 6), (x0 + SWATCH_W, y + 6)],
                    c.mix(0.7).stroke_width(1),
                ))?;
            }
        }
        let label = fit_width(root, &e.label, LEGEND_PX, LEGEND_MAX_TEXT);
        root.draw_text(
            &label,
            &style(LEGEND_PX, TEXT, HPos::Left, VPos::Center),
            (x0 + SWATCH_W + 8, y),
        )?;
        y += row;
    }
    Ok(())
}

/// Caption and note lines centred in `area` (top to bottom).
pub(crate) fn footer_height<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: Option<&str>,
    notes: &[String],
) -> u32 {
    let mut h = 0;
    if caption.is_some_and(|c| !c.is_empty()) {
        h += line_h(root, CAPTION_PX) + 8;
    }
    h += notes.len() as u32 * (line_h(root, NOTE_PX) + 6);
    if h > 0 {
        h + 8
    } else {
        0
    }
}

pub(crate) fn draw_footer<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: Option<&str>,
    notes: &[String],
) -> DResult<(), DB> {
    let (w, _) = area.dim_in_pixel();
    let cx = w as i32 / 2;
    let mut y = 2;
    if let Some(c) = caption.filter(|c| !c.is_empty()) {
        area.draw_text(
            c,
            &style(CAPTION_PX, TEXT, HPos::Center, VPos::Top),
            (cx, y),
        )?;
        y += line_h(area, CAPTION_PX) as i32 + 8;
    }
    for n in notes {
        area.draw_text(n, &style(NOTE_PX, MUTED, HPos::Center, VPos::Top), (cx, y))?;
        y += line_h(area, NOTE_PX) as i32 + 6;
    }
    Ok(())
}

/// Fill white and draw the title; returns the area below it.
pub(crate) fn start<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> DResult<DrawingArea<DB, Shift>, DB> {
    root.fill(&WHITE)?;
    let (w, _) = root.dim_in_pixel();
    let (_, area) = root.split_vertically(6);
    if title.is_empty() {
        return Ok(area);
    }
    let title = fit_width(root, title, TITLE_PX, w.saturating_sub(20));
    area.titled(&title, TextStyle::from(font(TITLE_PX)).color(&TEXT))
}

/// Shorten text of size `px` with an ellipsis to fit `max_w` pixels.
pub(crate) fn fit_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &str,
    px: f64,
    max_w: u32,
) -> String {
    if s.is_empty() || text_size(root, s, px).0 <= max_w {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    for n in (1..chars.len()).rev() {
        let t: String = chars[..n].iter().collect::<String>() + "…";
        if text_size(root, &t, px).0 <= max_w {
            return t;
        }
    }
    "…".to_string()
}

/// Everything a single-plot chart (scatter_fit, lines) needs for its layout.
pub(crate) struct SinglePlot<'s> {
    pub title: &'s str,
    pub x_label: &'s str,
    pub y_label: &'s str,
    pub x_scale: Scale,
    pub y_scale: Scale,
    pub x_include_zero: bool,
    pub y_include_zero: bool,
    /// Data in axis space, for the ranges.
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub legend: Vec<LegendEntry>,
    pub caption: Option<&'s str>,
    pub notes: Vec<String>,
    pub has_data: bool,
}

/// Lay out title, plot, legend and footer; `draw_data` draws the data.
pub(crate) fn single_plot<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &SinglePlot<'_>,
    draw_data: impl FnOnce(&mut Chart<'_, DB>) -> DResult<(), DB>,
) -> DResult<(), DB> {
    let area = start(root, p.title)?;
    let (aw, ah) = area.dim_in_pixel();
    let footer_h = footer_height(root, p.caption, &p.notes).min(ah / 3);
    let (plot_area, foot) = area.split_vertically(ah - footer_h);
    let legend = if p.legend.len() >= 2 {
        &p.legend[..]
    } else {
        &[]
    };
    let legend_w = legend_width(root, legend);
    let x_area = x_area_height(root, p.x_label);
    let mut frame = Frame {
        x_area,
        top: 12,
        right: 24 + legend_w,
        left: 10,
        bottom: 4,
        y_area: 0,
    };
    let plot_h = plot_area.dim_in_pixel().1 as i64 - (frame.top + frame.bottom + x_area) as i64;
    let y = Axis::plan(
        p.ys.iter().copied(),
        AxisOpts {
            scale: p.y_scale,
            pad: 0.05,
            include_zero: p.y_include_zero,
            max_ticks: y_ticks_for(plot_h),
        },
    );
    frame.y_area = y_area_width(root, &y, p.y_label);
    let plot_w = aw as i64 - (frame.y_area + frame.left + frame.right) as i64;
    let x = Axis::plan(
        p.xs.iter().copied(),
        AxisOpts {
            scale: p.x_scale,
            pad: 0.04,
            include_zero: p.x_include_zero,
            max_ticks: x_ticks_for(plot_w),
        },
    );
    frame.right = frame.right.max(last_label_overhang(root, &x) + 8);
    let y_desc = fit_width(root, p.y_label, DESC_PX, plot_h.max(20) as u32);
    let x_desc = fit_width(root, p.x_label, DESC_PX, plot_w.max(20) as u32);
    let mut chart = build(&plot_area, &x, &y, &frame)?;
    mesh(&mut chart, &x, &y, Some(&x_desc), &y_desc)?;
    if p.has_data {
        draw_data(&mut chart)?;
    } else {
        no_data(root, &chart)?;
    }
    draw_legend(root, &chart, legend)?;
    draw_footer(&foot, p.caption, &p.notes)
}
