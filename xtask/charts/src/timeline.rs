//! Time chart: stacked panels sharing the x axis.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::axis::{Axis, AxisOpts, Scale};
use crate::draw::*;
use crate::output::{DResult, Figure};
use crate::{Marker, Rgb, TimelineSpec, XRange, DEFAULT_SIZE};

pub(crate) struct Timeline<'a>(pub &'a TimelineSpec);

const ANNOT_PX: f64 = 13.0;
const MAX_ROWS: usize = 3;

/// A label above the plot: its x (axis space), text, colour, assigned row.
struct Annot {
    x: f64,
    text: String,
    color: RGBColor,
    row: usize,
}

struct PreparedPanel<'a> {
    series: Vec<(Segs, Triples, RGBColor)>,
    ranges: Vec<&'a XRange>,
    markers: Vec<&'a Marker>,
    /// (lo, hi, colour) in axis space.
    bands: Vec<(f64, f64, RGBColor)>,
    legend: Vec<LegendEntry>,
    annots: Vec<Annot>,
    rows: usize,
    ys: Vec<f64>,
    has_data: bool,
}

fn finite_range(r: &XRange) -> Option<(f64, f64)> {
    (r.start.is_finite() && r.end.is_finite()).then(|| (r.start.min(r.end), r.start.max(r.end)))
}

impl Figure for Timeline<'_> {
    fn size(&self) -> (u32, u32) {
        self.0.size.unwrap_or_else(|| {
            let extra = self.0.panels.len().saturating_sub(2) as u32;
            (DEFAULT_SIZE.0, DEFAULT_SIZE.1 + 260 * extra)
        })
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        let s = self.0;
        let area = start(root, &s.title)?;
        let (aw, ah) = area.dim_in_pixel();
        let x_label = if s.x_label.is_empty() {
            "time (s)"
        } else {
            &s.x_label
        };
        let mut notes = Notes::default();

        // Data into axis space (x is always linear seconds).
        let mut xs: Vec<f64> = Vec::new();
        let mut panels: Vec<PreparedPanel> = Vec::new();
        for (pi, p) in s.panels.iter().enumerate() {
            let mut pp = PreparedPanel {
                series: Vec::new(),
                ranges: Vec::new(),
                markers: Vec::new(),
                bands: Vec::new(),
                legend: Vec::new(),
                annots: Vec::new(),
                rows: 0,
                ys: Vec::new(),
                has_data: false,
            };
            for (i, series) in p.series.iter().enumerate() {
                let segs = prep_points(&series.points, Scale::Linear, p.y_scale, &mut notes);
                let bars = prep_triples(&series.error_bars, Scale::Linear, p.y_scale, &mut notes);
                for &(x, y) in segs.iter().flatten() {
                    xs.push(x);
                    pp.ys.push(y);
                }
                for &(x, lo, hi) in bars.iter().flatten() {
                    xs.push(x);
                    pp.ys.extend([lo, hi]);
                }
                let color = rgb(series.color.unwrap_or(Rgb::palette(i)));
                pp.legend.push(LegendEntry {
                    label: series.name.clone(),
                    swatch: Swatch::Line(color),
                });
                pp.series.push((segs, bars, color));
            }
            pp.has_data = !pp.ys.is_empty();
            for b in &p.y_bands {
                let lo = fwd_note(p.y_scale, b.lo.min(b.hi), &mut notes);
                let hi = fwd_note(p.y_scale, b.lo.max(b.hi), &mut notes);
                if let (Some(lo), Some(hi)) = (lo, hi) {
                    pp.ys.extend([lo, hi]);
                    pp.bands.push((lo, hi, rgb(b.color)));
                    if !b.label.is_empty() {
                        pp.legend.push(LegendEntry {
                            label: b.label.clone(),
                            swatch: Swatch::Fill(rgb(b.color)),
                        });
                    }
                }
            }
            // Shared ranges/markers are drawn everywhere, labelled on the top panel.
            let shared = pi == 0;
            for (r, labelled) in s
                .x_ranges
                .iter()
                .map(|r| (r, shared))
                .chain(p.x_ranges.iter().map(|r| (r, true)))
            {
                if let Some((a, b)) = finite_range(r) {
                    xs.extend([a, b]);
                    pp.ranges.push(r);
                    if labelled && !r.label.is_empty() {
                        pp.annots.push(Annot {
                            x: (a + b) / 2.0,
                            text: r.label.clone(),
                            color: darker(r.color),
                            row: 0,
                        });
                    }
                }
            }
            for (m, labelled) in s
                .markers
                .iter()
                .map(|m| (m, shared))
                .chain(p.markers.iter().map(|m| (m, true)))
            {
                if m.x.is_finite() {
                    xs.push(m.x);
                    pp.markers.push(m);
                    if labelled && !m.label.is_empty() {
                        pp.annots.push(Annot {
                            x: m.x,
                            text: m.label.clone(),
                            color: rgb(m.color),
                            row: 0,
                        });
                    }
                }
            }
            panels.push(pp);
        }

        let note_lines = notes.lines();
        let footer_h = footer_height(root, None, &note_lines).min(ah / 4);
        let (body, foot) = area.split_vertically(ah - footer_h);
        draw_footer(&foot, None, &note_lines)?;
        let (_, body_h) = body.dim_in_pixel();

        if panels.is_empty() {
            return body.draw_text(
                "no data",
                &style(18.0, MUTED, HPos::Center, VPos::Center),
                (aw as i32 / 2, body_h as i32 / 2),
            );
        }

        // Horizontal layout, common to all panels so the x axes line up.
        let legend_w = panels
            .iter()
            .map(|p| {
                if p.legend.len() >= 2 {
                    legend_width(root, &p.legend)
                } else {
                    0
                }
            })
            .max()
            .unwrap_or(0);
        let x_area = x_area_height(root, x_label);
        let left = 10u32;
        let right = 24 + legend_w;
        let title_h = line_h(root, PANEL_TITLE_PX) + 8;
        let row_h = line_h(root, ANNOT_PX) + 5;
        let gap = 14u32;

        // Vertical layout: fixed parts first, the rest shared by the plots.
        let n = panels.len() as u32;
        let tops: Vec<u32> = s
            .panels
            .iter()
            .zip(&panels)
            .map(|(p, pp)| {
                let t = if p.title.is_empty() { 0 } else { title_h };
                let strip = if pp.annots.is_empty() {
                    0
                } else {
                    MAX_ROWS as u32 * row_h // provisional, fixed below
                };
                t + strip + 6
            })
            .collect();
        let fixed_guess: u32 = tops.iter().sum::<u32>() + x_area + gap * (n - 1);
        let plot_h_guess = (body_h.saturating_sub(fixed_guess) / n).max(40);

        let y_axes: Vec<Axis> = s
            .panels
            .iter()
            .zip(&panels)
            .map(|(p, pp)| {
                Axis::plan(
                    pp.ys.iter().copied(),
                    AxisOpts {
                        scale: p.y_scale,
                        pad: 0.06,
                        include_zero: p.y_include_zero,
                        max_ticks: y_ticks_for(plot_h_guess as i64),
                    },
                )
            })
            .collect();
        let y_area = s
            .panels
            .iter()
            .zip(&y_axes)
            .map(|(p, y)| y_area_width(root, y, &p.y_label))
            .max()
            .unwrap_or(0);
        let plot_left = (left + y_area) as i32;
        let plot_w = aw as i64 - (left + y_area + right) as i64;
        let x = Axis::plan(
            xs.iter().copied(),
            AxisOpts {
                scale: Scale::Linear,
                pad: 0.0,
                include_zero: false,
                max_ticks: x_ticks_for(plot_w),
            },
        );

        let right = right.max(last_label_overhang(root, &x) + 8);

        // Assign label rows now that pixel positions are known.
        let to_px = |v: f64| plot_left as f64 + (v - x.lo) / (x.hi - x.lo) * plot_w.max(1) as f64;
        for pp in &mut panels {
            pp.annots.sort_by(|a, b| a.x.total_cmp(&b.x));
            let mut row_end: Vec<f64> = Vec::new();
            for a in &mut pp.annots {
                let w = text_size(root, &a.text, ANNOT_PX).0 as f64;
                let cx = clamp_center(
                    to_px(a.x),
                    w,
                    plot_left as f64,
                    plot_left as f64 + plot_w as f64,
                );
                let (l, r) = (cx - w / 2.0 - 5.0, cx + w / 2.0 + 5.0);
                let row = match row_end.iter().position(|&end| end <= l) {
                    Some(i) => i,
                    None if row_end.len() < MAX_ROWS => {
                        row_end.push(f64::NEG_INFINITY);
                        row_end.len() - 1
                    }
                    None => (0..row_end.len())
                        .min_by(|&i, &j| row_end[i].total_cmp(&row_end[j]))
                        .unwrap_or(0),
                };
                row_end[row] = r;
                a.row = row;
            }
            pp.rows = row_end.len();
        }

        let tops: Vec<u32> = s
            .panels
            .iter()
            .zip(&panels)
            .map(|(p, pp)| {
                let t = if p.title.is_empty() { 0 } else { title_h };
                t + pp.rows as u32 * row_h + 6
            })
            .collect();
        let fixed: u32 = tops.iter().sum::<u32>() + x_area + gap * (n - 1);
        let plot_h = (body_h.saturating_sub(fixed) / n).max(40);

        let mut rest = body;
        for (i, ((p, pp), y)) in s.panels.iter().zip(&panels).zip(&y_axes).enumerate() {
            let last = i + 1 == panels.len();
            let h = tops[i] + plot_h + if last { x_area } else { gap };
            let (panel_area, below) = rest.split_vertically(h);
            rest = below;
            let frame = Frame {
                y_area,
                x_area: if last { x_area } else { 0 },
                top: tops[i],
                right,
                left,
                bottom: if last { 0 } else { gap },
            };
            let mut chart = build(&panel_area, &x, y, &frame)?;
            let x_desc = fit_width(root, x_label, DESC_PX, plot_w.max(20) as u32);
            let x_desc = if last { Some(x_desc.as_str()) } else { None };
            let y_desc = fit_width(root, &p.y_label, DESC_PX, plot_h);
            mesh(&mut chart, &x, y, x_desc, &y_desc)?;

            // Shades first, then bands, series, markers on top.
            for r in &pp.ranges {
                if let Some((a, b)) = finite_range(r) {
                    let (a, b) = (a.max(x.lo), b.min(x.hi));
                    if a < b {
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(a, y.lo), (b, y.hi)],
                            rgb(r.color).mix(0.14).filled(),
                        )))?;
                    }
                }
            }
            for &(lo, hi, c) in &pp.bands {
                let (lo, hi) = (lo.max(y.lo), hi.min(y.hi));
                if lo <= hi {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x.lo, lo), (x.hi, hi)],
                        c.mix(0.15).filled(),
                    )))?;
                    for v in [lo, hi] {
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(x.lo, v), (x.hi, v)],
                            c.mix(0.6).stroke_width(1),
                        )))?;
                    }
                }
            }
            for (segs, bars, color) in &pp.series {
                draw_error_bars(&chart, root, bars, *color)?;
                draw_segments(&mut chart, root, segs, *color, 2)?;
            }
            for m in &pp.markers {
                if m.x >= x.lo && m.x <= x.hi {
                    chart.draw_series(std::iter::once(
                        plotters::element::DashedPathElement::new(
                            vec![(m.x, y.lo), (m.x, y.hi)],
                            6,
                            4,
                            rgb(m.color).stroke_width(1),
                        ),
                    ))?;
                }
            }
            if !pp.has_data {
                no_data(root, &chart)?;
            }
            if !last {
                // Upper panels have no x axis of their own: close the plot
                // with a bottom rule.
                let (pl, _, pr, pb) = plot_px(&chart);
                root.draw(&PathElement::new(
                    vec![(pl, pb), (pr, pb)],
                    RGBColor(110, 110, 110).stroke_width(1),
                ))?;
            }

            // Panel title and the label strip above the plot.
            let (pl, pt, pr, _) = plot_px(&chart);
            let mut ty = pt - tops[i] as i32;
            if !p.title.is_empty() {
                let title = fit_width(root, &p.title, PANEL_TITLE_PX, (pr - pl).max(50) as u32);
                root.draw_text(
                    &title,
                    &style(PANEL_TITLE_PX, TEXT, HPos::Left, VPos::Top),
                    (pl, ty + 2),
                )?;
                ty += title_h as i32;
            }
            for a in &pp.annots {
                let w = text_size(root, &a.text, ANNOT_PX).0 as f64;
                let px = chart.backend_coord(&(a.x, y.lo)).0 as f64;
                let cx = clamp_center(px, w, pl as f64, pr as f64);
                root.draw_text(
                    &a.text,
                    &style(ANNOT_PX, a.color, HPos::Center, VPos::Top),
                    (cx.round() as i32, ty + (a.row as u32 * row_h) as i32),
                )?;
            }
            if pp.legend.len() >= 2 {
                draw_legend(root, &chart, &pp.legend)?;
            }
        }
        Ok(())
    }
}

/// Keep a label of width `w` centred at `cx` inside `[lo, hi]`.
fn clamp_center(cx: f64, w: f64, lo: f64, hi: f64) -> f64 {
    if hi - lo <= w {
        (lo + hi) / 2.0
    } else {
        cx.clamp(lo + w / 2.0, hi - w / 2.0)
    }
}

fn fwd_note(scale: Scale, v: f64, notes: &mut Notes) -> Option<f64> {
    let t = scale.forward(v);
    if t.is_none() && v.is_finite() {
        notes.omit(format!("band edge {}", scale.rejects()));
    }
    t
}
