//! The report's tool-mode section: the service's own load tool's figures,
//! labelled as the tool's closed-loop numbers (not runcost's
//! coordinated-omission-free latency), beside the target's cost under it.

use crate::results::tool::{ToolFigure, ToolRecord, TOOL_LABEL};
use crate::results::{LaneRecord, MetricKind};
use std::fmt::Write;

fn ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3} ms"))
        .unwrap_or_else(|| "—".into())
}

fn figure(f: &ToolFigure) -> String {
    let mut s = format!("{} {:.0}/s", f.test, f.throughput_per_s);
    if let Some(a) = f.latency_avg_ms {
        let _ = write!(s, " avg {a:.3} ms");
    }
    if let Some(p) = f.latency_p99_ms {
        let _ = write!(s, " p99 {p:.3} ms");
    }
    if let Some(n) = f.failed.filter(|&n| n > 0) {
        let _ = write!(s, " failed {n}");
    }
    s
}

/// One line: the tool, its exit and its figures.
pub fn summary(t: &ToolRecord) -> String {
    let figures: Vec<String> = t.figures.iter().map(figure).collect();
    format!(
        "tool {} exit {} in {:.1}s: {}",
        t.argv[0],
        t.exit_code,
        t.wall_s,
        if figures.is_empty() {
            format!("no figures read (output in {})", t.stdout_file)
        } else {
            figures.join("; ")
        }
    )
}

/// Writes the section when any cell ran a tool.
pub fn section(s: &mut String, lane: &LaneRecord) {
    if lane.cells.iter().all(|c| c.tool.is_none()) {
        return;
    }
    let _ = writeln!(s, "### Load tool\n");
    let _ = writeln!(s, "> {}: each client sends when its previous answer came back, so a stall delays the requests behind it and its latency is under-counted.\n", TOOL_LABEL);
    let _ = writeln!(
        s,
        "| cell | tool | test | throughput (tool) | avg | p50 | p95 | p99 | max | target USS | target CPU (cgroup) |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for c in &lane.cells {
        let Some(t) = &c.tool else { continue };
        let metric = |k: MetricKind| c.metrics.iter().find(|m| m.metric == k).map(|m| m.value);
        let uss = metric(MetricKind::Uss)
            .map(|b| format!("{:.1} MiB", b / 1048576.0))
            .unwrap_or_else(|| "—".into());
        // The cgroup's CPU: a forking server's backends come and go within
        // the window, and the tool's own CPU is in its own container.
        let cpu = metric(MetricKind::CgroupCpuCores)
            .or_else(|| metric(MetricKind::CpuCores))
            .map(|c| format!("{c:.2} cores"))
            .unwrap_or_else(|| "—".into());
        if t.figures.is_empty() {
            let _ = writeln!(
                s,
                "| {} | `{}` | — | — (exit {}; output: `{}`) | | | | | | {uss} | {cpu} |",
                c.id, t.argv[0], t.exit_code, t.stdout_file
            );
        }
        for f in &t.figures {
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {:.1}/s | {} | {} | {} | {} | {} | {uss} | {cpu} |",
                c.id,
                t.argv[0],
                f.test,
                f.throughput_per_s,
                ms(f.latency_avg_ms),
                ms(f.latency_p50_ms),
                ms(f.latency_p95_ms),
                ms(f.latency_p99_ms),
                ms(f.latency_max_ms),
            );
        }
    }
    s.push('\n');
    for c in &lane.cells {
        if let Some(t) = &c.tool {
            let _ = writeln!(
                s,
                "- {}: `{}`; output verbatim in `{}` and `{}`",
                c.id,
                t.argv.join(" "),
                t.stdout_file,
                t.stderr_file
            );
        }
    }
    s.push('\n');
}
