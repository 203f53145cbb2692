//! The snapshot lane in words, one table per runtime column, a chart of
//! the pause per mode and a gap timeline (what the ping loop and the
//! in-box ticker saw over time, each snapshot's window shaded).

use super::charts::ChartRef;
use crate::results::boxes::{BoxFinding, Quantiles, SnapshotMode, SnapshotResult};
use crate::rundir::RunDir;
use crate::units::ByteUnit;
use anyhow::Result;
use runcost_charts::{lines, timeline, LinesSpec, Panel, Rgb, Scale, Series, TimelineSpec, XRange};
use std::fmt::Write;

const MODES: [SnapshotMode; 3] = [
    SnapshotMode::Live,
    SnapshotMode::Full,
    SnapshotMode::Background,
];

fn ms(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn p(q: &Option<Quantiles>, at: f64) -> String {
    q.as_ref()
        .and_then(|q| q.get(at))
        .map(|x| format!("{}{}", ms(x.value), if x.quotable { "" } else { "*" }))
        .unwrap_or_else(|| "—".into())
}

fn p50_90(q: &Option<Quantiles>) -> String {
    match q {
        Some(_) => format!("{} / {}", p(q, 0.5), p(q, 0.9)),
        None => "—".into(),
    }
}

fn name(f: &BoxFinding) -> String {
    f.env
        .profile
        .clone()
        .unwrap_or_else(|| f.env.backend.to_string())
}

/// One sentence per runtime.
pub fn words(f: &BoxFinding) -> String {
    let who = name(f);
    if let Some(why) = &f.env.failed {
        return format!("{who}: FAILS here: {why}");
    }
    let Some(r) = &f.snapshot else {
        return format!("{who}: no snapshot result.");
    };
    if let Some(why) = &r.skipped {
        return why.clone();
    }
    let mode = |m: SnapshotMode| r.modes.iter().find(|s| s.mode == m);
    let mut parts = Vec::new();
    for m in MODES {
        if let Some(s) = mode(m) {
            parts.push(format!(
                "{} snapshot pause p50 {} (observed from the host {}), total {}, {}",
                m.name(),
                p(&s.reported_pause, 0.5),
                p(&s.host_gap, 0.5),
                p(&s.total, 0.5),
                ByteUnit::MiB.show(s.bytes as f64, 1)
            ));
        }
    }
    format!(
        "{who}: {}; restore to first exec p50 {}; fork p50 {} ({} clone(s), PSS {} each); state read back in {} box(es).",
        parts.join("; "),
        p(&r.restore, 0.5),
        p(&r.fork, 0.5),
        r.forks.len(),
        pss_per_clone(r)
            .map(|b| ByteUnit::MiB.show(b, 1))
            .unwrap_or_else(|| "—".into()),
        r.state_verified
    )
}

fn pss_per_clone(r: &SnapshotResult) -> Option<f64> {
    (!r.forks.is_empty())
        .then(|| r.forks.iter().map(|f| f.pss_bytes as f64).sum::<f64>() / r.forks.len() as f64)
}

/// One table, a column per runtime.
pub fn markdown(s: &mut String, fs: &[&BoxFinding]) {
    let col = |g: &dyn Fn(&SnapshotResult) -> String| -> Vec<String> {
        fs.iter()
            .map(|f| match (&f.env.failed, &f.snapshot) {
                (Some(_), _) => "FAILS".into(),
                (None, Some(r)) if r.skipped.is_some() => "SKIP".into(),
                (None, Some(r)) => g(r),
                (None, None) => "—".into(),
            })
            .collect()
    };
    let mode_row =
        |m: SnapshotMode,
         g: &'static dyn Fn(&crate::results::boxes::SnapshotModeSummary) -> String| {
            move |r: &SnapshotResult| {
                r.modes
                    .iter()
                    .find(|x| x.mode == m)
                    .map(g)
                    .unwrap_or_else(|| "—".into())
            }
        };
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for m in MODES {
        let n = m.name();
        rows.push((
            format!("{n}: pause, reported (p50 / p90)"),
            col(&mode_row(m, &|x| p50_90(&x.reported_pause))),
        ));
        rows.push((
            format!("{n}: largest gap seen from the host (p50 / p90)"),
            col(&mode_row(m, &|x| p50_90(&x.host_gap))),
        ));
        rows.push((
            format!("{n}: largest gap seen in the box (p50 / p90)"),
            col(&mode_row(m, &|x| p50_90(&x.guest_gap))),
        ));
        rows.push((
            format!("{n}: caller round trip (p50 / p90)"),
            col(&mode_row(m, &|x| p50_90(&x.caller))),
        ));
        rows.push((
            format!("{n}: total write time (p50 / p90)"),
            col(&mode_row(m, &|x| p50_90(&x.total))),
        ));
        rows.push((
            format!("{n}: size · write rate"),
            col(&mode_row(m, &|x| {
                format!(
                    "{} · {}/s",
                    ByteUnit::MiB.show(x.bytes as f64, 1),
                    ByteUnit::MiB.show(x.write_bytes_per_s, 0)
                )
            })),
        ));
    }
    rows.push((
        "restore → first exec (p50 / p90)".into(),
        col(&|r| p50_90(&r.restore)),
    ));
    rows.push((
        "fork: clone → first exec (p50 / p90)".into(),
        col(&|r| match &r.fork_skipped {
            Some(_) => "not measured".into(),
            None => p50_90(&r.fork),
        }),
    ));
    rows.push((
        "fork: host PSS per clone · source".into(),
        col(&|r| {
            format!(
                "{} · {}",
                pss_per_clone(r)
                    .map(|b| ByteUnit::MiB.show(b, 1))
                    .unwrap_or_else(|| "—".into()),
                ByteUnit::MiB.show(r.source_pss_bytes as f64, 1)
            )
        }),
    ));
    rows.push((
        "state read back after restore / in forks".into(),
        col(&|r| {
            format!(
                "{} of {}",
                r.state_verified,
                r.restore_s.len() + r.forks.len()
            )
        }),
    ));
    rows.push((
        "memory held in the box".into(),
        col(&|r| format!("{} MiB", r.held_mib)),
    ));
    rows.push((
        "snapshot files left".into(),
        col(&|r| r.files_left.to_string()),
    ));
    let _ = writeln!(s, "### Snapshot, restore and fork\n");
    let _ = writeln!(
        s,
        "| | {} |\n|---|{}",
        fs.iter().map(|f| name(f)).collect::<Vec<_>>().join(" | "),
        "---|".repeat(fs.len())
    );
    for (label, cells) in rows {
        let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
    }
    s.push('\n');
    for f in fs {
        if let Some(why) = f.snapshot.as_ref().and_then(|r| r.skipped.as_ref()) {
            let _ = writeln!(s, "- {why}");
        }
        if let Some(why) = f.snapshot.as_ref().and_then(|r| r.fork_skipped.as_ref()) {
            let _ = writeln!(s, "- forks not measured: {why}");
        }
        if let Some(why) = f
            .snapshot
            .as_ref()
            .filter(|r| r.skipped.is_none())
            .and_then(|r| r.background_skipped.as_ref())
        {
            let _ = writeln!(s, "- {}: background mode not measured: {why}", name(f));
        }
    }
    s.push_str(
        "\nLive: pre-copy migration to a file while the box runs; its pause is qemu's reported downtime (the final stop-and-copy). Full: stop, write everything, continue; its pause is `stop` → `cont` (runsc: `checkpoint` stops the box and `restore` brings it back; runsc reports no pause, the gaps observe it). Background: qemu's `background-snapshot` capability, the box running on while memory is written as it was at the start (userfaultfd write-protect). The host gap is the largest gap between answers of the agent's ping loop; the box gap the largest gap between stamps of a ticker inside the box (under TCG the guest clock stops with the VM, so the box sees less than the host). Modes alternate order each iteration. Values marked * are below the sample count their percentile needs.\n",
    );
}

/// Pause per mode and per runtime: every sample, reported and observed.
pub fn charts(
    run: &RunDir,
    lane: crate::results::LaneKind,
    fs: &[&BoxFinding],
) -> Result<Vec<ChartRef>> {
    let mut series = Vec::new();
    for f in fs {
        let Some(r) = &f.snapshot else { continue };
        for m in MODES {
            let of: Vec<_> = r.samples.iter().filter(|s| s.mode == m).collect();
            let pts = |g: &dyn Fn(&crate::results::boxes::SnapshotSample) -> Option<f64>| {
                of.iter()
                    .filter_map(|s| Some((f64::from(s.iteration), g(s)? * 1e3)))
                    .collect::<Vec<_>>()
            };
            let reported = pts(&|s| s.reported_pause_s);
            if !reported.is_empty() {
                series.push(Series::new(
                    format!("{} {} reported", name(f), m.name()),
                    reported,
                ));
            }
            let host = pts(&|s| s.host_gap_s);
            if !host.is_empty() {
                series.push(Series::new(
                    format!("{} {} host gap", name(f), m.name()),
                    host,
                ));
            }
        }
    }
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let spec = LinesSpec {
        title: "Snapshot pause per mode".into(),
        x_label: "iteration".into(),
        y_label: "milliseconds".into(),
        y_scale: Scale::Log10,
        point_markers: true,
        series,
        ..Default::default()
    };
    let stem = format!("charts/{lane}-pause");
    lines(&run.path(&stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = vec![ChartRef {
        title: spec.title.clone(),
        svg: format!("{stem}.svg"),
        png: format!("{stem}.png"),
    }];
    if let Some(spec) = gap_timeline(fs) {
        let stem = format!("charts/{lane}-gaps");
        timeline(&run.path(&stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
        out.push(ChartRef {
            title: spec.title.clone(),
            svg: format!("{stem}.svg"),
            png: format!("{stem}.png"),
        });
    }
    Ok(out)
}

fn mode_color(m: SnapshotMode) -> Rgb {
    match m {
        SnapshotMode::Live => Rgb::GREEN,
        SnapshotMode::Full => Rgb::RED,
        SnapshotMode::Background => Rgb::PURPLE,
    }
}

/// The gaps the ping loop and the in-box ticker saw, on the lane's time
/// axis (seconds after it began measuring), a panel per runtime,
/// each snapshot's window (start → the box runs again) shaded in its
/// mode's colour. Between samples nothing observes, so the lines break
/// there (NaN). None when no runtime recorded a timeline. Pure.
pub fn gap_timeline(fs: &[&BoxFinding]) -> Option<TimelineSpec> {
    let mut panels = Vec::new();
    for f in fs {
        let Some(r) = &f.snapshot else { continue };
        let mut host = Vec::new();
        let mut guest = Vec::new();
        let mut ranges = Vec::new();
        let mut labelled = Vec::new();
        for s in &r.samples {
            let put = |into: &mut Vec<(f64, f64)>, pts: &[[f64; 2]]| {
                into.extend(pts.iter().map(|p| (s.at_s + p[0], p[1] * 1e3)));
                into.push((f64::NAN, f64::NAN));
            };
            put(&mut host, &s.host_gaps);
            put(&mut guest, &s.guest_gaps);
            // Label each mode's window once: many labels would overlap.
            let label = if labelled.contains(&s.mode) {
                String::new()
            } else {
                labelled.push(s.mode);
                s.mode.name().to_string()
            };
            ranges.push(
                XRange::new(s.at_s, s.at_s + s.caller_s, label).with_color(mode_color(s.mode)),
            );
        }
        let mut series = Vec::new();
        if guest.iter().any(|p| p.0.is_finite()) {
            series.push(Series::new("gap between ticker stamps in the box", guest));
        }
        if host.iter().any(|p| p.0.is_finite()) {
            series.push(Series::new("gap between ping answers (host)", host));
        }
        if series.is_empty() {
            continue;
        }
        panels.push(Panel {
            title: format!("{} (ticker every {} µs)", name(f), r.tick_us),
            y_label: "gap (ms)".into(),
            y_scale: Scale::Log10,
            series,
            x_ranges: ranges,
            ..Default::default()
        });
    }
    (!panels.is_empty()).then(|| TimelineSpec {
        title: "Gaps seen during snapshots (shaded: snapshot windows)".into(),
        x_label: "seconds after the lane began measuring".into(),
        panels,
        ..Default::default()
    })
}
