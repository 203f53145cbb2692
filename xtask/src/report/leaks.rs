//! The heap, memcheck and churn sections of `report.md`: pure functions of
//! the findings, so they are snapshot-tested with the rest of the report.

use super::words::{bytes, per_cycle};
use crate::results::leaks::{
    verdict_word, ChurnFinding, HeapFinding, MemcheckFinding, SiteRow, TargetExit,
};
use crate::results::{Finding, LaneRecord};
use std::fmt::Write;

/// Writes the tables of every leak finding of a lane.
pub fn section(s: &mut String, lane: &LaneRecord) {
    for f in &lane.findings {
        match f {
            Finding::Heap(h) => heap(s, h),
            Finding::Memcheck(m) => memcheck(s, m),
            Finding::Churn(c) => churn(s, c),
            _ => {}
        }
    }
}

fn opt_bytes(v: Option<u64>) -> String {
    v.map(bytes).unwrap_or_else(|| "—".into())
}

fn opt_n(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "—".into())
}

/// Markdown table cells must not contain `|` or newlines.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn exit_line(s: &mut String, e: &TargetExit) {
    let _ = writeln!(
        s,
        "Target stopped with SIGTERM: {} after {:.1} s.\n",
        e.how, e.stop_s
    );
}

/// A table of sites. `bytes_label` None drops the bytes column.
fn sites(
    s: &mut String,
    title: &str,
    rows: &[SiteRow],
    bytes_label: Option<&str>,
    count_label: &str,
) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(s, "#### {title}\n");
    let kind = rows.iter().any(|r| r.kind.is_some());
    let mut head = String::from("| # |");
    let mut sep = String::from("|---:|");
    if kind {
        head.push_str(" kind |");
        sep.push_str("---|");
    }
    head.push_str(" site | location |");
    sep.push_str("---|---|");
    if let Some(b) = bytes_label {
        head.push_str(&format!(" {b} |"));
        sep.push_str("---:|");
    }
    head.push_str(&format!(" {count_label} | called from |"));
    sep.push_str("---:|---|");
    let _ = writeln!(s, "{head}\n{sep}");
    for (i, r) in rows.iter().enumerate() {
        let mut line = format!("| {} |", i + 1);
        if kind {
            line.push_str(&format!(
                " {} |",
                r.kind
                    .as_deref()
                    .map(|k| k.trim_start_matches("Leak_"))
                    .unwrap_or("")
            ));
        }
        line.push_str(&format!(
            " `{}` | {} |",
            cell(&r.site),
            r.location
                .as_deref()
                .map(cell)
                .unwrap_or_else(|| "—".into())
        ));
        if bytes_label.is_some() {
            line.push_str(&format!(" {} |", opt_bytes(r.bytes)));
        }
        let callers: Vec<String> = r.stack.iter().take(3).map(|c| cell(c)).collect();
        line.push_str(&format!(
            " {} | {} |",
            opt_n(r.count),
            if callers.is_empty() {
                "—".to_string()
            } else {
                callers.join(" ← ")
            }
        ));
        let _ = writeln!(s, "{line}");
    }
    s.push('\n');
}

fn files(s: &mut String, files: &[String], warnings: &[String]) {
    if !files.is_empty() {
        let list: Vec<String> = files.iter().map(|f| format!("[`{f}`]({f})")).collect();
        let _ = writeln!(s, "Kept: {}\n", list.join(" · "));
    }
    if !warnings.is_empty() {
        let _ = writeln!(
            s,
            "> note: the parser skipped {} line(s) it did not understand; first: {}\n",
            warnings.len(),
            cell(&warnings[0])
        );
    }
}

fn heap(s: &mut String, f: &HeapFinding) {
    let _ = writeln!(s, "### heaptrack: {}\n", verdict_word(f.verdict));
    let _ = writeln!(s, "| | |\n|---|---:|");
    let _ = writeln!(
        s,
        "| leaked at exit | **{}** (threshold {}) |",
        opt_bytes(f.leaked_bytes),
        bytes(f.threshold_bytes)
    );
    let _ = writeln!(
        s,
        "| calls to allocation functions | {} |",
        opt_n(f.total_allocations)
    );
    let _ = writeln!(
        s,
        "| temporary allocations | {} |",
        opt_n(f.temporary_allocations)
    );
    let _ = writeln!(s, "| peak heap | {} |", opt_bytes(f.peak_heap_bytes));
    let _ = writeln!(
        s,
        "| peak RSS (heaptrack's figure, its overhead included) | {} |",
        opt_bytes(f.peak_rss_bytes)
    );
    let _ = writeln!(
        s,
        "| run time under heaptrack | {} |\n",
        f.runtime_s
            .map(|t| format!("{t:.2} s"))
            .unwrap_or_else(|| "—".into())
    );
    exit_line(s, &f.exit);
    if let Some(o) = &f.overhead {
        let _ = writeln!(s, "#### heaptrack's overhead\n");
        let _ = writeln!(
            s,
            "| target RSS | without heaptrack | with heaptrack | difference |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|");
        let diff = |a: f64, b: f64| {
            let d = b - a;
            let pct = if a > 0.0 { d / a * 100.0 } else { 0.0 };
            format!(
                "{}{} ({pct:+.0} %)",
                if d < 0.0 { "−" } else { "+" },
                bytes(d.abs() as u64)
            )
        };
        let _ = writeln!(
            s,
            "| peak | {} | {} | {} |",
            bytes(o.plain_peak_rss),
            bytes(o.heaptrack_peak_rss),
            diff(o.plain_peak_rss as f64, o.heaptrack_peak_rss as f64)
        );
        let _ = writeln!(
            s,
            "| mean over the run | {} | {} | {} |",
            bytes(o.plain_mean_rss as u64),
            bytes(o.heaptrack_mean_rss as u64),
            diff(o.plain_mean_rss, o.heaptrack_mean_rss)
        );
        let _ = writeln!(
            s,
            "\nThe target process only: heaptrack_interpret and the compressor run beside it in the container.\n"
        );
    }
    sites(
        s,
        "Top leak sites (not freed at exit)",
        &f.leaks,
        Some("leaked"),
        "calls",
    );
    sites(
        s,
        "Peak memory consumers",
        &f.peak,
        Some("at peak"),
        "calls",
    );
    sites(
        s,
        "Most calls to allocation functions",
        &f.allocations,
        Some("at peak"),
        "calls",
    );
    sites(
        s,
        "Most temporary allocations",
        &f.temporary,
        None,
        "temporary",
    );
    files(s, &f.files, &f.warnings);
}

fn memcheck(s: &mut String, f: &MemcheckFinding) {
    let _ = writeln!(
        s,
        "### valgrind memcheck{}: {}\n",
        f.valgrind_version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
        verdict_word(f.verdict)
    );
    let _ = writeln!(
        s,
        "LEAK when definitely lost exceeds {}.\n",
        bytes(f.threshold_bytes)
    );
    let _ = writeln!(s, "| leak kind | bytes | blocks | loss records |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    let l = &f.leaks;
    for (name, a) in [
        ("definitely lost", l.definitely_lost),
        ("indirectly lost", l.indirectly_lost),
        ("possibly lost", l.possibly_lost),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} |",
            bytes(a.bytes),
            a.blocks,
            a.records
        );
    }
    s.push('\n');
    if !f.errors.is_empty() {
        let _ = writeln!(s, "| error kind | distinct | occurrences |");
        let _ = writeln!(s, "|---|---:|---:|");
        for (k, c) in &f.errors {
            let _ = writeln!(s, "| {k} | {} | {} |", c.contexts, c.occurrences);
        }
        s.push('\n');
    }
    exit_line(s, &f.exit);
    sites(
        s,
        "Largest loss records",
        &f.top_leaks,
        Some("bytes"),
        "blocks",
    );
    sites(s, "Memory errors", &f.top_errors, None, "occurrences");
    if !f.suppressions.is_empty() {
        let used: Vec<String> = f
            .suppressions_used
            .iter()
            .map(|(k, n)| format!("`{}` ×{n}", cell(k)))
            .collect();
        let _ = writeln!(
            s,
            "Suppression files: {}; matched: {}.\n",
            f.suppressions
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if used.is_empty() {
                "none".to_string()
            } else {
                used.join(", ")
            }
        );
    }
    files(s, &f.files, &f.warnings);
}

fn churn(s: &mut String, f: &ChurnFinding) {
    let _ = writeln!(s, "### Growth per cycle: {}\n", verdict_word(f.verdict));
    let _ = writeln!(
        s,
        "{} cycles of {} create + {} delete, {:.1} ms per cycle; the first {} cycles are warm-up and left out; the static run reads at the same moments.\n",
        f.cycles,
        f.batch,
        f.batch,
        f.cycle_s * 1e3,
        f.warmup_cycles
    );
    let _ = writeln!(
        s,
        "| metric | churn slope per cycle [95 % CI] | static slope [95 % CI] | excess | floor | verdict |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---|");
    for m in &f.metrics {
        let t = &m.test;
        let ci = |x: &runcost_stats::regression::SlopeInterval| {
            format!(
                "{} [{}, {}]",
                per_cycle(m.metric, x.slope),
                per_cycle(m.metric, x.ci.lower),
                per_cycle(m.metric, x.ci.upper)
            )
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            m.metric.label(),
            ci(&t.churn),
            ci(&t.reference),
            per_cycle(m.metric, t.excess_slope),
            per_cycle(m.metric, t.slope_floor),
            verdict_word(t.verdict)
        );
    }
    s.push('\n');
}

/// How to read the leak lanes (appended once per report that has one).
pub const HOW_TO_READ: &str = "
## How to read the leak lanes

- **heap** runs the target under heaptrack until SIGTERM; *leaked* is every
  block not freed at exit, the runtime's statics included, hence a threshold
  above zero. Sites are the innermost frame that is neither an allocator nor
  the standard library; heaptrack names inlined Rust functions without their
  module path. The overhead compares the target's RSS with and without
  heaptrack, same settings and duration.
- **memcheck** runs it under valgrind and reads the XML: *definitely lost*
  has no pointer left to it (the gate), *indirectly lost* hangs off such
  blocks, *possibly lost* is reachable only through interior pointers. An
  XML file cut short never passes.
- **churn** compares memory, fds and threads after each create/delete cycle
  with a static run of the same length: LEAK only when the churn slope's
  lower bound exceeds both the static slope's upper bound and the floor.
";

#[cfg(test)]
mod tests {
    use crate::lanes::churn::{analyse, ChurnOpts};
    use crate::probe::sampler::Sample;
    use crate::probe::Reading;
    use crate::report::format::Format;
    use crate::results::leaks::{HeapOverhead, TargetExit};
    use crate::results::{Finding, LaneKind, LaneRecord};
    use runcost_stats::leak::LeakVerdict;
    use std::path::Path;

    fn data(name: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("leakparse/tests/data")
                .join(name),
        )
        .unwrap()
    }

    fn lane(kind: LaneKind, f: Finding) -> LaneRecord {
        LaneRecord {
            lane: kind,
            cells: Vec::new(),
            aggregates: Vec::new(),
            skipped: Vec::new(),
            findings: vec![f],
        }
    }

    /// The leak sections of a report, from the real tool fixtures of the
    /// leakparse crate and a synthetic churn series.
    #[test]
    fn leak_report_snapshot() {
        let exit = TargetExit {
            exit_code: 0,
            stop_s: 0.25,
            how: "exited 0 after SIGTERM".into(),
        };
        let h = crate::lanes::heap::parse(&data("leaky.heaptrack.txt")).unwrap();
        let mut heap = crate::lanes::heap::finding(&h, "heap-heaptrack");
        heap.verdict = LeakVerdict::Leak;
        heap.threshold_bytes = 1024;
        heap.exit = exit.clone();
        heap.files = vec!["cells/heap-heaptrack/heaptrack_print.txt".into()];
        heap.overhead = Some(HeapOverhead {
            plain_peak_rss: 20 << 20,
            heaptrack_peak_rss: 23 << 20,
            plain_mean_rss: 19.5 * 1048576.0,
            heaptrack_mean_rss: 22.0 * 1048576.0,
        });
        let m = crate::lanes::memcheck::parse(&data("leaky.memcheck.xml")).unwrap();
        let mut memcheck = crate::lanes::memcheck::finding(&m, "memcheck", 0).unwrap();
        memcheck.exit = exit;
        memcheck.suppressions = vec!["threads.supp".into()];
        let series = |per_cycle: f64| -> Vec<Sample> {
            (0..41)
                .map(|k| Sample {
                    t: k as f64 * 0.002,
                    read_s: 0.0,
                    value: Reading {
                        pss_anon: (20_000_000.0
                            + per_cycle * k as f64
                            + ((k * 7) % 3) as f64 * 4096.0)
                            as u64,
                        fds: 11,
                        threads: 4,
                        ..Default::default()
                    },
                })
                .collect()
        };
        let spec: crate::profile::ChurnSpec = serde_yaml::from_str(
            "port: 8080\ncreate: { method: POST, path: /e, id: /id }\ndelete: { method: DELETE, path: '/e/{id}' }\n",
        )
        .unwrap();
        let opts = ChurnOpts {
            metrics: Vec::new(),
            cycles: 40,
            warmup_cycles: 5,
            settle: std::time::Duration::ZERO,
            env: Default::default(),
        };
        let churn = analyse(&series(40960.0), &series(0.0), &spec, &opts, 0.002).unwrap();
        let mut r = crate::report::markdown::tests::fixture();
        r.lanes = vec![
            lane(LaneKind::Heap, Finding::Heap(Box::new(heap))),
            lane(LaneKind::Memcheck, Finding::Memcheck(Box::new(memcheck))),
            lane(LaneKind::Churn, Finding::Churn(Box::new(churn))),
        ];
        let text = crate::report::markdown::RunReport { charts: &[] }
            .render(&r)
            .unwrap();
        assert!(text.contains("### heaptrack: LEAK"));
        assert!(
            text.contains("| definitely lost | 116 B | 2 | 2 |"),
            "{text}"
        );
        assert!(text.contains("### Growth per cycle: LEAK"));
        insta::assert_snapshot!(text);
    }
}
