//! Charts for a run, from its record and sample CSVs.

use crate::lanes::cell::parse_samples_csv;
use crate::probe::sampler::Sample;
use crate::results::{CellRecord, RunDir, RunRecord};
use anyhow::{Context, Result};
use runcost_charts::{timeline, Panel, Rgb, Series, TimelineSpec, XRange};

/// A chart the markdown links to, relative to the run directory.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartRef {
    pub title: String,
    pub svg: String,
    pub png: String,
}

pub fn draw_all(run: &RunDir, record: &RunRecord) -> Result<Vec<ChartRef>> {
    let mut out = Vec::new();
    for lane in &record.lanes {
        for cell in &lane.cells {
            let Some(csv) = &cell.samples_csv else {
                continue;
            };
            let text =
                std::fs::read_to_string(run.path(csv)).with_context(|| format!("read {csv}"))?;
            let samples = parse_samples_csv(&text).with_context(|| format!("parse {csv}"))?;
            let stem = format!("charts/{}-timeline", cell.id);
            let spec = cell_timeline(record, cell, &samples);
            timeline(&run.path(&stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
            out.push(ChartRef {
                title: spec.title,
                svg: format!("{stem}.svg"),
                png: format!("{stem}.png"),
            });
        }
    }
    Ok(out)
}

/// Memory and CPU over time, warm-up shaded, the measured window marked.
pub fn cell_timeline(record: &RunRecord, cell: &CellRecord, samples: &[Sample]) -> TimelineSpec {
    let mib = |b: u64| b as f64 / 1048576.0;
    let pts = |f: &dyn Fn(&Sample) -> f64| samples.iter().map(|s| (s.t, f(s))).collect::<Vec<_>>();
    // CPU as a rate over ~1 s spans. The container cgroup's counter has
    // nanosecond resolution; utime+stime ticks are quantised to 10 ms and
    // draw as a saw-tooth, so they are the fallback.
    let span = (record.settings.rate_hz.round() as usize).max(1);
    let cgroup = samples.iter().all(|s| s.value.cgroup_cpu_s.is_some()) && !samples.is_empty();
    let cpu_of = |s: &Sample| {
        if cgroup {
            s.value.cgroup_cpu_s.unwrap_or(0.0)
        } else {
            s.value.cpu_s
        }
    };
    let cpu: Vec<(f64, f64)> = samples
        .windows(span + 1)
        .step_by(span)
        .filter_map(|w| {
            let (a, b) = (w.first()?, w.last()?);
            (b.t > a.t).then(|| ((a.t + b.t) / 2.0, (cpu_of(b) - cpu_of(a)) / (b.t - a.t)))
        })
        .collect();
    let cpu_name = if cgroup {
        "CPU (container cgroup, 1 s rate)"
    } else {
        "CPU (process ticks, 1 s rate)"
    };
    let mut ranges = Vec::new();
    if let (Some(first), Some((w0, w1))) = (samples.first(), cell.window) {
        if w0 > first.t {
            ranges.push(XRange::new(first.t, w0, "warm-up").with_color(Rgb(160, 160, 160)));
        }
        let label = match cell.status {
            crate::results::CellStatus::NotSteady => "measured (NOT steady)",
            _ => "measured",
        };
        ranges.push(XRange::new(w0, w1, label).with_color(Rgb(120, 180, 120)));
    }
    TimelineSpec {
        title: format!("{} · {} · {}", record.profile.name, cell.id, record.run_id),
        panels: vec![
            Panel {
                title: "memory".into(),
                y_label: "MiB".into(),
                y_include_zero: true,
                series: vec![
                    Series::new("RSS", pts(&|s| mib(s.value.rss))),
                    Series::new("PSS", pts(&|s| mib(s.value.pss))),
                    Series::new("USS", pts(&|s| mib(s.value.uss))),
                ],
                ..Default::default()
            },
            Panel {
                title: cpu_name.into(),
                y_label: "cores".into(),
                y_include_zero: true,
                series: vec![Series::new(cpu_name, cpu)],
                ..Default::default()
            },
        ],
        x_ranges: ranges,
        ..Default::default()
    }
}
