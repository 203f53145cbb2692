//! The fault lane's section: per-repeat table, verdict, and a timeline per
//! repeat with the burst marked, the recovery band drawn, and the client's
//! latency beneath.

use super::charts::ChartRef;
use super::csv::parse_samples_csv;
use crate::lanes::recovery::Recovery;
use crate::results::fault::{FaultFinding, RecoveryOutcome, RetainVerdict};
use crate::results::RunRecord;
use crate::rundir::RunDir;
use crate::units::ByteUnit;
use anyhow::{Context, Result};
use runcost_charts::{timeline, Panel, Rgb, Series, TimelineSpec, XRange, YBand};
use std::fmt::Write;

/// The judged metrics (as the table names them) with the given outcome, or
/// every judged metric when `only` is None.
fn judged_names(f: &FaultFinding, only: Option<RecoveryOutcome>) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (name, r) in f.repeats.iter().flat_map(|r| r.judged()) {
        if only.is_none_or(|o| r.outcome() == o) && !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(" and ")
}

pub fn words(f: &FaultFinding) -> String {
    let judged = f.repeats.iter().filter(|r| !r.judged().is_empty()).count();
    let all = judged_names(f, None);
    let band = f.band_frac * 100.0;
    match f.verdict {
        RetainVerdict::Recovered => format!(
            "RECOVERED: after a burst of {} × `{}`, {all} came back within ±{band:.0} % of the baseline in all {judged} repeat(s).",
            f.burst, f.action,
        ),
        RetainVerdict::Retained => format!(
            "RETAINED: after a burst of {} × `{}`, {} stayed above ±{band:.0} % of the baseline to the window's end in at least one of {judged} repeat(s): the service keeps what the fault cost.",
            f.burst, f.action, judged_names(f, Some(RecoveryOutcome::Retained)),
        ),
        RetainVerdict::NotRecovered => format!(
            "NOT RECOVERED: after a burst of {} × `{}`, {} did not come back within ±{band:.0} % of the baseline in at least one of {judged} repeat(s) without being kept above it: it ended below the baseline (fewer processes came back) or never settled.",
            f.burst, f.action, judged_names(f, Some(RecoveryOutcome::NotRecovered)),
        ),
        RetainVerdict::Unknown => format!("UNKNOWN: no repeat of `{}` could be judged.", f.action),
    }
}

/// The verdict in a word, for summaries.
pub fn short(f: &FaultFinding) -> String {
    match f.verdict {
        RetainVerdict::Recovered => "RECOVERED",
        RetainVerdict::Retained => "RETAINED",
        RetainVerdict::NotRecovered => "NOT RECOVERED",
        RetainVerdict::Unknown => "UNKNOWN",
    }
    .into()
}

/// A "recovered after" cell, from the outcome the verdict judges.
fn after(r: &Recovery) -> String {
    match (r.outcome(), r.recovered_after_s) {
        (RecoveryOutcome::Recovered, Some(x)) => format!("{x:.2} s"),
        (RecoveryOutcome::Retained, _) => "**not recovered** (kept)".into(),
        (RecoveryOutcome::NotRecovered, _) if r.retained < -r.band => {
            "**not recovered** (below baseline)".into()
        }
        _ => "**not recovered**".into(),
    }
}

pub fn markdown(s: &mut String, f: &FaultFinding) {
    let _ = writeln!(s, "### Fault bursts\n");
    let _ = writeln!(s, "{}\n", words(f));
    let _ = writeln!(
        s,
        "| repeat | burst | USS baseline | peak Δ USS | USS recovered after | USS retained | peak Δ CPU | CPU recovered after | client: longest gap | errors | p50 before / during / after |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mib = |v: f64| ByteUnit::MiB.show(v, 2);
    for r in &f.repeats {
        let ms = |v: Option<f64>| {
            v.map(|x| format!("{x:.1} ms"))
                .unwrap_or_else(|| "—".into())
        };
        let _ = writeln!(
            s,
            "| {}{} | {:.2} s | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} / {} / {} |",
            r.cell,
            r.died_at
                .map(|t| format!(" (target died at t={t:.2} s)"))
                .unwrap_or_default(),
            r.burst.1 - r.burst.0,
            r.uss
                .as_ref()
                .map(|u| mib(u.baseline))
                .unwrap_or_else(|| "—".into()),
            r.uss
                .as_ref()
                .map(|u| mib(u.peak_delta))
                .unwrap_or_else(|| "—".into()),
            r.uss.as_ref().map(after).unwrap_or_else(|| "—".into()),
            r.uss
                .as_ref()
                .map(|u| mib(u.retained))
                .unwrap_or_else(|| "—".into()),
            r.cpu
                .as_ref()
                .map(|c| format!("{:.3} cores", c.peak_delta))
                .unwrap_or_else(|| "—".into()),
            r.cpu.as_ref().map(after).unwrap_or_else(|| "—".into()),
            r.probe
                .longest_gap_s
                .map(|g| format!("{g:.2} s"))
                .unwrap_or_else(|| "—".into()),
            r.probe.errors,
            r.probe.sent,
            ms(r.probe.p50_before_ms),
            ms(r.probe.p50_during_ms),
            ms(r.probe.p50_after_ms),
        );
    }
    if f.repeats
        .iter()
        .any(|r| r.cgroup_mem.is_some() || r.cgroup_cpu.is_some() || r.procs_max.is_some())
    {
        let _ = writeln!(s, "\nThe container as a whole (its cgroup: forked processes, shared memory and page cache included):\n");
        let _ = writeln!(
            s,
            "| repeat | processes min–max | cgroup memory baseline | peak Δ cgroup memory | cgroup memory recovered after | cgroup memory retained | peak Δ cgroup CPU | cgroup CPU recovered after |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in &f.repeats {
            let m = |g: &dyn Fn(&Recovery) -> String| {
                r.cgroup_mem.as_ref().map(g).unwrap_or_else(|| "—".into())
            };
            let c = |g: &dyn Fn(&Recovery) -> String| {
                r.cgroup_cpu.as_ref().map(g).unwrap_or_else(|| "—".into())
            };
            let procs = match (r.procs_min, r.procs_max) {
                (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
                _ => "—".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {procs} | {} | {} | {} | {} | {} | {} |",
                r.cell,
                m(&|x| mib(x.baseline)),
                m(&|x| mib(x.peak_delta)),
                m(&after),
                m(&|x| mib(x.retained)),
                c(&|x| format!("{:.3} cores", x.peak_delta)),
                c(&after),
            );
        }
    }
    for r in &f.repeats {
        if let Some(g) = r.sample_gap_s.filter(|g| *g > 0.5) {
            let _ = writeln!(
                s,
                "\n{}: the target could not be read for {g:.2} s after the burst (its processes were replaced); the sampler found the new ones and went on.",
                r.cell
            );
        }
    }
    if f.repeats.iter().any(|r| !r.processes.is_empty()) {
        let _ = writeln!(s, "\nEach named process on its own:\n");
        let _ = writeln!(
            s,
            "| repeat | process | USS baseline | peak Δ USS | USS recovered after | USS retained | peak Δ CPU | CPU recovered after |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
        for r in &f.repeats {
            for p in &r.processes {
                let u = |g: &dyn Fn(&Recovery) -> String| {
                    p.uss.as_ref().map(g).unwrap_or_else(|| "—".into())
                };
                let c = |g: &dyn Fn(&Recovery) -> String| {
                    p.cpu.as_ref().map(g).unwrap_or_else(|| "—".into())
                };
                let _ = writeln!(
                    s,
                    "| {} | `{}` | {} | {} | {} | {} | {} | {} |",
                    r.cell,
                    p.name,
                    u(&|x| mib(x.baseline)),
                    u(&|x| mib(x.peak_delta)),
                    u(&|x| after(x)),
                    u(&|x| mib(x.retained)),
                    c(&|x| format!("{:.3} cores", x.peak_delta)),
                    c(&|x| after(x)),
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "\nRecovered after: seconds from the burst's end until the metric entered ±{:.0} % of its pre-fault baseline (at least 1 MiB, 0.02 cores) and stayed there to the window's end. The client probes the ready endpoint at {:.0}/s throughout; the longest gap is between two successful answers.\n",
        f.band_frac * 100.0,
        f.repeats.first().map(|r| r.probe.rate_per_s).unwrap_or(0.0)
    );
}

pub fn charts(run: &RunDir, record: &RunRecord, f: &FaultFinding) -> Result<Vec<ChartRef>> {
    let mut out = Vec::new();
    for r in &f.repeats {
        let csv = run.path(&format!("samples/{}.csv", r.cell));
        let Ok(text) = std::fs::read_to_string(&csv) else {
            continue;
        };
        let samples =
            parse_samples_csv(&text).with_context(|| format!("parse {}", csv.display()))?;
        let probe: Vec<(f64, f64)> = r
            .probe
            .answers_csv
            .as_ref()
            .and_then(|p| std::fs::read_to_string(run.path(p)).ok())
            .map(|t| {
                t.lines()
                    .skip(1)
                    .filter_map(|l| {
                        let f: Vec<&str> = l.split(',').collect();
                        let (t, ok, ms) = (
                            f.first()?.parse().ok()?,
                            *f.get(1)? == "1",
                            f.get(2)?.parse().ok()?,
                        );
                        Some((t, if ok { ms } else { f64::NAN }))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut memory = Panel {
            title: "memory".into(),
            y_label: "MiB".into(),
            y_include_zero: true,
            series: vec![
                Series::new(
                    "USS",
                    samples
                        .iter()
                        .map(|s| (s.t, ByteUnit::MiB.of(s.value.uss as f64)))
                        .collect(),
                ),
                Series::new(
                    "RSS",
                    samples
                        .iter()
                        .map(|s| (s.t, ByteUnit::MiB.of(s.value.rss as f64)))
                        .collect(),
                ),
            ],
            ..Default::default()
        };
        memory
            .series
            .extend(super::charts::mib_series("cgroup memory", &samples, |s| {
                s.value.cgroup_mem
            }));
        if let Some(c) = &r.cgroup_mem {
            memory.y_bands.push(YBand::new(
                ByteUnit::MiB.of(c.baseline - c.band),
                ByteUnit::MiB.of(c.baseline + c.band),
                "cgroup memory recovery band",
            ));
        }
        if let Some(u) = &r.uss {
            memory.y_bands.push(YBand::new(
                ByteUnit::MiB.of(u.baseline - u.band),
                ByteUnit::MiB.of(u.baseline + u.band),
                "USS recovery band",
            ));
        }
        let step = (record.settings.rate_hz.round() as usize).max(1);
        let cpu: Vec<Series> =
            super::charts::rate_series("CPU (processes)", &samples, step, |s| Some(s.value.cpu_s))
                .into_iter()
                .chain(super::charts::rate_series(
                    "CPU (container cgroup)",
                    &samples,
                    step,
                    |s| s.value.cgroup_cpu_s,
                ))
                .collect();
        let stem = format!("charts/{}-burst", r.cell);
        let spec = TimelineSpec {
            title: format!(
                "{} · {} · burst of {} × {}",
                record.profile.name, r.cell, f.burst, f.action
            ),
            panels: vec![
                memory,
                Panel {
                    title: "CPU (1 s rate)".into(),
                    y_label: "cores".into(),
                    y_include_zero: true,
                    series: cpu,
                    ..Default::default()
                },
                super::charts::procs_panel(&samples),
                Panel {
                    title: "client probe (failed answers leave gaps)".into(),
                    y_label: "latency ms".into(),
                    y_include_zero: true,
                    series: vec![Series::new("probe latency", probe)],
                    ..Default::default()
                },
            ],
            x_ranges: vec![
                XRange::new(r.burst.0, r.burst.1.max(r.burst.0 + 0.05), "burst")
                    .with_color(Rgb(214, 39, 40)),
            ],
            ..Default::default()
        };
        timeline(&run.path(&stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
        out.push(ChartRef {
            title: spec.title,
            svg: format!("{stem}.svg"),
            png: format!("{stem}.png"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::fault::{verdict, FaultRepeat, ProbeStats};

    fn rec(recovered_after_s: Option<f64>, retained: f64) -> Recovery {
        Recovery {
            baseline: 17.0 * 1048576.0,
            peak_delta: 5.0 * 1048576.0,
            peak_after_s: 1.0,
            recovered_after_s,
            left_band: true,
            retained,
            band: 1048576.0,
        }
    }

    fn finding(uss: Recovery, cgroup_mem: Option<Recovery>) -> FaultFinding {
        let repeats = vec![FaultRepeat {
            cell: "fault-r0".into(),
            burst: (3.0, 4.0),
            uss: Some(uss),
            rss: None,
            cpu: None,
            cgroup_mem,
            cgroup_cpu: None,
            procs_min: Some(1),
            procs_max: Some(6),
            probe: ProbeStats::default(),
            died_at: None,
            sample_gap_s: None,
            processes: vec![],
        }];
        FaultFinding {
            action: "engine restart".into(),
            burst: 1,
            band_frac: 0.05,
            verdict: verdict(&repeats),
            repeats,
        }
    }

    /// The verdict line and the table's row, from one rendering.
    fn rendered(f: &FaultFinding) -> (String, String) {
        let mut s = String::new();
        markdown(&mut s, f);
        let row = s
            .lines()
            .find(|l| l.starts_with("| fault-r0 |") && l.contains("s |"))
            .unwrap()
            .to_string();
        (words(f), row)
    }

    #[test]
    fn verdict_and_rows_agree() {
        let mib = 1048576.0;
        // Recovered: the row shows a time, the verdict RECOVERED.
        let f = finding(rec(Some(1.5), 0.1 * mib), None);
        let (w, row) = rendered(&f);
        assert_eq!(f.verdict, RetainVerdict::Recovered);
        assert!(
            w.starts_with("RECOVERED") && w.contains("USS came back"),
            "{w}"
        );
        assert!(
            row.contains("1.50 s") && !row.contains("not recovered"),
            "{row}"
        );

        // Kept above the band: RETAINED, and the row says not recovered.
        let f = finding(rec(None, 20.0 * mib), None);
        let (w, row) = rendered(&f);
        assert_eq!(f.verdict, RetainVerdict::Retained);
        assert!(w.starts_with("RETAINED"), "{w}");
        assert!(row.contains("**not recovered** (kept)"), "{row}");

        // Below the baseline (1 of 6 processes back after a restart): not
        // RECOVERED, as the row says.
        let f = finding(rec(None, -2.6 * mib), None);
        let (w, row) = rendered(&f);
        assert_eq!(f.verdict, RetainVerdict::NotRecovered);
        assert!(w.starts_with("NOT RECOVERED"), "{w}");
        assert!(row.contains("**not recovered** (below baseline)"), "{row}");

        // USS back, the cgroup's memory kept: the verdict judges both, and
        // the cgroup table's row says what the verdict says.
        let f = finding(rec(Some(0.5), 0.0), Some(rec(None, 70.0 * mib)));
        let mut s = String::new();
        markdown(&mut s, &f);
        assert_eq!(f.verdict, RetainVerdict::Retained);
        let w = words(&f);
        assert!(w.contains("`, cgroup memory stayed above"), "{w}");
        let cg = s
            .lines()
            .find(|l| l.starts_with("| fault-r0 | 1–6 |"))
            .unwrap();
        assert!(cg.contains("**not recovered** (kept)"), "{cg}");

        // Nothing judged.
        let mut f = finding(rec(Some(0.5), 0.0), None);
        f.repeats[0].uss = None;
        assert_eq!(verdict(&f.repeats), RetainVerdict::Unknown);
    }
}
