//! Stacked chart: layers summed bottom-up over shared x positions, drawn
//! as filled areas (a quantity over time) or as bars (one per cell).

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axis::Scale;
use crate::draw::*;
use crate::output::{DResult, Figure};
use crate::{Rgb, StackedSpec, DEFAULT_SIZE};

pub(crate) struct Stacked<'a>(pub &'a StackedSpec);

/// Bar width as a share of the smallest gap between x positions.
const BAR: f64 = 0.7;

/// Each layer's (bottom, top) at each x: the layers below summed. A
/// missing, negative or non-finite value stacks as 0, so a layer absent
/// at one x never lowers the ones above it.
pub(crate) fn stack(n: usize, layers: &[Vec<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut base = vec![0.0; n];
    layers
        .iter()
        .map(|l| {
            (0..n)
                .map(|j| {
                    let v = l.get(j).copied().filter(|v| v.is_finite()).unwrap_or(0.0);
                    let lo = base[j];
                    base[j] = lo + v.max(0.0);
                    (lo, base[j])
                })
                .collect()
        })
        .collect()
}

impl Figure for Stacked<'_> {
    fn size(&self) -> (u32, u32) {
        self.0.size.unwrap_or(DEFAULT_SIZE)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        let s = self.0;
        // Only finite x positions are drawn; a layer's values follow them.
        let keep: Vec<usize> = (0..s.x.len()).filter(|&j| s.x[j].is_finite()).collect();
        let x: Vec<f64> = keep.iter().map(|&j| s.x[j]).collect();
        let values: Vec<Vec<f64>> = s
            .layers
            .iter()
            .map(|l| {
                keep.iter()
                    .map(|&j| l.values.get(j).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        let stacked = stack(x.len(), &values);
        let colors: Vec<RGBColor> = s
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| rgb(l.color.unwrap_or(Rgb::palette(i))))
            .collect();
        // The legend reads top-down like the stack.
        let legend = s
            .layers
            .iter()
            .zip(&colors)
            .rev()
            .map(|(l, c)| LegendEntry {
                label: l.name.clone(),
                swatch: Swatch::Fill(*c),
            })
            .collect();
        let gap = x
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .filter(|g| *g > 0.0)
            .fold(f64::INFINITY, f64::min);
        let half = if gap.is_finite() {
            gap * BAR / 2.0
        } else {
            0.35
        };
        let mut xs = x.clone();
        if s.bars {
            xs.extend(x.iter().flat_map(|&v| [v - half, v + half]));
        }
        let mut ys = vec![0.0];
        ys.extend(stacked.last().into_iter().flatten().map(|&(_, hi)| hi));
        let has_data = !x.is_empty() && !s.layers.is_empty();
        let plot = SinglePlot {
            title: &s.title,
            x_label: &s.x_label,
            y_label: &s.y_label,
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            x_include_zero: false,
            y_include_zero: true,
            has_data,
            xs,
            ys,
            legend,
            caption: s.caption.as_deref(),
            notes: Vec::new(),
        };
        single_plot(root, &plot, |chart| {
            for (layer, color) in stacked.iter().zip(&colors) {
                if s.bars {
                    chart.draw_series(x.iter().zip(layer).filter(|(_, (lo, hi))| hi > lo).map(
                        |(&xv, &(lo, hi))| {
                            Rectangle::new(
                                [(xv - half, lo), (xv + half, hi)],
                                color.mix(0.8).filled(),
                            )
                        },
                    ))?;
                } else if x.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> = x
                        .iter()
                        .zip(layer)
                        .map(|(&xv, &(lo, _))| (xv, lo))
                        .collect();
                    poly.extend(x.iter().zip(layer).rev().map(|(&xv, &(_, hi))| (xv, hi)));
                    chart.draw_series(std::iter::once(Polygon::new(
                        poly,
                        color.mix(0.75).filled(),
                    )))?;
                } else {
                    // One position: a bar is the only honest shape.
                    chart.draw_series(x.iter().zip(layer).map(|(&xv, &(lo, hi))| {
                        Rectangle::new([(xv - half, lo), (xv + half, hi)], color.mix(0.8).filled())
                    }))?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::stack;

    #[test]
    fn layers_stack_bottom_up_and_bad_values_stack_as_zero() {
        let s = stack(
            3,
            &[vec![1.0, 2.0, 3.0], vec![10.0, f64::NAN, -4.0], vec![100.0]],
        );
        assert_eq!(s[0], [(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)]);
        assert_eq!(s[1], [(1.0, 11.0), (2.0, 2.0), (3.0, 3.0)]);
        assert_eq!(s[2], [(11.0, 111.0), (2.0, 2.0), (3.0, 3.0)]);
        assert!(stack(0, &[vec![1.0]])[0].is_empty());
    }
}
