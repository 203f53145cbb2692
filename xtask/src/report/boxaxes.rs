//! The axes lanes (stability, burst) in words, one table with a column per
//! runtime, and charts: the exec loop in order (drift is visible as a
//! slope), parallel and restart distributions, burst starts against the
//! single-box cold start.

use super::boxes::{box_name, ms};
use super::charts::ChartRef;
use crate::results::boxaxes::{BoxDeath, ParallelMode, SoakResult};
use crate::results::boxes::{BoxFinding, Quantiles};
use crate::results::leaks::verdict_word;
use crate::rundir::RunDir;
use crate::units::ByteUnit;
use anyhow::Result;
use runcost_charts::{LinesSpec, Scale, Series};
use runcost_stats::DriftVerdict;
use std::fmt::Write;

pub fn drift_word(v: DriftVerdict) -> &'static str {
    match v {
        DriftVerdict::Drifts => "DRIFTS",
        DriftVerdict::Stable => "STABLE",
        DriftVerdict::Inconclusive => "INCONCLUSIVE",
    }
}

fn q(q: &Option<Quantiles>, at: f64) -> String {
    q.as_ref()
        .and_then(|q| q.get(at))
        .map(|x| format!("{}{}", ms(x.value), if x.quotable { "" } else { "*" }))
        .unwrap_or_else(|| "—".into())
}

fn qmax(q: &Option<Quantiles>) -> String {
    q.as_ref().map(|q| ms(q.max)).unwrap_or_else(|| "—".into())
}

fn section_word(s: crate::results::boxaxes::AxisSection) -> &'static str {
    use crate::results::boxaxes::AxisSection as S;
    match s {
        S::ExecLoop => "exec loop",
        S::ParallelExec => "parallel exec",
        S::RestartLoop => "restart loop",
        S::BurstSingle => "single box",
        S::Burst => "burst box",
        S::IdleBoxes => "idle boxes",
        S::Pressure => "pressure box",
        S::Soak => "soak",
    }
}

fn deaths_words(d: &[BoxDeath]) -> String {
    if d.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = d
        .iter()
        .map(|d| format!("{} #{}: {}", section_word(d.section), d.index + 1, d.cause))
        .collect();
    format!(" {} box(es) died: {}.", d.len(), parts.join("; "))
}

/// KiB per minute of a bytes/s slope.
fn kib_min(bps: f64) -> f64 {
    bps * 60.0 / 1024.0
}

/// "LEAK (+1234 KiB/min [1100, 1400])" of a soak, or why there is none.
pub fn soak_words(s: &SoakResult) -> String {
    match (&s.test, &s.note) {
        (Some(t), _) => format!(
            "{} ({:+.0} KiB/min [{:.0}, {:.0}], floor {:.0})",
            verdict_word(t.verdict),
            kib_min(t.slope),
            kib_min(t.slope_lower),
            kib_min(t.slope_upper),
            kib_min(t.slope_floor)
        ),
        (None, Some(n)) => format!("no verdict ({n})"),
        _ => "no verdict".into(),
    }
}

/// The verdict line of a stability or burst finding.
pub fn words(who: &str, f: &BoxFinding) -> String {
    if let Some(s) = &f.stability {
        let drift = match (&s.drift, &s.drift_note) {
            (Some(t), _) => format!(
                "{} (rise {:+.1} % of the median over {} execs, floor {:.0} %)",
                drift_word(t.verdict),
                t.relative_rise * 100.0,
                t.n,
                s.drift_rel_floor * 100.0
            ),
            (None, Some(n)) => format!("no drift verdict ({n})"),
            _ => "no drift verdict".into(),
        };
        let restart = match &s.restart_skipped {
            Some(why) => format!("restart SKIPPED: {why}"),
            None => format!(
                "restart (stop → start → exec) p50 {} over {}",
                q(&s.restart_q, 0.5),
                s.restart_s.len()
            ),
        };
        let soak = match (&s.soak, &s.soak_skipped) {
            (Some(k), _) => format!(
                "; soak {:.0} s{}: host PSS {}, exec p50 {}",
                k.ran_s,
                if k.planted_leak_bytes_per_s.is_some() {
                    " with a PLANTED leak"
                } else {
                    ""
                },
                soak_words(k),
                q(&k.exec_q, 0.5)
            ),
            (None, Some(why)) => format!("; soak SKIPPED: {why}"),
            _ => String::new(),
        };
        return format!(
            "{who}: exec loop p50 {}, p99 {}, {drift}; {} at once{} p50 {}, max {}; {restart}{soak}.{}",
            q(&s.exec_q, 0.5),
            q(&s.exec_q, 0.99),
            s.parallel,
            if s.parallel_mode == ParallelMode::Queued {
                " (queued on the agent)"
            } else {
                ""
            },
            q(&s.parallel_q, 0.5),
            qmax(&s.parallel_q),
            deaths_words(&s.deaths)
        );
    }
    if let Some(b) = &f.burst {
        let ratio = |r: Option<f64>| r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "—".into());
        return format!(
            "{who}: {} boxes at once: start max {}, mean {} ({} and {} the single-box cold start p50 {}).{}",
            b.boxes,
            b.burst_max_s.map(ms).unwrap_or_else(|| "—".into()),
            b.burst_mean_s.map(ms).unwrap_or_else(|| "—".into()),
            ratio(b.ratio_max),
            ratio(b.ratio_mean),
            q(&b.single_q, 0.5),
            deaths_words(&b.deaths)
        );
    }
    if let Some(r) = &f.resource {
        return format!(
            "{who}: idle host PSS {} (RSS {}), {:.3} cores over {:.0} s; one busy vCPU costs the host {} CPU s per box CPU s.",
            ByteUnit::MiB.show(r.idle_pss_bytes as f64, 1),
            ByteUnit::MiB.show(r.idle_rss_bytes as f64, 1),
            r.idle_cores,
            r.window_s,
            match (r.host_cpu_per_box_cpu, &r.busy_note) {
                (Some(c), _) => format!("{c:.2}"),
                (None, Some(n)) => format!("— ({n})"),
                _ => "—".into(),
            }
        );
    }
    if let Some(t) = &f.throughput {
        let part = |name: &str, v: &[f64], skipped: &Option<String>| match skipped {
            Some(why) => format!("{name} SKIPPED ({why})"),
            None => format!("{name} {}", rate_words(v)),
        };
        return format!(
            "{who}: {} MiB × {}: {}, {}; {}, {} ({}); {}.{}",
            t.size_bytes >> 20,
            t.repeats,
            part("disk write", &t.write_bps, &t.disk_skipped),
            part("read", &t.read_bps, &t.disk_skipped),
            part("copy in", &t.copy_in_bps, &t.copy_skipped),
            part("out", &t.copy_out_bps, &t.copy_skipped),
            t.copy_path,
            part("host → box TCP", &t.tcp_bps, &t.tcp_skipped)
                + &t.tcp_path
                    .as_ref()
                    .filter(|_| t.tcp_skipped.is_none())
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default(),
            t.disk_limit_bps
                .map(|l| format!(
                    " Disk limited to {}/s by the profile.",
                    ByteUnit::MiB.show(l as f64, 1)
                ))
                .unwrap_or_default()
        );
    }
    format!("{who}: no result.")
}

/// Median of a rate sample, in MiB/s.
fn median(v: &[f64]) -> Option<f64> {
    runcost_stats::percentile_nearest_rank(v, 0.5).ok()
}

/// "median MiB/s (min–max)" of bytes/s samples; "—" when empty.
fn rate_words(v: &[f64]) -> String {
    let Some(m) = median(v) else {
        return "—".into();
    };
    let mib = |x: f64| x / f64::from(1u32 << 20);
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if v.len() == 1 {
        format!("{:.1} MiB/s", mib(m))
    } else {
        format!("{:.1} MiB/s ({:.1}–{:.1})", mib(m), mib(lo), mib(hi))
    }
}

/// One table, a column per runtime.
pub fn markdown(s: &mut String, fs: &[&BoxFinding]) {
    let col =
        |g: &dyn Fn(&BoxFinding) -> String| -> Vec<String> { fs.iter().map(|f| g(f)).collect() };
    let mut rows: Vec<(&str, Vec<String>)> = vec![(
        "status",
        col(&|f| match &f.env.failed {
            Some(w) => format!("**fails**: {w}"),
            None => "works".into(),
        }),
    )];
    if fs.iter().any(|f| f.stability.is_some()) {
        let st = |g: &dyn Fn(&crate::results::boxaxes::StabilityResult) -> String| {
            col(&|f| f.stability.as_ref().map(g).unwrap_or_else(|| "—".into()))
        };
        rows.extend([
            ("exec loop n", st(&|s| s.exec_loop.len().to_string())),
            ("exec loop p50", st(&|s| q(&s.exec_q, 0.5))),
            ("exec loop p99", st(&|s| q(&s.exec_q, 0.99))),
            (
                "drift",
                st(&|s| match &s.drift {
                    Some(t) => format!(
                        "{} ({:+.1} %)",
                        drift_word(t.verdict),
                        t.relative_rise * 100.0
                    ),
                    None => s.drift_note.clone().unwrap_or_default(),
                }),
            ),
            (
                "parallel execs",
                st(&|s| {
                    format!(
                        "{} × {} ({:?})",
                        s.parallel_rounds, s.parallel, s.parallel_mode
                    )
                    .to_lowercase()
                }),
            ),
            ("parallel p50", st(&|s| q(&s.parallel_q, 0.5))),
            ("parallel max", st(&|s| qmax(&s.parallel_q))),
            (
                "restart p50",
                st(&|s| match &s.restart_skipped {
                    Some(_) => "SKIPPED".into(),
                    None => q(&s.restart_q, 0.5),
                }),
            ),
            (
                "restart max",
                st(&|s| match &s.restart_skipped {
                    Some(_) => "SKIPPED".into(),
                    None => qmax(&s.restart_q),
                }),
            ),
        ]);
        if fs
            .iter()
            .any(|f| f.stability.as_ref().is_some_and(|s| s.soak.is_some()))
        {
            let sk = |g: &dyn Fn(&SoakResult) -> String| {
                st(&|s| match (&s.soak, &s.soak_skipped) {
                    (Some(k), _) => g(k),
                    (None, Some(_)) => "SKIPPED".into(),
                    _ => "—".into(),
                })
            };
            rows.extend([
                (
                    "soak",
                    sk(&|k| {
                        format!(
                            "{:.0} s, {} readings{}",
                            k.ran_s,
                            k.samples.len(),
                            k.planted_leak_bytes_per_s
                                .map(|r| format!(", PLANTED {} KiB/s", r >> 10))
                                .unwrap_or_default()
                        )
                    }),
                ),
                (
                    "soak host PSS",
                    sk(&|k| {
                        let (a, b) = (k.samples.first(), k.samples.last());
                        match (a, b) {
                            (Some(a), Some(b)) => format!(
                                "{} → {}",
                                ByteUnit::MiB.show(a.pss_bytes as f64, 1),
                                ByteUnit::MiB.show(b.pss_bytes as f64, 1)
                            ),
                            _ => "—".into(),
                        }
                    }),
                ),
                (
                    "soak slope (KiB/min)",
                    sk(&|k| match &k.test {
                        Some(t) => format!(
                            "{:+.0} [{:.0}, {:.0}]",
                            kib_min(t.slope),
                            kib_min(t.slope_lower),
                            kib_min(t.slope_upper)
                        ),
                        None => "—".into(),
                    }),
                ),
                (
                    "soak verdict",
                    sk(&|k| match &k.test {
                        Some(t) => verdict_word(t.verdict).to_string(),
                        None => k.note.clone().unwrap_or_default(),
                    }),
                ),
                ("soak exec p50", sk(&|k| q(&k.exec_q, 0.5))),
                ("soak exec p99", sk(&|k| q(&k.exec_q, 0.99))),
            ]);
        }
        rows.push(("boxes died", st(&|s| s.deaths.len().to_string())));
    }
    if fs.iter().any(|f| f.burst.is_some()) {
        let bu = |g: &dyn Fn(&crate::results::boxaxes::BurstResult) -> String| {
            col(&|f| f.burst.as_ref().map(g).unwrap_or_else(|| "—".into()))
        };
        let opt =
            |v: Option<f64>, k: &dyn Fn(f64) -> String| v.map(k).unwrap_or_else(|| "—".into());
        rows.extend([
            ("single cold start p50", bu(&|b| q(&b.single_q, 0.5))),
            (
                "burst boxes up",
                bu(&|b| format!("{} of {}", b.burst_s.len(), b.boxes)),
            ),
            ("burst start max", bu(&|b| opt(b.burst_max_s, &ms))),
            ("burst start mean", bu(&|b| opt(b.burst_mean_s, &ms))),
            (
                "max / single",
                bu(&|b| opt(b.ratio_max, &|r| format!("{r:.2}×"))),
            ),
            (
                "mean / single",
                bu(&|b| opt(b.ratio_mean, &|r| format!("{r:.2}×"))),
            ),
        ]);
    }
    if fs.iter().any(|f| f.resource.is_some()) {
        let re = |g: &dyn Fn(&crate::results::boxaxes::ResourceResult) -> String| {
            col(&|f| f.resource.as_ref().map(g).unwrap_or_else(|| "—".into()))
        };
        rows.extend([
            ("host processes", re(&|r| r.host_processes.to_string())),
            (
                "idle host PSS",
                re(&|r| ByteUnit::MiB.show(r.idle_pss_bytes as f64, 1)),
            ),
            (
                "idle host RSS",
                re(&|r| ByteUnit::MiB.show(r.idle_rss_bytes as f64, 1)),
            ),
            ("idle host cores", re(&|r| format!("{:.3}", r.idle_cores))),
            (
                "host CPU s per busy box CPU s",
                re(&|r| match (r.host_cpu_per_box_cpu, &r.busy_note) {
                    (Some(c), _) => format!("{c:.2}"),
                    (None, Some(n)) => format!("— ({n})"),
                    _ => "—".into(),
                }),
            ),
            (
                "host PSS while busy",
                re(&|r| ByteUnit::MiB.show(r.busy_pss_bytes as f64, 1)),
            ),
        ]);
        let mib = |v: f64| ByteUnit::MiB.show(v, 1);
        if fs
            .iter()
            .any(|f| f.resource.as_ref().is_some_and(|r| r.idle_boxes.is_some()))
        {
            let ib = |g: &dyn Fn(&crate::results::boxaxes::IdleBoxesResult) -> String| {
                re(&|r| r.idle_boxes.as_ref().map(g).unwrap_or_else(|| "—".into()))
            };
            rows.extend([
                (
                    "idle boxes up",
                    ib(&|i| format!("{} of {}", i.pss_bytes.len(), i.boxes)),
                ),
                (
                    "idle boxes: PSS sum (RSS sum)",
                    ib(&|i| {
                        format!(
                            "{} ({})",
                            mib(i.sum_pss_bytes as f64),
                            mib(i.sum_rss_bytes as f64)
                        )
                    }),
                ),
                (
                    "idle boxes: PSS per box mean / max",
                    ib(&|i| match (i.mean_pss_bytes, i.max_pss_bytes) {
                        (Some(m), Some(x)) => format!("{} / {}", mib(m), mib(x as f64)),
                        _ => "—".into(),
                    }),
                ),
                (
                    "idle boxes: mean / one box alone",
                    ib(&|i| {
                        i.mean_to_single
                            .map(|r| format!("{r:.2}×"))
                            .unwrap_or_else(|| "—".into())
                    }),
                ),
            ]);
        }
        if fs
            .iter()
            .any(|f| f.resource.as_ref().is_some_and(|r| r.pressure.is_some()))
        {
            let pr = |g: &dyn Fn(&crate::results::boxaxes::PressureResult) -> String| {
                re(&|r| r.pressure.as_ref().map(g).unwrap_or_else(|| "—".into()))
            };
            rows.push((
                "pressure limit",
                pr(&|p| match &p.skipped {
                    Some(_) => "SKIPPED".into(),
                    None => mib(p.limit_bytes as f64),
                }),
            ));
            for (i, f) in crate::lanes::boxes::resource::LADDER.iter().enumerate() {
                let label: &'static str = match i {
                    0 => "pressure 50 %: exit, peak host PSS",
                    _ => "pressure 150 %: exit, peak host PSS",
                };
                debug_assert!(label.contains(&format!("{:.0} %", f * 100.0)));
                rows.push((
                    label,
                    pr(&|p| match (&p.skipped, p.steps.get(i)) {
                        (Some(_), _) => "SKIPPED".into(),
                        (None, Some(s)) => format!(
                            "{}{}, {}",
                            s.exit_code,
                            if s.killed { " (killed)" } else { "" },
                            mib(s.peak_pss_bytes as f64)
                        ),
                        (None, None) if p.death.is_some() => "box died".into(),
                        (None, None) => "—".into(),
                    }),
                ));
            }
        }
    }
    if fs.iter().any(|f| f.throughput.is_some()) {
        let tp = |g: &dyn Fn(&crate::results::boxaxes::ThroughputResult) -> String| {
            col(&|f| f.throughput.as_ref().map(g).unwrap_or_else(|| "—".into()))
        };
        let or_skip = |v: &[f64], why: &Option<String>| match why {
            Some(_) => "SKIPPED".to_string(),
            None => rate_words(v),
        };
        rows.extend([
            (
                "size × repeats",
                tp(&|t| format!("{} MiB × {}", t.size_bytes >> 20, t.repeats)),
            ),
            ("disk", tp(&|t| t.disk_target.clone())),
            (
                "disk limit",
                tp(&|t| {
                    t.disk_limit_bps
                        .map(|l| format!("{}/s", ByteUnit::MiB.show(l as f64, 1)))
                        .unwrap_or_else(|| "none".into())
                }),
            ),
            (
                "disk write",
                tp(&|t| or_skip(&t.write_bps, &t.disk_skipped)),
            ),
            ("disk read", tp(&|t| or_skip(&t.read_bps, &t.disk_skipped))),
            ("copy in", tp(&|t| or_skip(&t.copy_in_bps, &t.copy_skipped))),
            (
                "copy out",
                tp(&|t| or_skip(&t.copy_out_bps, &t.copy_skipped)),
            ),
            (
                "host → box TCP",
                tp(&|t| or_skip(&t.tcp_bps, &t.tcp_skipped)),
            ),
        ]);
    }
    let _ = writeln!(
        s,
        "| | {} |\n|---|{}",
        fs.iter()
            .map(|f| box_name(f))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(fs.len())
    );
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {} |", v.join(" | "));
    }
    s.push('\n');
    for f in fs {
        for d in f
            .stability
            .iter()
            .flat_map(|s| &s.deaths)
            .chain(f.burst.iter().flat_map(|b| &b.deaths))
            .chain(f.resource.iter().flat_map(|r| {
                r.idle_boxes
                    .iter()
                    .flat_map(|i| &i.deaths)
                    .chain(r.pressure.iter().flat_map(|p| &p.death))
            }))
        {
            let _ = writeln!(
                s,
                "- {}: box died in the {} at #{}: {}",
                box_name(f),
                section_word(d.section),
                d.index + 1,
                d.cause
            );
        }
        if let Some(r) = &f.resource {
            if let Some(p) = &r.pressure {
                match &p.skipped {
                    Some(why) => {
                        let _ = writeln!(s, "- {}: pressure SKIPPED: {why}", box_name(f));
                    }
                    None => {
                        let _ = writeln!(
                            s,
                            "- {}: pressure limit: {}{}; host PSS sampled every {} ms",
                            box_name(f),
                            p.how,
                            p.guest_available_bytes
                                .map(|a| format!(
                                    " (the guest has {} available)",
                                    ByteUnit::MiB.show(a as f64, 1)
                                ))
                                .unwrap_or_default(),
                            p.sample_ms
                        );
                    }
                }
            }
        }
        if let Some(why) = f
            .stability
            .as_ref()
            .and_then(|s| s.restart_skipped.as_ref())
        {
            let _ = writeln!(s, "- {}: restart loop SKIPPED: {why}", box_name(f));
        }
        if let Some(k) = f.stability.as_ref().and_then(|s| s.soak.as_ref()) {
            let _ = writeln!(
                s,
                "- {}: soak: one `{}` every {:.0} ms, host PSS of {} process(es) every {:.0} ms, the first {:.0} s left out of the fit{}",
                box_name(f),
                k.command.join(" "),
                k.exec_period_s * 1e3,
                k.host_processes,
                k.sample_period_s * 1e3,
                k.warmup_s,
                k.planted_leak_bytes_per_s
                    .map(|r| format!("; a leak of {} KiB/s was PLANTED in the box (calibration)", r >> 10))
                    .unwrap_or_default()
            );
        }
        if let Some(t) = &f.throughput {
            let _ = writeln!(
                s,
                "- {}: disk: {}; copies: {}",
                box_name(f),
                t.disk_method,
                t.copy_path
            );
            for (what, why) in [
                ("disk", &t.disk_skipped),
                ("copy", &t.copy_skipped),
                ("host → box TCP", &t.tcp_skipped),
            ] {
                if let Some(why) = why {
                    let _ = writeln!(s, "- {}: {what} SKIPPED: {why}", box_name(f));
                }
            }
        }
    }
    s.push_str(
        "\nDrift: OLS slope of the exec loop with an autocorrelation-corrected interval and a Mann–Kendall check (runcost_stats::drift_test); DRIFTS or STABLE only where the interval clears the floor. Soak: OLS slope of host PSS over time after the warm-up, same interval and check (runcost_stats::leak_test); LEAK or NO LEAK only where the interval clears the floor. Values marked * are below the sample count their percentile needs and are indicative only.\n",
    );
}

/// What a chart draws of one finding: its points, if it has the figure.
type Points<'a> = dyn Fn(&BoxFinding) -> Option<Vec<(f64, f64)>> + 'a;

pub fn charts(
    run: &RunDir,
    lane: crate::results::LaneKind,
    fs: &[&BoxFinding],
) -> Result<Vec<ChartRef>> {
    let mut out = Vec::new();
    let mut draw = |name: &str, spec: LinesSpec| -> Result<()> {
        if spec.series.iter().all(|s| s.points.is_empty()) {
            return Ok(());
        }
        super::boxes::draw_lines(run, lane, name, &spec, &mut out)
    };
    let distribution = |xs: &[f64]| -> Vec<(f64, f64)> {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        v.iter()
            .enumerate()
            .map(|(i, y)| ((i as f64 + 0.5) / n * 100.0, *y * 1e3))
            .collect()
    };
    let ok: Vec<&&BoxFinding> = fs.iter().filter(|f| f.env.failed.is_none()).collect();
    let series = |g: &Points<'_>| -> Vec<Series> {
        ok.iter()
            .filter_map(|f| Some(Series::new(box_name(f), g(f)?)))
            .collect()
    };
    if ok.iter().any(|f| f.stability.is_some()) {
        draw(
            "loop",
            LinesSpec {
                title: "Exec loop in order (a drift is a slope)".into(),
                x_label: "exec #".into(),
                y_label: "milliseconds".into(),
                y_scale: Scale::Log10,
                series: series(&|f| {
                    let s = f.stability.as_ref()?;
                    Some(
                        s.exec_loop
                            .iter()
                            .enumerate()
                            .map(|(i, y)| (i as f64, y * 1e3))
                            .collect(),
                    )
                }),
                ..Default::default()
            },
        )?;
        draw(
            "parallel",
            LinesSpec {
                title: "Execs issued at once: issue → completion".into(),
                x_label: "share of execs (%)".into(),
                y_label: "milliseconds".into(),
                y_scale: Scale::Log10,
                series: series(&|f| Some(distribution(&f.stability.as_ref()?.parallel_s))),
                ..Default::default()
            },
        )?;
        draw(
            "restart",
            LinesSpec {
                title: "Restart of one box (stop → start → first exec)".into(),
                x_label: "share of restarts (%)".into(),
                y_label: "milliseconds".into(),
                y_scale: Scale::Log10,
                point_markers: true,
                series: series(&|f| Some(distribution(&f.stability.as_ref()?.restart_s))),
                ..Default::default()
            },
        )?;
    }
    if ok
        .iter()
        .any(|f| f.stability.as_ref().is_some_and(|s| s.soak.is_some()))
    {
        draw(
            "soak",
            LinesSpec {
                title: "Soak: host PSS of the box under a steady exec stream".into(),
                x_label: "seconds".into(),
                y_label: "MiB".into(),
                y_scale: Scale::Linear,
                series: series(&|f| {
                    let k = f.stability.as_ref()?.soak.as_ref()?;
                    Some(
                        k.samples
                            .iter()
                            .map(|p| (p.t_s, p.pss_bytes as f64 / f64::from(1u32 << 20)))
                            .collect(),
                    )
                }),
                caption: Some(
                    "The first fifth of each soak (at least 10 s) is warm-up, left out of the slope."
                        .into(),
                ),
                ..Default::default()
            },
        )?;
    }
    if ok.iter().any(|f| f.throughput.is_some()) {
        // One series per runtime and part: each repeat's rate in order.
        let mut ss = Vec::new();
        for f in &ok {
            let Some(t) = &f.throughput else { continue };
            for (part, v) in [
                ("write", &t.write_bps),
                ("read", &t.read_bps),
                ("copy in", &t.copy_in_bps),
                ("copy out", &t.copy_out_bps),
                ("TCP", &t.tcp_bps),
            ] {
                if v.is_empty() {
                    continue;
                }
                let pts = v
                    .iter()
                    .enumerate()
                    .map(|(i, y)| ((i + 1) as f64, y / f64::from(1u32 << 20)))
                    .collect();
                ss.push(Series::new(format!("{} {part}", box_name(f)), pts));
            }
        }
        draw(
            "rates",
            LinesSpec {
                title: "Data rates per repeat (higher is better)".into(),
                x_label: "repeat #".into(),
                y_label: "MiB/s".into(),
                y_scale: Scale::Log10,
                point_markers: true,
                series: ss,
                ..Default::default()
            },
        )?;
    }
    if ok.iter().any(|f| f.burst.is_some()) {
        let mut ss = series(&|f| Some(distribution(&f.burst.as_ref()?.burst_s)));
        for s in &mut ss {
            s.name = format!("{} burst", s.name);
        }
        let mut single = series(&|f| Some(distribution(&f.burst.as_ref()?.single_s)));
        for s in &mut single {
            s.name = format!("{} alone", s.name);
        }
        ss.extend(single);
        draw(
            "burst",
            LinesSpec {
                title: "Start (create → first exec): burst against one box alone".into(),
                x_label: "share of boxes (%)".into(),
                y_label: "milliseconds".into(),
                y_scale: Scale::Log10,
                point_markers: true,
                series: ss,
                ..Default::default()
            },
        )?;
    }
    Ok(out)
}
