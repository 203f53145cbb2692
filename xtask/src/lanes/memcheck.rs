//! Memcheck: the target under valgrind's memcheck.
//!
//! Setup: a fresh target in `wrap.image` whose `wrap.argv` runs under
//! `valgrind --tool=memcheck --leak-check=full
//! --show-leak-kinds=definite,indirect,possible --xml=yes`, with every
//! `*.supp` file of the profile's suppressions directory. Measurement: the
//! target runs for `--duration` after readiness (optionally after
//! `--cycles` churn cycles), then gets SIGTERM and `wrap.stop_grace` to
//! exit; valgrind writes its leak records after the target exits. Analysis:
//! the XML file (never valgrind's text): bytes and blocks per leak kind,
//! errors by kind, the largest loss records and most frequent errors with
//! their sites. Verdict: LEAK when definitely lost bytes exceed
//! `wrap.memcheck.threshold_bytes`; an XML file cut short never passes.

use super::sites;
use super::wrapped::{self, ToolCell, ToolRun, Wrapping, OUT, SUPP};
use super::LaneCtx;
use crate::results::leaks::MemcheckFinding;
use crate::results::{CellStatus, Finding, LaneKind, LaneRecord};
use anyhow::{bail, Context, Result};
use runcost_leakparse::{LeakVerdict as Gate, MemcheckReport};
use runcost_stats::leak::LeakVerdict;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub struct MemcheckOpts {
    pub duration: Duration,
    pub cycles: u32,
    pub env: BTreeMap<String, String>,
}

/// Stack depth: Rust's allocator shims and an async runtime take a dozen
/// frames before the caller that matters.
const NUM_CALLERS: &str = "--num-callers=40";

/// The suppression files of a directory, sorted (`*.supp` only).
pub fn suppression_files(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.ends_with(".supp"))
        .collect();
    names.sort();
    Ok(names)
}

/// valgrind's argv around the target's: the crate's options, the XML file,
/// deeper stacks, the suppressions.
pub fn valgrind_argv(target: &[String], supp: &[String]) -> Vec<String> {
    let mut argv = runcost_leakparse::memcheck_command(&format!("{OUT}/memcheck.xml"), &[]);
    argv.push(NUM_CALLERS.into());
    for s in supp {
        argv.push(format!("--suppressions={SUPP}/{s}"));
    }
    argv.extend(target.iter().cloned());
    argv
}

pub async fn run(ctx: &LaneCtx<'_>, opts: &MemcheckOpts) -> LaneRecord {
    let mut lane = LaneRecord {
        lane: LaneKind::Memcheck,
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
    let (supp, mounts) = match &ctx.profile.suppressions_dir {
        Some(dir) => match suppression_files(dir) {
            Ok(files) => (files, vec![(dir.clone(), SUPP.to_string())]),
            Err(e) => {
                lane.skipped.push(format!("suppressions: {e:#}"));
                (Vec::new(), Vec::new())
            }
        },
        None => (Vec::new(), Vec::new()),
    };
    let tc = ToolCell {
        id: "memcheck".into(),
        params: BTreeMap::from([("tool".to_string(), "memcheck".to_string())]),
        env,
        wrap: Some(Wrapping {
            tool: "valgrind",
            argv: valgrind_argv(&wrap.argv, &supp),
            mounts,
        }),
        duration: opts.duration,
        cycles: opts.cycles,
        // valgrind runs the target in its own process: sample that.
        sample: Some(vec![]),
    };
    ctx.events.emit(crate::events::Event::LaneStarted {
        lane: LaneKind::Memcheck.to_string(),
        cells: 1,
    });
    let mut run = wrapped::run_cell(ctx, &tc, 1, 1).await;
    if run.measured.record.status == CellStatus::Ok {
        match analyse(&run, wrap.memcheck.threshold_bytes, &supp) {
            Ok(f) => lane.findings.push(Finding::Memcheck(Box::new(f))),
            Err(e) => {
                run.measured.record.status = CellStatus::Failed;
                run.measured.record.error = Some(format!(
                    "{e:#}; partial output is kept in {}",
                    ctx.run.path(&run.out_rel).display()
                ));
            }
        }
    }
    lane.cells = vec![run.measured.record.clone()];
    lane
}

fn analyse(run: &ToolRun, threshold: u64, supp: &[String]) -> Result<MemcheckFinding> {
    let path = run.out_dir.join("memcheck.xml");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "valgrind wrote no XML file {} (is valgrind installed in the image, and did the target start under it?)",
            path.display()
        )
    })?;
    let report = parse(&bytes).with_context(|| format!("read {}", path.display()))?;
    let mut f = finding(&report, &run.measured.record.id, threshold)?;
    f.suppressions = supp.to_vec();
    f.exit = run.exit.clone().unwrap_or_default();
    f.files = vec![format!("{}/memcheck.xml", run.out_rel)];
    if let Some(l) = &run.log_rel {
        f.files.push(l.clone());
    }
    Ok(f)
}

/// Parses valgrind's XML; a target that died of a signal under valgrind is
/// a crash, whatever the exit code said.
pub fn parse(bytes: &[u8]) -> Result<MemcheckReport> {
    let r = runcost_leakparse::parse_memcheck_xml(bytes)
        .map_err(|e| anyhow::anyhow!("not valgrind XML output: {e}"))?;
    if let Some(sig) = &r.fatal_signal {
        let at = sig
            .stack
            .iter()
            .find_map(|f| f.function.clone())
            .unwrap_or_else(|| "?".into());
        bail!(
            "the target crashed under valgrind: {} in {at}",
            sig.signame
                .clone()
                .or_else(|| sig.signo.map(|n| format!("signal {n}")))
                .unwrap_or_else(|| "a fatal signal".into())
        );
    }
    Ok(r)
}

/// The finding from a parsed report. An incomplete file (valgrind killed,
/// disk full) is an error: its leak records may be missing.
pub fn finding(r: &MemcheckReport, cell: &str, threshold: u64) -> Result<MemcheckFinding> {
    let verdict = match r.leak_verdict(threshold) {
        Gate::Pass { .. } => LeakVerdict::NoLeak,
        Gate::Fail { .. } => LeakVerdict::Leak,
        Gate::Incomplete { .. } => bail!(
            "valgrind's XML is incomplete ({}), so leak records may be missing; no verdict",
            if r.warnings.is_empty() {
                "no closing tag or FINISHED status".to_string()
            } else {
                r.warnings.join("; ")
            }
        ),
    };
    Ok(MemcheckFinding {
        cell: cell.to_string(),
        verdict,
        threshold_bytes: threshold,
        leaks: r.leak_summary(),
        errors: r.error_counts_by_kind(),
        top_leaks: sites::memcheck_leaks(r),
        top_errors: sites::memcheck_errors(r),
        suppressions: Vec::new(),
        suppressions_used: r.supp_counts.clone(),
        valgrind_version: r.valgrind_version.clone(),
        exit: Default::default(),
        files: Vec::new(),
        warnings: r.warnings.iter().take(20).cloned().collect(),
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
    fn argv_wraps_the_target_with_xml_and_suppressions() {
        let a = valgrind_argv(&["/usr/local/bin/gateway".into()], &["a.supp".into()]);
        assert_eq!(a[0], "valgrind");
        for want in [
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--xml=yes",
            "--xml-file=/runcost-out/memcheck.xml",
            "--suppressions=/runcost-supp/a.supp",
        ] {
            assert!(a.contains(&want.to_string()), "{want} in {a:?}");
        }
        assert_eq!(a.last().unwrap(), "/usr/local/bin/gateway");
    }

    #[test]
    fn verdicts_on_real_fixtures() {
        let r = parse(&data("leaky.memcheck.xml")).unwrap();
        let f = finding(&r, "memcheck", 0).unwrap();
        assert_eq!(f.verdict, LeakVerdict::Leak);
        assert_eq!(f.leaks.definitely_lost.bytes, 116);
        assert_eq!(f.leaks.indirectly_lost.bytes, 64);
        assert_eq!(f.leaks.possibly_lost.bytes, 200);
        assert!(f.errors.contains_key("InvalidRead"));
        assert_eq!(
            finding(&r, "memcheck", 116).unwrap().verdict,
            LeakVerdict::NoLeak
        );
        // valgrind killed mid-run: never a pass.
        let killed = parse(&data("killed.memcheck.xml")).unwrap();
        let e = finding(&killed, "memcheck", 1 << 30).unwrap_err();
        assert!(format!("{e:#}").contains("incomplete"), "{e:#}");
        // valgrind's text output, garbage, nothing: refused.
        assert!(parse(b"==1== Memcheck, a memory error detector\n").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<html></html>").is_err());
    }

    #[test]
    fn only_supp_files_are_used() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("b.supp"), "").unwrap();
        std::fs::write(d.path().join("a.supp"), "").unwrap();
        std::fs::write(d.path().join("README.md"), "").unwrap();
        assert_eq!(suppression_files(d.path()).unwrap(), ["a.supp", "b.supp"]);
    }
}
