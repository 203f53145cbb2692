//! "Where the cost goes" in the run report: per cell, the top memory
//! categories and thread groups and a stacked chart of the categories over
//! the window; per lane, the categories of each cell stacked side by side
//! and, in scaling, each category's exponent.

use super::charts::ChartRef;
use crate::results::attrib::{AttributionFinding, CellAttribution};
use crate::results::{CellRecord, CellStatus, LaneRecord, RunRecord};
use crate::rundir::RunDir;
use crate::units::{ByteUnit, Bytes};
use anyhow::Result;
use runcost_charts::{Layer, StackedSpec};
use runcost_stats::powerlaw::ScalingOutcome;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Rows shown per table; the rest are summed in one row.
pub const TOP: usize = 6;

fn mib(b: f64) -> String {
    Bytes(b.max(0.0) as u64).to_string()
}

/// One outcome in a few words: `k = 1.01 [0.98, 1.04] LINEAR`.
pub fn outcome_short(o: &ScalingOutcome) -> String {
    match o {
        ScalingOutcome::NoVerdict { reason } => format!("no verdict: {reason}"),
        ScalingOutcome::NoGrowth(_) => "NO GROWTH (k ≈ 0)".into(),
        ScalingOutcome::NoFit(_) => "no fit (b ≤ 0)".into(),
        ScalingOutcome::Fit(f) => format!(
            "k = {:.2} [{:.2}, {:.2}] {}",
            f.k,
            f.k_ci.lower,
            f.k_ci.upper,
            format!("{:?}", f.verdict).to_uppercase()
        ),
    }
}

/// The finding in a sentence.
pub fn words(f: &AttributionFinding) -> String {
    if f.exponents.is_empty() {
        let top: Vec<String> = f
            .categories
            .iter()
            .take(3)
            .map(|c| format!("{} {}", c.category, mib(c.median)))
            .collect();
        return format!("Where the memory is: {}.", top.join(", "));
    }
    let parts: Vec<String> = f
        .exponents
        .iter()
        .map(|e| format!("{}: {}", e.category, outcome_short(&e.outcome)))
        .collect();
    format!("Growth by category (USS): {}.", parts.join("; "))
}

/// A caption line.
pub fn short(f: &AttributionFinding) -> String {
    match f.exponents.first() {
        Some(e) => format!("{} {}", e.category, outcome_short(&e.outcome)),
        None => format!("{} categories", f.categories.len()),
    }
}

/// The cell tables: top categories (USS, PSS) and thread groups (cores).
pub fn cell_markdown(s: &mut String, cell: &CellRecord, a: &CellAttribution) {
    let _ = writeln!(
        s,
        "**Where the cost goes: {}** ({} reads; page tables {}; reader {:.1} ms CPU per read, {:.2} % of a core)\n",
        cell.id,
        a.reads,
        mib(a.page_tables),
        a.sampler.thread_cpu_s * 1e3 / a.sampler.samples.max(1) as f64,
        a.sampler.cpu_fraction() * 100.0
    );
    let _ = writeln!(s, "| category | USS | PSS | RSS |\n|---|---:|---:|---:|");
    for c in a.memory.iter().take(TOP) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            c.category,
            mib(c.uss),
            mib(c.pss),
            mib(c.rss)
        );
    }
    if a.memory.len() > TOP {
        let rest = &a.memory[TOP..];
        let sum =
            |f: fn(&crate::results::attrib::CategoryMem) -> f64| rest.iter().map(f).sum::<f64>();
        let _ = writeln!(
            s,
            "| {} more | {} | {} | {} |",
            rest.len(),
            mib(sum(|c| c.uss)),
            mib(sum(|c| c.pss)),
            mib(sum(|c| c.rss))
        );
    }
    let _ = writeln!(s);
    if !a.threads.is_empty() {
        let _ = writeln!(
            s,
            "| process | thread group | threads | cores |\n|---|---|---:|---:|"
        );
        for t in a.threads.iter().take(TOP) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} |",
                t.process, t.group, t.threads, t.cores
            );
        }
        let _ = writeln!(s);
    }
}

/// The cells the report shows attribution for: the first steady repeat
/// of each parameter set that has it.
pub fn shown_cells(cells: &[CellRecord]) -> Vec<(&CellRecord, &CellAttribution)> {
    let mut shown: Vec<(&CellRecord, &CellAttribution)> = Vec::new();
    for c in cells.iter().filter(|c| c.status == CellStatus::Ok) {
        if shown.iter().any(|(s, _)| s.params == c.params) {
            continue;
        }
        if let Some(a) = &c.attribution {
            shown.push((c, a));
        }
    }
    shown
}

/// The stem of a cell's window chart and of a lane's per-cell chart:
/// `attrib-` first, so the lane's and the cells' own chart lists (which
/// match `LANE-` and `/CELL-`) leave them to this section.
fn window_stem(cell: &CellRecord) -> String {
    format!("charts/attrib-{}-window", cell.id)
}

fn cells_stem(lane: &LaneRecord) -> String {
    format!("charts/attrib-{}-cells", lane.lane)
}

/// The layers of a stack: the `TOP` categories by `weight` (largest at the
/// bottom), the rest summed as one layer on top, each with a value per x
/// from `value(x, category)`, in MiB.
fn layers(
    weight: &BTreeMap<&str, f64>,
    xs: usize,
    value: impl Fn(usize, &str) -> f64,
) -> Vec<Layer> {
    let mut order: Vec<(&str, f64)> = weight.iter().map(|(k, v)| (*k, *v)).collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let mib = |b: f64| ByteUnit::MiB.of(b);
    let mut out: Vec<Layer> = order
        .iter()
        .take(TOP)
        .map(|(k, _)| Layer::new(*k, (0..xs).map(|x| mib(value(x, k))).collect()))
        .collect();
    if order.len() > TOP {
        let rest = &order[TOP..];
        out.push(Layer::new(
            format!("{} more", rest.len()),
            (0..xs)
                .map(|x| mib(rest.iter().map(|(k, _)| value(x, k)).sum()))
                .collect(),
        ));
    }
    out
}

/// USS by category at each attribution read of one cell's window.
pub fn window_spec(record: &RunRecord, cell: &CellRecord, a: &CellAttribution) -> StackedSpec {
    let weight: BTreeMap<&str, f64> = a
        .memory
        .iter()
        .map(|m| (m.category.as_str(), m.uss))
        .collect();
    let at = |i: usize, k: &str| {
        a.series
            .get(i)
            .and_then(|(_, by)| by.get(k))
            .map_or(0.0, |v| *v as f64)
    };
    StackedSpec {
        title: format!(
            "{} · {} · USS by category · {}",
            record.profile.name, cell.id, record.run_id
        ),
        x_label: "time since the cell started (s)".into(),
        y_label: "USS (MiB), stacked".into(),
        x: a.series.iter().map(|(t, _)| *t).collect(),
        layers: layers(&weight, a.series.len(), at),
        bars: false,
        caption: Some(format!(
            "{} attribution reads in the measured window (1 Hz and one at its end)",
            a.reads
        )),
        size: None,
    }
}

/// The window-mean USS by category of every steady cell (repeats too:
/// their spread shows), as stacked bars; `None` with fewer than two.
pub fn cells_spec(record: &RunRecord, lane: &LaneRecord) -> Option<StackedSpec> {
    let shown: Vec<(&CellRecord, &CellAttribution)> = lane
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Ok)
        .filter_map(|c| Some((c, c.attribution.as_ref()?)))
        .collect();
    if shown.len() < 2 {
        return None;
    }
    let mut weight: BTreeMap<&str, f64> = BTreeMap::new();
    for (_, a) in &shown {
        for m in &a.memory {
            *weight.entry(m.category.as_str()).or_default() += m.uss;
        }
    }
    let at = |i: usize, k: &str| {
        shown[i]
            .1
            .memory
            .iter()
            .find(|m| m.category == k)
            .map_or(0.0, |m| m.uss)
    };
    let names: Vec<String> = shown
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{i} = {}", c.id))
        .collect();
    Some(StackedSpec {
        title: format!(
            "{} · {} · USS by category per cell · {}",
            record.profile.name, lane.lane, record.run_id
        ),
        x_label: "cell".into(),
        y_label: "USS (MiB), window mean, stacked".into(),
        x: (0..shown.len()).map(|i| i as f64).collect(),
        layers: layers(&weight, shown.len(), at),
        bars: true,
        caption: Some(format!("x: {}", names.join(", "))),
        size: None,
    })
}

/// Draws the lane's stacked charts: one per shown cell, and the per-cell
/// bars when the lane has two or more.
pub fn charts(run: &RunDir, record: &RunRecord, lane: &LaneRecord) -> Result<Vec<ChartRef>> {
    let mut out = Vec::new();
    let mut draw = |stem: String, spec: StackedSpec| -> Result<()> {
        runcost_charts::stacked(&run.path(&stem), &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
        out.push(ChartRef {
            title: spec.title,
            svg: format!("{stem}.svg"),
            png: format!("{stem}.png"),
        });
        Ok(())
    };
    for (cell, a) in shown_cells(&lane.cells) {
        if !a.series.is_empty() {
            draw(window_stem(cell), window_spec(record, cell, a))?;
        }
    }
    if let Some(spec) = cells_spec(record, lane) {
        draw(cells_stem(lane), spec)?;
    }
    Ok(out)
}

fn chart_line(s: &mut String, charts: &[ChartRef], stem: &str) {
    if let Some(c) = charts.iter().find(|c| c.svg == format!("{stem}.svg")) {
        let _ = writeln!(s, "![{}]({})\n", c.title, c.png);
    }
}

/// The lane's attribution section: the per-cell tables and window charts
/// of the shown cells, the per-cell chart and the category exponents.
pub fn lane_markdown(
    s: &mut String,
    lane: &LaneRecord,
    f: Option<&AttributionFinding>,
    charts: &[ChartRef],
) {
    for (c, a) in shown_cells(&lane.cells) {
        cell_markdown(s, c, a);
        chart_line(s, charts, &window_stem(c));
    }
    chart_line(s, charts, &cells_stem(lane));
    let Some(f) = f else { return };
    if !f.exponents.is_empty() {
        let _ = writeln!(
            s,
            "| category | points | growth with n (USS) |\n|---|---:|---|"
        );
        for e in &f.exponents {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                e.category,
                e.points,
                outcome_short(&e.outcome)
            );
        }
        let _ = writeln!(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::attrib::{CategoryMem, ThreadGroupCpu};

    const MIB: f64 = 1048576.0;

    /// Eight categories (two past `TOP`), three reads; `extra` MiB more anon.
    fn attribution(extra: f64) -> CellAttribution {
        let cats = [
            ("anon", 16.0 + extra),
            ("heap", 6.0),
            ("binary", 3.0),
            ("stack", 0.5),
            ("lib:libc.so.6", 0.25),
            ("kernel", 0.2),
            ("lib:(other)", 0.1),
            ("shmem", 0.05),
        ];
        CellAttribution {
            reads: 3,
            memory: cats
                .iter()
                .map(|(c, m)| CategoryMem {
                    category: c.to_string(),
                    uss: m * MIB,
                    pss: m * MIB,
                    rss: m * MIB,
                    uss_ci: None,
                })
                .collect(),
            page_tables: 0.3 * MIB,
            threads: vec![ThreadGroupCpu {
                process: "gateway".into(),
                group: "tokio-runtime-w".into(),
                cores: 0.012,
                threads: 2,
            }],
            series: (0..3)
                .map(|i| {
                    let t = 4.2 + 5.0 * f64::from(i);
                    let by = cats
                        .iter()
                        .map(|(c, m)| (c.to_string(), ((m + f64::from(i)) * MIB) as u64))
                        .collect();
                    (t, by)
                })
                .collect(),
            ..Default::default()
        }
    }

    fn spec_text(s: &StackedSpec) -> String {
        let mut out = format!(
            "{} | x: {} | y: {} | bars: {} | x = {:?}\n",
            s.title, s.x_label, s.y_label, s.bars, s.x
        );
        for l in &s.layers {
            let v: Vec<String> = l.values.iter().map(|v| format!("{v:.2}")).collect();
            out.push_str(&format!("  {}: {}\n", l.name, v.join(" ")));
        }
        out.push_str(&format!(
            "  caption: {}\n",
            s.caption.as_deref().unwrap_or("")
        ));
        out
    }

    #[test]
    fn attribution_section_and_stacked_charts_snapshot() {
        let mut r = crate::report::markdown::tests::fixture();
        let lane = &mut r.lanes[0];
        lane.cells[0].attribution = Some(attribution(0.0));
        // A second steady repeat, fatter: it joins the per-cell bars only.
        let mut again = lane.cells[0].clone();
        again.id = "footprint-r3".into();
        again.repeat = 3;
        again.attribution = Some(attribution(64.0));
        lane.cells.push(again);
        let lane = &r.lanes[0];
        let shown = shown_cells(&lane.cells);
        assert_eq!(shown.len(), 1, "one per parameter set");
        let window = window_spec(&r, shown[0].0, shown[0].1);
        let cells = cells_spec(&r, lane).expect("two steady cells");
        // The stacks add up to each read's and each cell's total.
        let top = |s: &StackedSpec, x: usize| s.layers.iter().map(|l| l.values[x]).sum::<f64>();
        assert!((top(&cells, 1) - (26.1 + 64.0)).abs() < 1e-9);
        assert!((top(&window, 2) - (26.1 + 8.0 * 2.0)).abs() < 1e-5);
        let charts: Vec<ChartRef> = [window_stem(shown[0].0), cells_stem(lane)]
            .into_iter()
            .map(|stem| ChartRef {
                title: format!("chart {stem}"),
                svg: format!("{stem}.svg"),
                png: format!("{stem}.png"),
            })
            .collect();
        let mut md = String::new();
        lane_markdown(&mut md, lane, None, &charts);
        insta::assert_snapshot!(format!(
            "{md}\n---\n{}{}",
            spec_text(&window),
            spec_text(&cells)
        ));
    }
}
