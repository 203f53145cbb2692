//! "Where the cost goes" in the run report: per cell, the top memory
//! categories and thread groups; per lane, the categories across cells
//! and, in scaling, each category's exponent.

use crate::results::attrib::{AttributionFinding, CellAttribution};
use crate::results::{CellRecord, CellStatus};
use crate::units::Bytes;
use runcost_stats::powerlaw::ScalingOutcome;
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

/// The lane's attribution section: the per-cell tables of steady cells
/// (first repeat of each parameter set) and the category exponents.
pub fn lane_markdown(s: &mut String, cells: &[CellRecord], f: Option<&AttributionFinding>) {
    let mut shown = Vec::new();
    for c in cells.iter().filter(|c| c.status == CellStatus::Ok) {
        if shown.contains(&&c.params) {
            continue;
        }
        if let Some(a) = &c.attribution {
            shown.push(&c.params);
            cell_markdown(s, c, a);
        }
    }
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
