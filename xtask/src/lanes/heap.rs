//! Heap: the target under heaptrack.
//!
//! Setup: two fresh targets with the same settings (profile `env`, then
//! `wrap.env`, then `--env`): the plain target, and the target in
//! `wrap.image` with its `wrap.argv` run by `heaptrack -o`. Measurement:
//! each runs for `--duration` after readiness (optionally after `--cycles`
//! churn cycles), sampled like any cell, then gets SIGTERM and
//! `wrap.stop_grace` to exit cleanly. Analysis: `heaptrack_print` (in the
//! same image, on the kept trace) prints every section, and its whole output
//! is parsed: total and temporary allocations, peak heap, peak RSS, leaked
//! bytes, top leak, peak, allocation and temporary sites; heaptrack's
//! overhead is the target's RSS with it against the plain run's. Verdict:
//! LEAK when the bytes leaked at exit exceed `wrap.heap.threshold_bytes`.

use super::sites;
use super::wrapped::{self, ToolCell, ToolRun, Wrapping, OUT};
use super::LaneCtx;
use crate::engine::Helper;
use crate::fs::write_atomic;
use crate::probe::sampler::Sample;
use crate::results::leaks::{HeapFinding, HeapOverhead};
use crate::results::{CellStatus, Finding, LaneKind, LaneRecord};
use anyhow::{bail, Context, Result};
use runcost_leakparse::HeapReport;
use runcost_stats::leak::LeakVerdict;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub struct HeapOpts {
    pub duration: Duration,
    pub cycles: u32,
    pub env: BTreeMap<String, String>,
    /// Also run the plain target, to measure heaptrack's overhead.
    pub overhead: bool,
}

/// `heaptrack_print` options: the crate's full set, but one entry per
/// backtrace (`--merge-backtraces=0`). Merged output groups entries by the
/// innermost frame, and in Rust that is the inlined allocator shim
/// (`alloc`) for every allocation: the real site is then printed for the
/// first backtrace only, and a leak in `leak_tick` never shows its name.
pub fn print_argv(trace: &str) -> Vec<String> {
    let mut argv = runcost_leakparse::heaptrack_print_command(trace);
    for a in &mut argv {
        if a.starts_with("--merge-backtraces=") {
            *a = "--merge-backtraces=0".into();
        }
    }
    // More entries than the default 10: sites spread over backtraces.
    let at = argv.len() - 2;
    argv.insert(at, "--peak-limit=25".into());
    argv
}

pub async fn run(ctx: &LaneCtx<'_>, opts: &HeapOpts) -> LaneRecord {
    let mut lane = LaneRecord {
        lane: LaneKind::Heap,
        cells: Vec::new(),
        aggregates: Vec::new(),
        skipped: Vec::new(),
        findings: Vec::new(),
    };
    let Some(wrap) = ctx.profile.spec.wrap.clone() else {
        lane.skipped
            .push("the profile has no `wrap:` section".into());
        return lane;
    };
    let mut env = ctx.profile.spec.env.clone();
    env.extend(wrap.env.clone());
    env.extend(opts.env.clone());
    let process = ctx.profile.process_names();
    let cell = |id: &str, wrapping: Option<Wrapping>| ToolCell {
        id: id.into(),
        params: BTreeMap::from([(
            "tool".to_string(),
            if wrapping.is_some() {
                "heaptrack"
            } else {
                "none"
            }
            .to_string(),
        )]),
        env: env.clone(),
        wrap: wrapping,
        duration: opts.duration,
        cycles: opts.cycles,
        sample: Some(process.clone()),
    };
    let mut argv: Vec<String> = vec!["heaptrack".into(), "-o".into(), format!("{OUT}/heaptrack")];
    argv.extend(wrap.argv.iter().cloned());
    let of = if opts.overhead { 2 } else { 1 };
    ctx.events.emit(crate::events::Event::LaneStarted {
        lane: LaneKind::Heap.to_string(),
        cells: of,
    });
    let plain = if opts.overhead {
        let r = wrapped::run_cell(ctx, &cell("heap-plain", None), 1, of).await;
        Some(r)
    } else {
        None
    };
    let traced = cell(
        "heap-heaptrack",
        Some(Wrapping {
            tool: "heaptrack",
            argv,
            mounts: Vec::new(),
        }),
    );
    let mut run = wrapped::run_cell(ctx, &traced, of, of).await;
    if run.measured.record.status == CellStatus::Ok {
        match analyse(ctx, &run, &wrap.image).await {
            Ok((mut finding, files)) => {
                finding.threshold_bytes = wrap.heap.threshold_bytes;
                finding.verdict = match finding.leaked_bytes {
                    Some(b) if b > wrap.heap.threshold_bytes => LeakVerdict::Leak,
                    _ => LeakVerdict::NoLeak,
                };
                finding.files = files;
                finding.overhead = plain
                    .as_ref()
                    .filter(|p| p.measured.record.status == CellStatus::Ok)
                    .and_then(|p| overhead(&p.measured.samples, &run.measured.samples));
                lane.findings.push(Finding::Heap(Box::new(finding)));
            }
            Err(e) => {
                let msg = format!(
                    "{e:#}; partial output is kept in {}",
                    ctx.run.path(&run.out_rel).display()
                );
                run.measured.record.status = CellStatus::Failed;
                run.measured.record.error = Some(msg);
            }
        }
    }
    lane.cells = plain
        .map(|p| p.measured.record)
        .into_iter()
        .chain([run.measured.record])
        .collect();
    lane
}

/// Runs `heaptrack_print` on the kept trace and parses its whole output.
async fn analyse(
    ctx: &LaneCtx<'_>,
    run: &ToolRun,
    image: &str,
) -> Result<(HeapFinding, Vec<String>)> {
    let trace = find_trace(&run.out_dir)?;
    let abs = run
        .out_dir
        .canonicalize()
        .with_context(|| format!("resolve {}", run.out_dir.display()))?;
    let argv = print_argv(&format!("{OUT}/{trace}"));
    let id = &run.measured.record.id;
    let out = ctx
        .engine
        .run_helper(&Helper {
            run_id: &ctx.run.id,
            cell: id,
            image,
            argv: &argv,
            binds: &[(abs, OUT.to_string(), true)],
            timeout: Duration::from_secs(600),
            network: None,
            cpuset: None,
        })
        .await?;
    let rel = format!("cells/{id}/heaptrack_print.txt");
    write_atomic(&ctx.run.path(&rel), &out.stdout)?;
    let mut files = vec![format!("{}/{trace}", run.out_rel), rel.clone()];
    if !out.stderr.is_empty() {
        let e = format!("cells/{id}/heaptrack_print.stderr");
        write_atomic(&ctx.run.path(&e), &out.stderr)?;
        files.push(e);
    }
    if let Some(l) = &run.log_rel {
        files.push(l.clone());
    }
    if out.exit_code != 0 {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        bail!(
            "`{}` failed (exit code {}) on the trace {}:\n{}",
            argv.join(" "),
            out.exit_code,
            ctx.run.path(&format!("{}/{trace}", run.out_rel)).display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let report = parse(&out.stdout).with_context(|| {
        format!(
            "read heaptrack_print's output ({})",
            ctx.run.path(&rel).display()
        )
    })?;
    let mut f = finding(&report, id);
    f.exit = run.exit.clone().unwrap_or_default();
    Ok((f, files))
}

/// The trace heaptrack wrote (`heaptrack.zst`, or `.gz` without zstd).
fn find_trace(dir: &Path) -> Result<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.starts_with("heaptrack") && (n.ends_with(".zst") || n.ends_with(".gz")))
        .collect();
    found.sort();
    match found.pop() {
        Some(n) => {
            let len = std::fs::metadata(dir.join(&n)).map(|m| m.len()).unwrap_or(0);
            if len == 0 {
                bail!("heaptrack's trace {} is empty", dir.join(&n).display());
            }
            Ok(n)
        }
        None => bail!(
            "heaptrack wrote no trace in {} (did it start? is the directory writable in the container?)",
            dir.display()
        ),
    }
}

/// Parses `heaptrack_print` output and refuses output that is cut short:
/// the summary comes last, so a missing `total memory leaked` line means
/// the text is truncated (or not heaptrack_print's at all).
pub fn parse(text: &[u8]) -> Result<HeapReport> {
    let r = runcost_leakparse::parse_heaptrack_print_bytes(text)
        .map_err(|e| anyhow::anyhow!("not heaptrack_print output: {e}"))?;
    if r.summary.leaked_bytes.is_none() || r.summary.total_allocations.is_none() {
        bail!(
            "heaptrack_print's output has no summary (no `total memory leaked` or `calls to allocation functions` line): it is truncated or not from heaptrack_print"
        );
    }
    if !r.has_leak_section() {
        bail!("heaptrack_print's output has no MEMORY LEAKS section; it must run with --print-leaks=1");
    }
    Ok(r)
}

/// The finding's numbers and tables from a parsed report (verdict,
/// threshold, files, exit and overhead are filled in by the caller).
pub fn finding(r: &HeapReport, cell: &str) -> HeapFinding {
    let t = sites::heap_tables(r);
    HeapFinding {
        cell: cell.to_string(),
        verdict: LeakVerdict::Inconclusive,
        threshold_bytes: 0,
        leaked_bytes: r.summary.leaked_bytes,
        total_allocations: r.summary.total_allocations,
        temporary_allocations: r.summary.temporary_allocations,
        peak_heap_bytes: r.summary.peak_heap_bytes,
        peak_rss_bytes: r.summary.peak_rss_bytes,
        runtime_s: r.summary.runtime_seconds,
        leaks: t.leaks,
        peak: t.peak,
        allocations: t.allocations,
        temporary: t.temporary,
        overhead: None,
        exit: Default::default(),
        files: Vec::new(),
        warnings: r.warnings.iter().take(20).cloned().collect(),
    }
}

fn overhead(plain: &[Sample], traced: &[Sample]) -> Option<HeapOverhead> {
    if plain.is_empty() || traced.is_empty() {
        return None;
    }
    let peak = |s: &[Sample]| {
        s.iter()
            .map(|x| x.value.vm_hwm.max(x.value.rss))
            .max()
            .unwrap_or(0)
    };
    let mean = |s: &[Sample]| s.iter().map(|x| x.value.rss as f64).sum::<f64>() / s.len() as f64;
    Some(HeapOverhead {
        plain_peak_rss: peak(plain),
        heaptrack_peak_rss: peak(traced),
        plain_mean_rss: mean(plain),
        heaptrack_mean_rss: mean(traced),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("leakparse/tests/data")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn print_argv_keeps_the_crate_options_but_one_entry_per_backtrace() {
        let a = print_argv("/runcost-out/heaptrack.zst");
        assert_eq!(a[0], "heaptrack_print");
        assert!(a.contains(&"--print-leaks=1".to_string()));
        assert!(a.contains(&"--merge-backtraces=0".to_string()));
        assert!(!a.contains(&"--merge-backtraces=1".to_string()));
        assert_eq!(&a[a.len() - 2..], ["--file", "/runcost-out/heaptrack.zst"]);
    }

    #[test]
    fn whole_output_parses_and_cut_or_garbage_output_is_refused() {
        let text = data("leaky.heaptrack.txt");
        let r = parse(&text).unwrap();
        let f = finding(&r, "heap-heaptrack");
        assert_eq!(f.leaked_bytes, Some(4480));
        assert!(f.total_allocations.is_some() && f.peak_heap_bytes.is_some());
        assert!(f.leaks.iter().any(|s| s.site == "leak_definite"));
        // Cut anywhere before the summary: refused, never read as "no leak".
        let cut = &text[..text.len() * 2 / 3];
        let e = parse(cut).unwrap_err();
        assert!(format!("{e:#}").contains("truncated"), "{e:#}");
        let e = parse(b"\x00\x01garbage\nnot heaptrack\n").unwrap_err();
        assert!(format!("{e:#}").contains("heaptrack_print"), "{e:#}");
        assert!(parse(b"").is_err());
    }

    #[test]
    fn trace_is_found_or_its_absence_explained() {
        let d = tempfile::tempdir().unwrap();
        let e = find_trace(d.path()).unwrap_err();
        assert!(format!("{e:#}").contains("no trace"), "{e:#}");
        std::fs::write(d.path().join("heaptrack.zst"), b"").unwrap();
        assert!(format!("{:#}", find_trace(d.path()).unwrap_err()).contains("empty"));
        std::fs::write(d.path().join("heaptrack.zst"), b"x").unwrap();
        assert_eq!(find_trace(d.path()).unwrap(), "heaptrack.zst");
    }
}
