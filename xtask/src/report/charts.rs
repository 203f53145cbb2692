//! Charts for a run, from its record and sample CSVs.

use super::csv::parse_samples_csv;
use crate::probe::sampler::Sample;
use crate::results::{Aggregate, Finding, LaneKind, LaneRecord, MetricKind, Unit};
use crate::results::{CellRecord, RunRecord};
use crate::rundir::RunDir;
use crate::units::ByteUnit;
use anyhow::{Context, Result};
use runcost_charts::{
    lines, scatter_fit, timeline, Curve, LinesSpec, Panel, Rgb, Scale, ScatterFitSpec, Series,
    TimelineSpec, XRange,
};
use runcost_stats::powerlaw::ScalingOutcome;

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
        out.extend(super::attrib::charts(run, record, lane)?);
        match lane.lane {
            LaneKind::Scaling => {
                // One chart per fitted metric (the attribution finding has its tables).
                for f in lane
                    .findings
                    .iter()
                    .filter(|f| matches!(f, Finding::Scaling { .. }))
                {
                    out.push(scaling_chart(run, record, lane, f)?);
                }
            }
            LaneKind::Sweep => {
                for metric in [MetricKind::Uss, MetricKind::CpuCores] {
                    if let Some(c) = sweep_chart(run, record, lane, metric)? {
                        out.push(c);
                    }
                }
            }
            LaneKind::Load => out.extend(load_charts(run, record, lane)?),
            LaneKind::Fault => {
                for f in &lane.findings {
                    if let Finding::Fault(f) = f {
                        out.extend(super::fault::charts(run, record, f)?);
                    }
                }
            }
            LaneKind::Churn => {
                for f in &lane.findings {
                    if let Finding::Churn(c) = f {
                        out.push(churn_chart(run, record, c)?);
                    }
                }
            }
            LaneKind::BoxLifecycle
            | LaneKind::BoxExec
            | LaneKind::BoxDensity
            | LaneKind::BoxChurn
            | LaneKind::BoxSnapshot
            | LaneKind::BoxStability
            | LaneKind::BoxBurst
            | LaneKind::BoxResource
            | LaneKind::BoxThroughput => {
                let boxes: Vec<&crate::results::boxes::BoxFinding> = lane
                    .findings
                    .iter()
                    .filter_map(|f| match f {
                        Finding::Box(b) => Some(&**b),
                        _ => None,
                    })
                    .collect();
                if !boxes.is_empty() {
                    out.extend(super::boxes::lane_charts(run, lane.lane, &boxes)?);
                }
            }
            LaneKind::Footprint | LaneKind::Heap | LaneKind::Memcheck => {}
        }
    }
    Ok(out)
}

/// Memory and CPU over time, warm-up shaded, the measured window marked.
pub fn cell_timeline(record: &RunRecord, cell: &CellRecord, samples: &[Sample]) -> TimelineSpec {
    let mib = |b: u64| ByteUnit::MiB.of(b as f64);
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
                series: [
                    Series::new("RSS", pts(&|s| mib(s.value.rss))),
                    Series::new("PSS", pts(&|s| mib(s.value.pss))),
                    Series::new("USS (summed)", pts(&|s| mib(s.value.uss))),
                ]
                .into_iter()
                .chain(mib_series("cgroup memory", samples, |s| s.value.cgroup_mem))
                .chain(mib_series("cgroup shmem + file", samples, |s| {
                    Some(
                        s.value.cgroup_shmem?
                            + s.value.cgroup_file_active?
                            + s.value.cgroup_file_inactive?,
                    )
                }))
                .collect(),
                ..Default::default()
            },
            Panel {
                title: cpu_name.into(),
                y_label: "cores".into(),
                y_include_zero: true,
                series: vec![Series::new(cpu_name, cpu)],
                ..Default::default()
            },
            procs_panel(samples),
        ],
        x_ranges: ranges,
        ..Default::default()
    }
}

/// A byte field of the samples in MiB, where every sample has it.
pub(super) fn mib_series(
    name: &str,
    samples: &[Sample],
    f: impl Fn(&Sample) -> Option<u64>,
) -> Option<Series> {
    let pts: Option<Vec<(f64, f64)>> = samples
        .iter()
        .map(|s| Some((s.t, ByteUnit::MiB.of(f(s)? as f64))))
        .collect();
    pts.filter(|p| !p.is_empty()).map(|p| Series::new(name, p))
}

/// A cumulative seconds counter as a rate (cores) over spans of `step`
/// samples (~1 s), where every sample has it.
pub(super) fn rate_series(
    name: &str,
    samples: &[Sample],
    step: usize,
    f: impl Fn(&Sample) -> Option<f64>,
) -> Option<Series> {
    let pts: Option<Vec<(f64, f64)>> = samples
        .windows(step + 1)
        .step_by(step)
        .filter(|w| w[step].t > w[0].t)
        .map(|w| {
            let (a, b) = (&w[0], &w[step]);
            Some(((a.t + b.t) / 2.0, (f(b)? - f(a)?) / (b.t - a.t)))
        })
        .collect();
    pts.filter(|p| !p.is_empty()).map(|p| Series::new(name, p))
}

/// The number of processes summed per sample: forks join, exits leave.
pub(super) fn procs_panel(samples: &[Sample]) -> Panel {
    Panel {
        title: "processes sampled".into(),
        y_label: "processes".into(),
        y_include_zero: true,
        series: vec![Series::new(
            "processes",
            samples
                .iter()
                .map(|s| (s.t, f64::from(s.value.procs)))
                .collect(),
        )],
        ..Default::default()
    }
}

/// Display scale of a metric: MiB for bytes, as-is otherwise.
fn scale_of(unit: Unit) -> (f64, &'static str) {
    match unit {
        Unit::Bytes => (ByteUnit::MiB.of(1.0), ByteUnit::MiB.suffix()),
        Unit::Cores => (1.0, "cores"),
        Unit::Count => (1.0, "count"),
        Unit::Seconds => (1e3, "ms"),
        Unit::PerSecond => (1.0, "per s"),
        Unit::Ratio => (100.0, "%"),
        Unit::BytesPerSecond => (ByteUnit::MiB.of(1.0), "MiB/s"),
    }
}

fn chart_ref(title: String, stem: &str) -> ChartRef {
    ChartRef {
        title,
        svg: format!("{stem}.svg"),
        png: format!("{stem}.png"),
    }
}

/// Log-log scatter of every (repeat, size) point with the fitted curve.
fn scaling_chart(
    run: &RunDir,
    record: &RunRecord,
    lane: &LaneRecord,
    f: &Finding,
) -> Result<ChartRef> {
    let Finding::Scaling {
        metric,
        parameter,
        outcome,
        ..
    } = f
    else {
        anyhow::bail!("not a scaling finding");
    };
    let (k, unit_name) = scale_of(metric.unit());
    let mut repeats: Vec<u32> = lane.cells.iter().map(|c| c.repeat).collect();
    repeats.sort_unstable();
    repeats.dedup();
    let groups: Vec<Series> = repeats
        .iter()
        .map(|&r| {
            let pts = lane
                .cells
                .iter()
                .filter(|c| c.repeat == r && c.status == crate::results::CellStatus::Ok)
                .filter_map(|c| {
                    let n = c.params.get(parameter)?.parse::<f64>().ok()?;
                    let v = c.metrics.iter().find(|m| m.metric == *metric)?.value;
                    Some((n, v * k))
                })
                .collect();
            Series::new(format!("repeat {r}"), pts)
        })
        .collect();
    let sizes: Vec<f64> = lane
        .cells
        .iter()
        .filter_map(|c| c.params.get(parameter)?.parse().ok())
        .collect();
    let (lo, hi) = sizes
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let fit = match outcome {
        ScalingOutcome::Fit(fit) if lo < hi => Some(Curve {
            name: format!("a + b·n^k, k = {:.3}", fit.k),
            points: (0..=60)
                .map(|i| {
                    let n = lo * (hi / lo).powf(i as f64 / 60.0);
                    (n, (fit.a + fit.b * n.powf(fit.k)) * k)
                })
                .collect(),
        }),
        _ => None,
    };
    // Band: the envelope of the curves refitted at the ends of k's interval.
    let band = match outcome {
        ScalingOutcome::Fit(fit) if lo < hi && fit.fits_at_ci.is_some() => {
            Some(runcost_charts::Band {
                name: format!(
                    "fits at k = {:.3} and {:.3}",
                    fit.k_ci.lower, fit.k_ci.upper
                ),
                points: (0..=60)
                    .map(|i| {
                        let n = lo * (hi / lo).powf(i as f64 / 60.0);
                        let at = |(a, b): (f64, f64), kk: f64| (a + b * n.powf(kk)) * k;
                        let ys = [
                            at((fit.a, fit.b), fit.k),
                            at(fit.fits_at_ci.unwrap_or_default()[0], fit.k_ci.lower),
                            at(fit.fits_at_ci.unwrap_or_default()[1], fit.k_ci.upper),
                        ];
                        (
                            n,
                            ys.iter().cloned().fold(f64::MAX, f64::min),
                            ys.iter().cloned().fold(f64::MIN, f64::max),
                        )
                    })
                    .collect(),
            })
        }
        _ => None,
    };
    let stem = format!(
        "charts/scaling-{}",
        serde_json::to_value(metric)?.as_str().unwrap_or("metric")
    );
    let spec = ScatterFitSpec {
        title: format!(
            "{} · {} vs {parameter} · {}",
            record.profile.name,
            metric.label(),
            record.run_id
        ),
        x_label: parameter.clone(),
        y_label: format!("{} ({unit_name})", metric.label()),
        x_scale: Scale::Log10,
        y_scale: Scale::Log10,
        groups,
        fit,
        band,
        caption: Some(super::words::finding_short(f)),
        ..Default::default()
    };
    scatter_fit(&run.path(&stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(chart_ref(spec.title, &stem))
}

/// The judged memory metric after each cycle, churn and static, with the churn run's fitted
/// line and the band its slope interval spans (pivoting on the fit's
/// centre), over the fitted cycles.
fn churn_chart(
    run: &RunDir,
    record: &RunRecord,
    f: &crate::results::leaks::ChurnFinding,
) -> Result<ChartRef> {
    let mib = ByteUnit::MiB.of(1.0);
    let pts = |p: &[(f64, f64)]| p.iter().map(|(x, y)| (*x, y * mib)).collect::<Vec<_>>();
    let groups = vec![
        Series::new("churn", pts(&f.churn_memory)),
        Series::new("static", pts(&f.static_memory)),
    ];
    let metric = f.memory_metric;
    let uss = f.metrics.iter().find(|m| m.metric == metric);
    let (mut fit, mut band) = (None, None);
    if let Some(m) = uss {
        let s = &m.test.churn;
        let x0 = f64::from(f.warmup_cycles);
        let x1 = f.churn_memory.last().map(|p| p.0).unwrap_or(x0);
        let xm = (x0 + x1) / 2.0;
        let at = |x: f64, slope: f64| (s.intercept + s.slope * xm + slope * (x - xm)) * mib;
        let xs: Vec<f64> = (0..=40).map(|i| x0 + (x1 - x0) * i as f64 / 40.0).collect();
        fit = Some(Curve {
            name: format!(
                "churn fit: {}/cycle",
                super::words::per_cycle(metric, s.slope)
            ),
            points: xs.iter().map(|&x| (x, at(x, s.slope))).collect(),
        });
        band = Some(runcost_charts::Band {
            name: "95 % CI of the slope".into(),
            points: xs
                .iter()
                .map(|&x| {
                    let (a, b) = (at(x, s.ci.lower), at(x, s.ci.upper));
                    (x, a.min(b), a.max(b))
                })
                .collect(),
        });
    }
    let stem = "charts/churn-memory";
    let spec = ScatterFitSpec {
        title: format!(
            "{} · {} vs create/delete cycle · {}",
            record.profile.name,
            super::words::memory_name(metric),
            record.run_id
        ),
        x_label: format!("cycle ({} objects created and deleted each)", f.batch),
        y_label: format!("{} (MiB)", super::words::memory_name(metric)),
        groups,
        fit,
        band,
        caption: uss.map(|m| {
            let t = &m.test;
            let pc = |v: f64| super::words::per_cycle(metric, v);
            format!(
                "{}: {} [{}, {}] per cycle under churn, static {} [{}, {}]; floor {}",
                crate::results::leaks::verdict_word(t.verdict),
                pc(t.churn.slope),
                pc(t.churn.ci.lower),
                pc(t.churn.ci.upper),
                pc(t.reference.slope),
                pc(t.reference.ci.lower),
                pc(t.reference.ci.upper),
                pc(t.slope_floor)
            )
        }),
        ..Default::default()
    };
    scatter_fit(&run.path(stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(chart_ref(spec.title, stem))
}

/// Median and 95 % CI of a metric against the knob value.
fn sweep_chart(
    run: &RunDir,
    record: &RunRecord,
    lane: &LaneRecord,
    metric: MetricKind,
) -> Result<Option<ChartRef>> {
    let aggs: Vec<&Aggregate> = lane
        .aggregates
        .iter()
        .filter(|a| a.metric == metric)
        .collect();
    let Some(knob) = aggs.first().and_then(|a| a.params.keys().next().cloned()) else {
        return Ok(None);
    };
    let (k, unit_name) = scale_of(metric.unit());
    let numeric = aggs.iter().all(|a| {
        a.params
            .get(&knob)
            .and_then(|v| v.parse::<f64>().ok())
            .is_some()
    });
    let x_of = |i: usize, a: &Aggregate| {
        if numeric {
            a.params
                .get(&knob)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(i as f64)
        } else {
            i as f64
        }
    };
    let points: Vec<(f64, f64)> = aggs
        .iter()
        .enumerate()
        .map(|(i, a)| (x_of(i, a), a.median * k))
        .collect();
    let bars: Vec<(f64, f64, f64)> = aggs
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.ci95.map(|(lo, hi)| (x_of(i, a), lo * k, hi * k)))
        .collect();
    let stem = format!(
        "charts/sweep-{}",
        serde_json::to_value(metric)?.as_str().unwrap_or("metric")
    );
    let caption = (!numeric).then(|| {
        let names: Vec<String> = aggs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                format!(
                    "{i} = {}",
                    a.params.get(&knob).map(String::as_str).unwrap_or("?")
                )
            })
            .collect();
        format!("x: {}", names.join(", "))
    });
    let spec = LinesSpec {
        title: format!(
            "{} · {} vs {knob} · {}",
            record.profile.name,
            metric.label(),
            record.run_id
        ),
        x_label: knob.clone(),
        y_label: format!("{} ({unit_name}), median and 95 % CI", metric.label()),
        y_include_zero: true,
        point_markers: true,
        series: vec![Series::new(metric.label(), points).with_error_bars(bars)],
        caption,
        ..Default::default()
    };
    lines(&run.path(&stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(chart_ref(spec.title, &stem)))
}

/// Latency by percentile (every cell), and latency against the intended rate.
fn load_charts(run: &RunDir, record: &RunRecord, lane: &LaneRecord) -> Result<Vec<ChartRef>> {
    let mut out = Vec::new();
    let series: Vec<Series> = lane
        .cells
        .iter()
        .filter_map(|c| {
            let r = c.load.as_ref().filter(|r| r.latency_valid())?;
            let pts = r
                .latency_percentiles
                .iter()
                .map(|p| (p.percentile, p.value_us as f64 / 1000.0))
                .collect();
            Some(Series::new(
                c.id.trim_start_matches("load-").to_string(),
                pts,
            ))
        })
        .collect();
    if series.is_empty() {
        return Ok(out);
    }
    let stem = "charts/load-percentiles";
    let spec = LinesSpec {
        title: format!(
            "{} · latency by percentile · {}",
            record.profile.name, record.run_id
        ),
        x_label: "percentile".into(),
        y_label: "latency (ms)".into(),
        x_scale: Scale::Percentile,
        y_scale: Scale::Log10,
        series,
        caption: Some(
            "open loop: from each request's intended start; closed loop: from its actual send"
                .into(),
        ),
        ..Default::default()
    };
    lines(&run.path(stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    out.push(chart_ref(spec.title, stem));

    // Latency against intended rate (open loop, two or more rates).
    let mut by_rate: Vec<(f64, f64, f64)> = lane
        .cells
        .iter()
        .filter_map(|c| {
            let r = c.load.as_ref().filter(|r| r.latency_valid())?;
            Some((
                r.intended_rate_per_s?,
                r.latency.p50_us as f64 / 1000.0,
                r.latency.p99_us as f64 / 1000.0,
            ))
        })
        .collect();
    by_rate.sort_by(|a, b| a.0.total_cmp(&b.0));
    let distinct = {
        let mut r: Vec<f64> = by_rate.iter().map(|x| x.0).collect();
        r.dedup();
        r.len()
    };
    if distinct >= 2 {
        let stem = "charts/load-rate-latency";
        let spec = LinesSpec {
            title: format!(
                "{} · latency vs intended rate · {}",
                record.profile.name, record.run_id
            ),
            x_label: "intended rate (requests/s)".into(),
            y_label: "latency (ms)".into(),
            x_scale: Scale::Log10,
            y_scale: Scale::Log10,
            point_markers: true,
            series: vec![
                Series::new("p50", by_rate.iter().map(|x| (x.0, x.1)).collect()),
                Series::new("p99", by_rate.iter().map(|x| (x.0, x.2)).collect()),
            ],
            ..Default::default()
        };
        lines(&run.path(stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
        out.push(chart_ref(spec.title, stem));
    }
    Ok(out)
}

/// One metric's medians over runs, change points marked. Returns the PNG
/// path relative to `dir`.
pub fn history_chart(
    dir: &std::path::Path,
    profile: &str,
    key: &str,
    unit: Unit,
    points: &[(usize, String, f64)],
    change_points: &[f64],
) -> Result<String> {
    let (k, unit_name) = scale_of(unit);
    let slug: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let stem = format!("charts/history-{slug}");
    let spec = TimelineSpec {
        title: format!("{profile} · {key} over runs"),
        x_label: "run (oldest → newest)".into(),
        panels: vec![Panel {
            title: key.to_string(),
            y_label: unit_name.into(),
            y_include_zero: true,
            series: vec![Series::new(
                "median",
                points.iter().map(|p| (p.0 as f64, p.2 * k)).collect(),
            )],
            ..Default::default()
        }],
        markers: change_points
            .iter()
            .map(|&x| runcost_charts::Marker::new(x - 0.5, "change"))
            .collect(),
        ..Default::default()
    };
    timeline(&dir.join(&stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(format!("{stem}.png"))
}
