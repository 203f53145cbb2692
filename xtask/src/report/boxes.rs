//! Box lanes in words, tables and charts: start-time distribution, exec
//! latency, the density curve with its breakpoint, churn growth.

use super::charts::ChartRef;
use crate::results::boxes::{BoxFinding, BoxLane, ChurnMetric, Quantiles};
use crate::results::leaks::verdict_word;
use crate::rundir::RunDir;
use crate::units::ByteUnit;
use anyhow::Result;
use runcost_charts::{lines, LinesSpec, Rgb, Scale, Series};
use std::fmt::Write;

pub(super) fn ms(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn env_words(f: &BoxFinding) -> String {
    let e = &f.env;
    if let Some(p) = &e.profile {
        return match e.accel {
            Some(a) => format!("{p} (qemu/{})", a.qemu_name()),
            None => p.clone(),
        };
    }
    match (e.accel, &e.image) {
        (Some(a), _) => match e.transport {
            Some(t) => format!("qemu/{}/{}", a.qemu_name(), t.name()),
            None => format!("qemu/{}", a.qemu_name()),
        },
        (None, Some(img)) => format!("container {img}"),
        _ => e.backend.to_string(),
    }
}

/// `p50 1.2 s · p90 1.4 s* …`; a star marks a value its tier does not allow quoting.
pub fn quantiles_words(q: &Quantiles) -> String {
    let parts: Vec<String> =
        q.q.iter()
            .map(|x| {
                format!(
                    "p{} {}{}",
                    (x.p * 100.0).round(),
                    ms(x.value),
                    if x.quotable { "" } else { "*" }
                )
            })
            .collect();
    format!("{} (n={}, tier {:?})", parts.join(" · "), q.n, q.tier)
}

fn p(q: &Option<Quantiles>, at: f64) -> String {
    q.as_ref()
        .and_then(|q| q.get(at))
        .map(|x| format!("{}{}", ms(x.value), if x.quotable { "" } else { "*" }))
        .unwrap_or_else(|| "—".into())
}

pub fn words(f: &BoxFinding) -> String {
    let who = env_words(f);
    if let Some(why) = &f.env.failed {
        return format!("{who}: FAILS here: {why}");
    }
    match f.lane {
        BoxLane::Snapshot => super::box_snapshot::words(f),
        BoxLane::Lifecycle => match &f.lifecycle {
            Some(l) => format!(
                "{who}: cold start (create → first exec) p50 {}, p90 {} over {} box(es); stop p50 {}, remove p50 {}.",
                p(&l.cold_start, 0.5),
                p(&l.cold_start, 0.9),
                l.samples.len(),
                p(&l.stop, 0.5),
                p(&l.remove, 0.5)
            ),
            None => format!("{who}: no lifecycle result."),
        },
        BoxLane::Exec => match &f.exec {
            Some(e) => format!(
                "{who}: exec round trip of `true` p50 {}, p99 {}; writing {} KiB p50 {}.",
                p(&e.trivial_q, 0.5),
                p(&e.trivial_q, 0.99),
                e.large_bytes / 1024,
                p(&e.large_q, 0.5)
            ),
            None => format!("{who}: no exec result."),
        },
        BoxLane::Density => match &f.density {
            Some(d) => {
                let idle = d
                    .levels
                    .first()
                    .map(|l| ByteUnit::MiB.show(l.pss_per_box_bytes, 1))
                    .unwrap_or_else(|| "—".into());
                match &d.breakpoint {
                    Some(b) => format!(
                        "{who}: density breakpoint {} (largest level with exec p95 ≤ {}× the level-{} p95 of {}){}; host PSS per idle box {idle}; memory allows ~{} boxes.",
                        count_boxes(b.level),
                        b.factor,
                        d.levels.first().map(|l| l.level).unwrap_or(1),
                        ms(b.baseline),
                        if b.crosses_back || !b.monotonic {
                            " — NON-MONOTONIC curve, the breakpoint is fragile"
                        } else {
                            ""
                        },
                        d.capacity_by_memory
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| "?".into())
                    ),
                    None => format!(
                        "{who}: no density breakpoint ({}); host PSS per idle box {idle}.",
                        d.breakpoint_note.as_deref().unwrap_or("no levels")
                    ),
                }
            }
            None => format!("{who}: no density result."),
        },
        BoxLane::Churn => match &f.churn {
            Some(c) => {
                let growing: Vec<&str> = c
                    .series
                    .iter()
                    .filter(|s| {
                        s.test
                            .as_ref()
                            .is_some_and(|t| t.verdict == runcost_stats::LeakVerdict::Leak)
                    })
                    .map(|s| s.metric.label())
                    .collect();
                format!(
                    "{who}: {} over {} create/destroy cycles{}; {} box(es) left afterwards.",
                    verdict_word(c.verdict),
                    c.cycles,
                    if growing.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} grows)", growing.join(", "))
                    },
                    c.leftover_boxes
                )
            }
            None => format!("{who}: no churn result."),
        },
        BoxLane::Stability | BoxLane::Burst | BoxLane::Resource | BoxLane::Throughput => {
            super::boxaxes::words(&who, f)
        }
    }
}

pub fn short(f: &BoxFinding) -> String {
    match (&f.density, &f.churn) {
        (Some(d), _) => d
            .breakpoint
            .as_ref()
            .map(|b| format!("breakpoint {}", count_boxes(b.level)))
            .unwrap_or_else(|| "no breakpoint".into()),
        (_, Some(c)) => format!("box churn {}", verdict_word(c.verdict)),
        _ => format!("{:?}", f.lane).to_lowercase(),
    }
}

/// Tables under the verdict.
pub fn markdown(s: &mut String, f: &BoxFinding) {
    let e = &f.env;
    let _ = writeln!(s, "| box | |\n|---|---|");
    let _ = writeln!(s, "| backend | {} |", e.backend);
    let _ = writeln!(
        s,
        "| size | {} MiB, {} vCPU |",
        e.spec.memory_mib, e.spec.vcpus
    );
    if let Some(a) = e.accel {
        let _ = writeln!(
            s,
            "| accel | **{}** ({}) |",
            a.qemu_name(),
            e.accel_probe
                .as_ref()
                .map(|p| format!(
                    "{}{}",
                    p.reason,
                    if p.cached { ", cached probe" } else { "" }
                ))
                .unwrap_or_default()
        );
    }
    if let Some(t) = e.transport {
        let _ = writeln!(
            s,
            "| transport | {} |",
            match t {
                crate::boxes::Transport::Virtio => "virtio-console, -machine microvm",
                crate::boxes::Transport::Serial => "second 16550 UART, -machine pc",
            }
        );
    }
    for (k, v) in [
        ("qemu", &e.qemu_version),
        ("guest kernel", &e.kernel_version),
        ("kernel boot", &e.kernel_format),
        ("image", &e.image),
    ] {
        if let Some(v) = v {
            let _ = writeln!(s, "| {k} | {v} |");
        }
    }
    s.push('\n');
    let row = |s: &mut String, name: &str, q: &Option<Quantiles>| {
        if let Some(q) = q {
            let _ = writeln!(s, "| {name} | {} |", quantiles_words(q));
        }
    };
    if let Some(l) = &f.lifecycle {
        let _ = writeln!(s, "| phase | percentiles |\n|---|---|");
        row(s, "cold start (create → first exec)", &l.cold_start);
        row(s, "create → ready", &l.ready);
        row(s, "stop", &l.stop);
        row(s, "remove", &l.remove);
        let up: Vec<f64> = l.samples.iter().filter_map(|x| x.guest_uptime_s).collect();
        if let Some(q) = Quantiles::of(&up) {
            let _ = writeln!(
                s,
                "| guest uptime at agent hello | {} |",
                quantiles_words(&q)
            );
        }
        s.push('\n');
    }
    if let Some(x) = &f.exec {
        let _ = writeln!(s, "| command | round trip |\n|---|---|");
        row(s, "`true`", &x.trivial_q);
        row(
            s,
            &format!("`head -c {} /dev/zero`", x.large_bytes),
            &x.large_q,
        );
        let _ = writeln!(s, "\n{} warm-up exec(s) before measuring.\n", x.warmup);
    }
    if let Some(d) = &f.density {
        let _ = writeln!(
            s,
            "| boxes | execs | exec p50 | exec p95 | × level-1 p95 | PSS per box (idle) |\n|---|---|---|---|---|---|"
        );
        for (i, l) in d.levels.iter().enumerate() {
            let ratio = d
                .breakpoint
                .as_ref()
                .and_then(|b| b.ratios.get(i))
                .map(|r| format!("{:.2}", r.1))
                .unwrap_or_else(|| "—".into());
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {ratio} | {} |",
                l.level,
                l.exec.len(),
                p(&l.exec_q, 0.5),
                p(&l.exec_q, 0.95),
                ByteUnit::MiB.show(l.pss_per_box_bytes, 1)
            );
        }
        let _ = writeln!(
            s,
            "\nMemAvailable at the start: {}.\n",
            ByteUnit::MiB.show(d.mem_available_bytes as f64, 0)
        );
    }
    if let Some(c) = &f.churn {
        let _ = writeln!(
            s,
            "| metric | slope per cycle (churn) | 95 % CI | reference slope | verdict |\n|---|---|---|---|---|"
        );
        for x in &c.series {
            match &x.test {
                Some(t) => {
                    let (k, unit) = match x.metric {
                        ChurnMetric::HostMemUsed
                        | ChurnMetric::KernelSlab
                        | ChurnMetric::HarnessAnon => (ByteUnit::KiB.of(1.0), " KiB"),
                        _ => (1.0, ""),
                    };
                    let _ = writeln!(
                        s,
                        "| {} | {:.1}{unit} | [{:.1}, {:.1}] | {:.1}{unit} | {} |",
                        x.metric.label(),
                        t.churn.slope * k,
                        t.churn.ci.lower * k,
                        t.churn.ci.upper * k,
                        t.reference.slope * k,
                        verdict_word(t.verdict)
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "| {} | — | — | — | {} |",
                        x.metric.label(),
                        x.note.as_deref().unwrap_or("not tested")
                    );
                }
            }
        }
        s.push('\n');
    }
    s.push_str(
        "Values marked * are below the sample count their percentile needs (p50/p90: 30, p95: 100, p99: 500) and are indicative only.\n",
    );
}

/// Draws one line chart of a box lane as `charts/<lane>-<name>.{svg,png}`
/// and lists it in `out`: the one place box reports write a chart.
pub(super) fn draw_lines(
    run: &RunDir,
    lane: crate::results::LaneKind,
    name: &str,
    spec: &LinesSpec,
    out: &mut Vec<ChartRef>,
) -> Result<()> {
    let stem = format!("charts/{lane}-{name}");
    lines(&run.path(&stem), spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    out.push(ChartRef {
        title: spec.title.clone(),
        svg: format!("{stem}.svg"),
        png: format!("{stem}.png"),
    });
    Ok(())
}

pub fn charts(
    run: &RunDir,
    lane: crate::results::LaneKind,
    f: &BoxFinding,
) -> Result<Vec<ChartRef>> {
    let mut out = Vec::new();
    let mut draw = |name: &str, spec: LinesSpec| draw_lines(run, lane, name, &spec, &mut out);
    let who = env_words(f);
    let distribution = |xs: &[f64]| -> Vec<(f64, f64)> {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        v.iter()
            .enumerate()
            .map(|(i, y)| ((i as f64 + 0.5) / n * 100.0, *y))
            .collect()
    };
    if let Some(l) = &f.lifecycle {
        let cold: Vec<f64> = l.samples.iter().map(|x| x.first_exec_s).collect();
        let ready: Vec<f64> = l.samples.iter().map(|x| x.ready_s).collect();
        let mut series = vec![
            Series::new("create → first exec", distribution(&cold)),
            Series::new("create → ready", distribution(&ready)),
        ];
        let up: Vec<f64> = l.samples.iter().filter_map(|x| x.guest_uptime_s).collect();
        if !up.is_empty() {
            series.push(Series::new("guest uptime at hello", distribution(&up)));
        }
        draw(
            "start",
            LinesSpec {
                title: format!("Box start time distribution ({who})"),
                x_label: "share of boxes (%)".into(),
                y_label: "seconds".into(),
                y_include_zero: true,
                point_markers: true,
                series,
                caption: l
                    .cold_start
                    .as_ref()
                    .map(|q| format!("cold start {}", quantiles_words(q))),
                ..Default::default()
            },
        )?;
    }
    if let Some(x) = &f.exec {
        let to_ms = |v: Vec<(f64, f64)>| v.into_iter().map(|(a, b)| (a, b * 1e3)).collect();
        draw(
            "latency",
            LinesSpec {
                title: format!("Exec round trip ({who})"),
                x_label: "share of execs (%)".into(),
                y_label: "milliseconds".into(),
                y_scale: Scale::Log10,
                series: vec![
                    Series::new("true", to_ms(distribution(&x.trivial))),
                    Series::new(
                        format!("{} KiB of stdout", x.large_bytes / 1024),
                        to_ms(distribution(&x.large)),
                    ),
                ],
                ..Default::default()
            },
        )?;
    }
    if let Some(d) = &f.density {
        let pt = |at: f64| -> Vec<(f64, f64)> {
            d.levels
                .iter()
                .filter_map(|l| {
                    l.exec_q
                        .as_ref()
                        .and_then(|q| q.get(at))
                        .map(|q| (f64::from(l.level), q.value * 1e3))
                })
                .collect()
        };
        let mut series = vec![
            Series::new("exec p95", pt(0.95)),
            Series::new("exec p50", pt(0.5)),
        ];
        let mut caption = None;
        if let Some(b) = &d.breakpoint {
            let (x0, x1) = (
                d.levels.first().map(|l| l.level).unwrap_or(1),
                d.levels.last().map(|l| l.level).unwrap_or(1),
            );
            series.push(
                Series::new(
                    format!("limit {}× level-1 p95", b.factor),
                    vec![
                        (f64::from(x0), b.limit * 1e3),
                        (f64::from(x1), b.limit * 1e3),
                    ],
                )
                .with_color(Rgb(150, 150, 150)),
            );
            if let Some(y) = pt(0.95).iter().find(|(x, _)| *x == f64::from(b.level)) {
                series.push(
                    Series::new(format!("breakpoint: {}", count_boxes(b.level)), vec![*y])
                        .with_color(Rgb(200, 30, 30)),
                );
            }
            caption = Some(format!(
                "breakpoint {}{}",
                count_boxes(b.level),
                if b.crosses_back || !b.monotonic {
                    " (non-monotonic curve)"
                } else {
                    ""
                }
            ));
        }
        draw(
            "curve",
            LinesSpec {
                title: format!("Density: exec latency vs concurrent boxes ({who})"),
                x_label: "concurrent boxes".into(),
                y_label: "exec round trip (ms)".into(),
                x_scale: Scale::Log10,
                y_include_zero: true,
                point_markers: true,
                series,
                caption,
                ..Default::default()
            },
        )?;
        draw(
            "memory",
            LinesSpec {
                title: format!("Density: host PSS per box ({who})"),
                x_label: "concurrent boxes".into(),
                y_label: "MiB per box".into(),
                x_scale: Scale::Log10,
                y_include_zero: true,
                point_markers: true,
                series: vec![Series::new(
                    "PSS per idle box",
                    d.levels
                        .iter()
                        .map(|l| (f64::from(l.level), ByteUnit::MiB.of(l.pss_per_box_bytes)))
                        .collect(),
                )],
                ..Default::default()
            },
        )?;
    }
    if let Some(c) = &f.churn {
        for s in &c.series {
            let (scale, unit) = match s.metric {
                crate::results::boxes::ChurnMetric::HostMemUsed
                | crate::results::boxes::ChurnMetric::KernelSlab
                | crate::results::boxes::ChurnMetric::HarnessAnon => {
                    (ByteUnit::MiB.of(1.0), ByteUnit::MiB.suffix())
                }
                _ => (1.0, "count"),
            };
            let pts = |v: &[f64]| {
                v.iter()
                    .enumerate()
                    .map(|(i, y)| (i as f64 + 1.0, y * scale))
                    .collect::<Vec<_>>()
            };
            let name = format!("{:?}", s.metric).to_lowercase();
            draw(
                &format!("churn-{name}"),
                LinesSpec {
                    title: format!("Box churn: {} ({who})", s.metric.label()),
                    x_label: "cycle / reading".into(),
                    y_label: unit.into(),
                    series: vec![
                        Series::new("create/destroy cycles", pts(&s.churn)),
                        Series::new("static reference", pts(&s.reference)),
                    ],
                    caption: s.test.as_ref().map(|t| {
                        format!(
                            "slope {:.2} {unit}/cycle [{:.2}, {:.2}], reference {:.2}: {}",
                            t.churn.slope * scale,
                            t.churn.ci.lower * scale,
                            t.churn.ci.upper * scale,
                            t.reference.slope * scale,
                            verdict_word(t.verdict)
                        )
                    }),
                    ..Default::default()
                },
            )?;
        }
    }
    Ok(out)
}

/// The findings of one box lane: one runtime's tables as before, or with
/// several runtimes (`--profile a,b,c`) a table per metric with a column
/// per runtime.
pub fn lane_markdown(s: &mut String, fs: &[&BoxFinding]) {
    if fs.iter().any(|f| f.lane == BoxLane::Snapshot) {
        return super::box_snapshot::markdown(s, fs);
    }
    if fs.iter().any(|f| {
        matches!(
            f.lane,
            BoxLane::Stability | BoxLane::Burst | BoxLane::Resource | BoxLane::Throughput
        )
    }) {
        return super::boxaxes::markdown(s, fs);
    }
    match fs {
        [f] if f.env.profile.is_none() => markdown(s, f),
        _ => comparison(s, fs),
    }
}

pub fn lane_charts(
    run: &RunDir,
    lane: crate::results::LaneKind,
    fs: &[&BoxFinding],
) -> Result<Vec<ChartRef>> {
    if fs.iter().any(|f| f.lane == BoxLane::Snapshot) {
        return super::box_snapshot::charts(run, lane, fs);
    }
    if fs.iter().any(|f| {
        matches!(
            f.lane,
            BoxLane::Stability | BoxLane::Burst | BoxLane::Resource | BoxLane::Throughput
        )
    }) {
        return super::boxaxes::charts(run, lane, fs);
    }
    match fs {
        [f] if f.env.profile.is_none() => charts(run, lane, f),
        _ => compare_charts(run, lane, fs),
    }
}

pub(super) fn box_name(f: &BoxFinding) -> String {
    name(f)
}

fn name(f: &BoxFinding) -> String {
    f.env.profile.clone().unwrap_or_else(|| env_words(f))
}

fn table(s: &mut String, title: &str, fs: &[&BoxFinding], rows: &[(String, Vec<String>)]) {
    let _ = writeln!(s, "**{title}**\n");
    let _ = writeln!(
        s,
        "| | {} |\n|---|{}",
        fs.iter().map(|f| name(f)).collect::<Vec<_>>().join(" | "),
        "---|".repeat(fs.len())
    );
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {} |", v.join(" | "));
    }
    s.push('\n');
}

/// Side-by-side tables, one per metric, a column per runtime.
pub fn comparison(s: &mut String, fs: &[&BoxFinding]) {
    let col =
        |g: &dyn Fn(&BoxFinding) -> String| -> Vec<String> { fs.iter().map(|f| g(f)).collect() };
    let status = |f: &BoxFinding| match &f.env.failed {
        Some(w) => format!("**fails**: {w}"),
        None => "works".into(),
    };
    let mut rows = vec![
        ("status".to_string(), col(&status)),
        (
            "backend".into(),
            col(&|f| match f.env.accel {
                Some(a) => format!("qemu, {}", a.qemu_name()),
                None => f.env.backend.to_string(),
            }),
        ),
        (
            "runtime".into(),
            col(&|f| f.env.runtime.clone().unwrap_or_else(|| "—".into())),
        ),
        (
            "host memory counts".into(),
            col(&|f| f.env.counted.clone().unwrap_or_else(|| "—".into())),
        ),
    ];
    rows.push((
        "size".into(),
        col(&|f| format!("{} MiB, {} vCPU", f.env.spec.memory_mib, f.env.spec.vcpus)),
    ));
    table(s, "Runtimes", fs, &rows);
    if fs.iter().any(|f| f.lifecycle.is_some()) {
        let q = |g: fn(&crate::results::boxes::LifecycleResult) -> &Option<Quantiles>, at: f64| {
            col(&move |f: &BoxFinding| {
                f.lifecycle
                    .as_ref()
                    .map(|l| p(g(l), at))
                    .unwrap_or_else(|| "—".into())
            })
        };
        table(
            s,
            "Cold start and teardown",
            fs,
            &[
                (
                    "boxes".into(),
                    col(&|f| {
                        f.lifecycle
                            .as_ref()
                            .map(|l| l.samples.len().to_string())
                            .unwrap_or_else(|| "—".into())
                    }),
                ),
                (
                    "cold start p50 (create → first exec)".into(),
                    q(|l| &l.cold_start, 0.5),
                ),
                ("cold start p90".into(), q(|l| &l.cold_start, 0.9)),
                ("cold start p99".into(), q(|l| &l.cold_start, 0.99)),
                ("create → ready p50".into(), q(|l| &l.ready, 0.5)),
                ("stop p50".into(), q(|l| &l.stop, 0.5)),
                ("remove p50".into(), q(|l| &l.remove, 0.5)),
            ],
        );
    }
    if fs.iter().any(|f| f.exec.is_some()) {
        let q = |g: fn(&crate::results::boxes::ExecResult) -> &Option<Quantiles>, at: f64| {
            col(&move |f: &BoxFinding| {
                f.exec
                    .as_ref()
                    .map(|x| p(g(x), at))
                    .unwrap_or_else(|| "—".into())
            })
        };
        let large = fs
            .iter()
            .find_map(|f| f.exec.as_ref().map(|x| x.large_bytes))
            .unwrap_or(0);
        table(
            s,
            "Exec round trip",
            fs,
            &[
                (
                    "execs of `true`".into(),
                    col(&|f| {
                        f.exec
                            .as_ref()
                            .map(|x| x.trivial.len().to_string())
                            .unwrap_or_else(|| "—".into())
                    }),
                ),
                ("`true` p50".into(), q(|x| &x.trivial_q, 0.5)),
                ("`true` p99".into(), q(|x| &x.trivial_q, 0.99)),
                (
                    format!("{} KiB of stdout p50", large / 1024),
                    q(|x| &x.large_q, 0.5),
                ),
            ],
        );
    }
    if fs.iter().any(|f| f.density.is_some()) {
        let levels: Vec<u32> = fs
            .iter()
            .find_map(|f| f.density.as_ref())
            .map(|d| d.levels.iter().map(|l| l.level).collect())
            .unwrap_or_default();
        let mut rows = Vec::new();
        for lv in &levels {
            rows.push((
                format!("exec p95 at {lv} box(es)"),
                col(&|f| {
                    f.density
                        .as_ref()
                        .and_then(|d| d.levels.iter().find(|l| l.level == *lv))
                        .map(|l| p(&l.exec_q, 0.95))
                        .unwrap_or_else(|| "—".into())
                }),
            ));
        }
        for lv in &levels {
            rows.push((
                format!("host PSS per box at {lv}"),
                col(&|f| {
                    f.density
                        .as_ref()
                        .and_then(|d| d.levels.iter().find(|l| l.level == *lv))
                        .map(|l| ByteUnit::MiB.show(l.pss_per_box_bytes, 1))
                        .unwrap_or_else(|| "—".into())
                }),
            ));
        }
        rows.push((
            "breakpoint".into(),
            col(&|f| {
                f.density
                    .as_ref()
                    .map(|d| match &d.breakpoint {
                        Some(b) => count_boxes(b.level),
                        None => d.breakpoint_note.clone().unwrap_or_else(|| "—".into()),
                    })
                    .unwrap_or_else(|| "—".into())
            }),
        ));
        table(s, "Density", fs, &rows);
    }
    if fs.iter().any(|f| f.churn.is_some()) {
        let mut rows = vec![(
            "verdict".to_string(),
            col(&|f| {
                f.churn
                    .as_ref()
                    .map(|c| verdict_word(c.verdict).to_string())
                    .unwrap_or_else(|| "—".into())
            }),
        )];
        for m in ChurnMetric::ALL {
            rows.push((
                format!("{} slope per cycle", m.label()),
                col(&|f| {
                    f.churn
                        .as_ref()
                        .and_then(|c| c.series.iter().find(|x| x.metric == m))
                        .and_then(|x| x.test.as_ref())
                        .map(|t| format!("{:.1}", t.churn.slope))
                        .unwrap_or_else(|| "—".into())
                }),
            ));
        }
        table(s, "Churn", fs, &rows);
    }
    s.push_str(
        "An engine-driven profile and its `-cli` twin run the same OCI runtime on the same rootfs: the difference between their columns is the engine's cost (dockerd → containerd → shim, and the engine's exec API against a direct `exec`). Lifecycle and exec interleave the runtimes within each iteration; density and churn run one runtime after the other. Values marked * are below the sample count their percentile needs and are indicative only.\n",
    );
}

/// Charts comparing the runtimes' distributions: cold start, exec round
/// trip, the density curve and host PSS per box.
fn compare_charts(
    run: &RunDir,
    lane: crate::results::LaneKind,
    fs: &[&BoxFinding],
) -> Result<Vec<ChartRef>> {
    let mut out = Vec::new();
    let mut draw = |name: &str, spec: LinesSpec| -> Result<()> {
        if spec.series.iter().all(|s| s.points.is_empty()) {
            return Ok(());
        }
        draw_lines(run, lane, name, &spec, &mut out)
    };
    let distribution = |xs: &[f64], k: f64| -> Vec<(f64, f64)> {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        v.iter()
            .enumerate()
            .map(|(i, y)| ((i as f64 + 0.5) / n * 100.0, *y * k))
            .collect()
    };
    let ok: Vec<&&BoxFinding> = fs.iter().filter(|f| f.env.failed.is_none()).collect();
    if ok.iter().any(|f| f.lifecycle.is_some()) {
        draw(
            "start",
            LinesSpec {
                title: "Cold start (create → first exec) by runtime".into(),
                x_label: "share of boxes (%)".into(),
                y_label: "milliseconds".into(),
                y_scale: Scale::Log10,
                point_markers: true,
                series: ok
                    .iter()
                    .filter_map(|f| {
                        let l = f.lifecycle.as_ref()?;
                        let v: Vec<f64> = l.samples.iter().map(|x| x.first_exec_s).collect();
                        Some(Series::new(name(f), distribution(&v, 1e3)))
                    })
                    .collect(),
                ..Default::default()
            },
        )?;
    }
    if ok.iter().any(|f| f.exec.is_some()) {
        draw(
            "latency",
            LinesSpec {
                title: "Exec round trip of `true` by runtime".into(),
                x_label: "share of execs (%)".into(),
                y_label: "milliseconds".into(),
                y_scale: Scale::Log10,
                series: ok
                    .iter()
                    .filter_map(|f| {
                        Some(Series::new(
                            name(f),
                            distribution(&f.exec.as_ref()?.trivial, 1e3),
                        ))
                    })
                    .collect(),
                ..Default::default()
            },
        )?;
    }
    if ok.iter().any(|f| f.density.is_some()) {
        let curve =
            |f: &BoxFinding, g: &dyn Fn(&crate::results::boxes::DensityLevel) -> Option<f64>| {
                f.density.as_ref().map(|d| {
                    d.levels
                        .iter()
                        .filter_map(|l| Some((f64::from(l.level), g(l)?)))
                        .collect::<Vec<_>>()
                })
            };
        draw(
            "curve",
            LinesSpec {
                title: "Density: exec p95 vs concurrent boxes by runtime".into(),
                x_label: "concurrent boxes".into(),
                y_label: "exec p95 (ms)".into(),
                x_scale: Scale::Log10,
                y_include_zero: true,
                point_markers: true,
                series: ok
                    .iter()
                    .filter_map(|f| {
                        let pts = curve(f, &|l| {
                            l.exec_q
                                .as_ref()
                                .and_then(|q| q.get(0.95))
                                .map(|q| q.value * 1e3)
                        })?;
                        Some(Series::new(name(f), pts))
                    })
                    .collect(),
                ..Default::default()
            },
        )?;
        draw(
            "memory",
            LinesSpec {
                title: "Density: host PSS per box by runtime".into(),
                x_label: "concurrent boxes".into(),
                y_label: "MiB per box".into(),
                x_scale: Scale::Log10,
                y_include_zero: true,
                point_markers: true,
                series: ok
                    .iter()
                    .filter_map(|f| {
                        let pts = curve(f, &|l| Some(ByteUnit::MiB.of(l.pss_per_box_bytes)))?;
                        Some(Series::new(name(f), pts))
                    })
                    .collect(),
                ..Default::default()
            },
        )?;
    }
    Ok(out)
}

/// "1 box", "4 boxes".
fn count_boxes(n: u32) -> String {
    if n == 1 {
        "1 box".into()
    } else {
        format!("{n} boxes")
    }
}
