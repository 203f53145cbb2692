//! Generic x–y line chart.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::draw::*;
use crate::output::{DResult, Figure};
use crate::{LinesSpec, Rgb, DEFAULT_SIZE};

pub(crate) struct Lines<'a>(pub &'a LinesSpec);

impl Figure for Lines<'_> {
    fn size(&self) -> (u32, u32) {
        self.0.size.unwrap_or(DEFAULT_SIZE)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        let s = self.0;
        let mut notes = Notes::default();
        let mut prepared: Vec<(Segs, Triples, RGBColor, Shape)> = Vec::new();
        let mut legend = Vec::new();
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (i, series) in s.series.iter().enumerate() {
            let segs = prep_points(&series.points, s.x_scale, s.y_scale, &mut notes);
            let bars = prep_triples(&series.error_bars, s.x_scale, s.y_scale, &mut notes);
            for &(x, y) in segs.iter().flatten() {
                xs.push(x);
                ys.push(y);
            }
            for &(x, lo, hi) in bars.iter().flatten() {
                xs.push(x);
                ys.extend([lo, hi]);
            }
            let color = rgb(series.color.unwrap_or(Rgb::palette(i)));
            let shape = Shape::nth(i);
            legend.push(LegendEntry {
                label: series.name.clone(),
                swatch: if s.point_markers {
                    Swatch::LinePoints(color, shape)
                } else {
                    Swatch::Line(color)
                },
            });
            prepared.push((segs, bars, color, shape));
        }
        let plot = SinglePlot {
            title: &s.title,
            x_label: &s.x_label,
            y_label: &s.y_label,
            x_scale: s.x_scale,
            y_scale: s.y_scale,
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
            for (segs, bars, color, shape) in &prepared {
                draw_error_bars(chart, root, bars, *color)?;
                draw_segments(chart, root, segs, *color, 2)?;
                if s.point_markers {
                    draw_points(chart, root, segs, *shape, *color)?;
                }
            }
            Ok(())
        })
    }
}
