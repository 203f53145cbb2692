//! The report's held-connection section: per cell, how many connections
//! were held at the window's start and end and what went wrong in it;
//! for a scaling lane whose entities are held connections, what one more
//! connection costs by the fit (its derivative b·k·n^(k−1)).

use crate::results::{Finding, LaneRecord, Unit};
use runcost_stats::powerlaw::ScalingOutcome;
use std::fmt::Write;

/// Writes the section when any cell held connections.
pub fn section(s: &mut String, lane: &LaneRecord) {
    if lane.cells.iter().all(|c| c.hold.is_empty()) {
        return;
    }
    let _ = writeln!(s, "### Held connections\n");
    for line in per_connection(lane) {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(
        s,
        "\n| cell | request | asked | held at start | held at end | drops | failed connects | rejected | bytes received |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for c in &lane.cells {
        for h in &c.hold {
            let d = |a: u64, b: u64| b.saturating_sub(a);
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} |",
                c.id,
                h.request,
                h.requested,
                h.at_start.open,
                h.at_end.open,
                d(h.at_start.drops, h.at_end.drops),
                d(h.at_start.connect_errors, h.at_end.connect_errors),
                d(h.at_start.rejected, h.at_end.rejected),
                d(h.at_start.bytes, h.at_end.bytes),
            );
        }
    }
    s.push('\n');
}

/// "USS per held connection" from each scaling fit, at the smallest and
/// largest count (equal when k = 1).
pub fn per_connection(lane: &LaneRecord) -> Vec<String> {
    let sizes: Vec<f64> = lane
        .cells
        .iter()
        .filter_map(|c| c.params.get(crate::lanes::scaling::PARAM)?.parse().ok())
        .collect();
    let (Some(lo), Some(hi)) = (
        sizes.iter().copied().reduce(f64::min),
        sizes.iter().copied().reduce(f64::max),
    ) else {
        return Vec::new();
    };
    lane.findings
        .iter()
        .filter_map(|f| match f {
            Finding::Scaling {
                metric,
                outcome: ScalingOutcome::Fit(fit),
                ..
            } if metric.unit() == Unit::Bytes => {
                let at = |n: f64| fit.b * fit.k * n.powf(fit.k - 1.0);
                Some(format!(
                    "{} per held connection (the fit's slope b·k·n^(k−1)): {} at {lo:.0}, {} at {hi:.0} connections (k = {:.3})",
                    metric.label(),
                    crate::units::show_bytes(at(lo)),
                    crate::units::show_bytes(at(hi)),
                    fit.k
                ))
            }
            _ => None,
        })
        .collect()
}
