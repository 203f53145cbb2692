//! Scatter points with an optional fitted curve and band.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::draw::*;
use crate::output::{DResult, Figure};
use crate::{Rgb, ScatterFitSpec, DEFAULT_SIZE};

pub(crate) struct ScatterFit<'a>(pub &'a ScatterFitSpec);

const FIT: RGBColor = RGBColor(40, 40, 40);

fn or_default<'a>(name: &'a str, default: &'a str) -> &'a str {
    if name.is_empty() {
        default
    } else {
        name
    }
}

impl Figure for ScatterFit<'_> {
    fn size(&self) -> (u32, u32) {
        self.0.size.unwrap_or(DEFAULT_SIZE)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        let s = self.0;
        let (xsc, ysc) = (s.x_scale, s.y_scale);
        let mut notes = Notes::default();
        let mut legend = Vec::new();
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        let mut groups = Vec::new();
        for (i, g) in s.groups.iter().enumerate() {
            let segs = prep_points(&g.points, xsc, ysc, &mut notes);
            let bars = prep_triples(&g.error_bars, xsc, ysc, &mut notes);
            for &(x, y) in segs.iter().flatten() {
                xs.push(x);
                ys.push(y);
            }
            for &(x, lo, hi) in bars.iter().flatten() {
                xs.push(x);
                ys.extend([lo, hi]);
            }
            let color = rgb(g.color.unwrap_or(Rgb::palette(i)));
            let shape = Shape::nth(i);
            legend.push(LegendEntry {
                label: g.name.clone(),
                swatch: Swatch::Points(color, shape),
            });
            groups.push((segs, bars, color, shape));
        }
        let band = s.band.as_ref().map(|b| {
            let segs = prep_triples(&b.points, xsc, ysc, &mut notes);
            for &(x, lo, hi) in segs.iter().flatten() {
                xs.push(x);
                ys.extend([lo, hi]);
            }
            legend.push(LegendEntry {
                label: or_default(&b.name, "band").to_string(),
                swatch: Swatch::Fill(FIT),
            });
            segs
        });
        let fit = s.fit.as_ref().map(|f| {
            let segs = prep_points(&f.points, xsc, ysc, &mut notes);
            for &(x, y) in segs.iter().flatten() {
                xs.push(x);
                ys.push(y);
            }
            legend.push(LegendEntry {
                label: or_default(&f.name, "fit").to_string(),
                swatch: Swatch::Line(FIT),
            });
            segs
        });
        let plot = SinglePlot {
            title: &s.title,
            x_label: &s.x_label,
            y_label: &s.y_label,
            x_scale: xsc,
            y_scale: ysc,
            x_include_zero: s.x_include_zero,
            y_include_zero: s.y_include_zero,
            has_data: !xs.is_empty(),
            xs,
            ys,
            legend,
            caption: s.caption.as_deref(),
            notes: notes.lines(),
        };
        single_plot(root, &plot, |chart| {
            if let Some(band) = &band {
                draw_band(chart, band, FIT)?;
            }
            if let Some(fit) = &fit {
                draw_segments(chart, root, fit, FIT, 2)?;
            }
            for (segs, bars, color, shape) in &groups {
                draw_error_bars(chart, root, bars, *color)?;
                draw_points(chart, root, segs, *shape, *color)?;
            }
            Ok(())
        })
    }
}
