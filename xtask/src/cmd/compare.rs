//! `cargo xtask compare` and `cargo xtask update-baseline`.

use crate::compare::judge::{check_judgeable, CompareOpts};
use crate::compare::{compare_run, Baseline, Comparison, Verdict};
use crate::error::{BadInput, ExitCode};
use crate::fs::write_atomic;
use crate::rundir::resolve_run;
use crate::runner::Common;
use anyhow::Result;
use std::fmt::Write;
use std::path::Path;

pub async fn compare(
    common: &Common,
    baseline: &Path,
    run: Option<&str>,
    opts: CompareOpts,
    confirm: u32,
) -> Result<ExitCode> {
    let path = if baseline.is_absolute() {
        baseline.to_path_buf()
    } else {
        common.repo_root.join(baseline)
    };
    let base = Baseline::load(&path)?;
    let dir = resolve_run(&common.results, run)?;
    let mut record = dir.read_record()?;
    let mut cmp = compare_run(&base, &record, opts)?;
    // A regression is confirmed by running the same command again and
    // judging the pooled repeats: a true shift stays, a noisy repeat is
    // outvoted, and the CI narrows either way.
    let mut reruns = Vec::new();
    while cmp.worst() == Verdict::Regressed && (reruns.len() as u32) < confirm {
        let again = rerun(common, &record.settings.command).await?;
        check_judgeable(&again, opts.allow_overloaded)?;
        pool(&mut record, &again);
        reruns.push(again.run_id);
        cmp = compare_run(&base, &record, opts)?;
    }
    cmp.confirmed_with = reruns;
    let md = markdown(&cmp);
    write_atomic(
        &dir.path(&format!("compare-{}.md", base.name)),
        md.as_bytes(),
    )?;
    if common.json {
        println!("{}", serde_json::to_string_pretty(&cmp)?);
    } else {
        print!("{md}");
    }
    Ok(match cmp.worst() {
        Verdict::Regressed => ExitCode::Gate,
        _ => ExitCode::Ok,
    })
}

/// Runs a recorded lane command again (quietly, into the same results
/// directory) and returns the new run's record.
async fn rerun(common: &Common, command: &[String]) -> Result<crate::results::RunRecord> {
    use crate::cli::{Cli, Cmd};
    use clap::Parser;
    if command.is_empty() {
        return Err(BadInput(
            "the run records no command line (made by an older runcost): rerun its lane by hand"
                .into(),
        )
        .into());
    }
    let mut cli = Cli::try_parse_from(
        std::iter::once("cargo xtask".to_string()).chain(command.iter().cloned()),
    )
    .map_err(|e| {
        BadInput(format!(
            "the run's recorded command does not parse any more: {e}"
        ))
    })?;
    if !matches!(
        cli.cmd,
        Cmd::Footprint(_) | Cmd::Scaling(_) | Cmd::Sweep(_) | Cmd::Load(_)
    ) {
        return Err(BadInput(format!(
            "the run's command `{}` is not a measuring lane",
            command.join(" ")
        ))
        .into());
    }
    cli.global.quiet = true;
    cli.global.json = false;
    cli.global.results = common.results.clone();
    eprintln!(
        "compare: regression found; confirming with `cargo xtask {}`",
        command.join(" ")
    );
    Box::pin(super::dispatch(cli, command.to_vec())).await?;
    resolve_run(&common.results, None)?.read_record()
}

/// Adds the repeats of `again` to the matching aggregates of `record`.
fn pool(record: &mut crate::results::RunRecord, again: &crate::results::RunRecord) {
    for lane in &mut record.lanes {
        let Some(other) = again.lanes.iter().find(|l| l.lane == lane.lane) else {
            continue;
        };
        for a in &mut lane.aggregates {
            if let Some(b) = other
                .aggregates
                .iter()
                .find(|b| b.metric == a.metric && b.params == a.params)
            {
                a.per_repeat.extend_from_slice(&b.per_repeat);
                a.n = a.per_repeat.len();
            }
        }
    }
}

pub fn update_baseline(
    common: &Common,
    run: &str,
    name: &str,
    allow_overloaded: bool,
) -> Result<ExitCode> {
    let ok_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok_name {
        return Err(BadInput(format!(
            "--name `{name}`: use letters, digits, - and _ (it names baselines/<name>.json)"
        ))
        .into());
    }
    let dir = resolve_run(&common.results, Some(run))?;
    let record = dir.read_record()?;
    check_judgeable(&record, allow_overloaded)?;
    let base = Baseline::from_run(name, &record);
    if base.metrics.is_empty() && base.exponents.is_empty() {
        return Err(BadInput(format!(
            "run {} has no aggregates to keep as a baseline",
            record.run_id
        ))
        .into());
    }
    let path = common
        .repo_root
        .join("baselines")
        .join(format!("{name}.json"));
    write_atomic(&path, serde_json::to_string_pretty(&base)?.as_bytes())?;
    println!(
        "wrote {} from run {} ({} metric(s), {} exponent(s))",
        path.display(),
        record.run_id,
        base.metrics.len(),
        base.exponents.len()
    );
    Ok(ExitCode::Ok)
}

/// The compare table in markdown, worst first.
pub fn markdown(c: &Comparison) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## runcost compare: run `{}` against baseline `{}` (run `{}`)\n",
        c.run, c.baseline, c.baseline_run
    );
    let count = |v: Verdict| c.rows.iter().filter(|r| r.verdict == v).count();
    let _ = writeln!(
        s,
        "**{}** — {} regressed, {} warn, {} improved, {} ok\n",
        match c.worst() {
            Verdict::Regressed => "REGRESSED",
            Verdict::Warn => "WARN",
            _ => "OK",
        },
        count(Verdict::Regressed),
        count(Verdict::Warn),
        count(Verdict::Improved),
        count(Verdict::Ok)
    );
    let _ = writeln!(
        s,
        "| verdict | metric | setting | baseline | run | change | 95 % CI of change | n |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---:|---|---|");
    let mut rows: Vec<_> = c.rows.iter().collect();
    rows.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.key.cmp(&b.key)));
    for r in rows {
        let show = |v: f64| {
            r.unit
                .map(|u| u.show(v))
                .unwrap_or_else(|| format!("{v:.3}"))
        };
        let setting: Vec<&str> = r.key.split('/').skip(2).collect();
        let verdict = match r.verdict {
            Verdict::Regressed => "**REGRESSED**",
            Verdict::Warn => "WARN",
            Verdict::Improved => "IMPROVED",
            Verdict::Ok => "OK",
        };
        let lane = r.key.split('/').next().unwrap_or("");
        let _ = writeln!(
            s,
            "| {verdict} | {} {} | {} | {} | {} | {} | {} | {}/{} |",
            lane,
            r.label,
            setting.join(" "),
            show(r.baseline),
            show(r.candidate),
            r.relative_change
                .map(|x| format!("{:+.1} %", x * 100.0))
                .unwrap_or_else(|| "—".into()),
            r.relative_ci
                .map(|(a, b)| format!("{:+.1} % … {:+.1} %", a * 100.0, b * 100.0))
                .or_else(|| r.note.clone())
                .unwrap_or_else(|| "—".into()),
            r.baseline_n,
            r.candidate_n
        );
    }
    if !c.missing.is_empty() {
        let _ = writeln!(
            s,
            "\nNot in this run (not judged): {}",
            c.missing.join(", ")
        );
    }
    if !c.confirmed_with.is_empty() {
        let _ = writeln!(
            s,
            "\nRepeats pooled with the confirmation run(s) {} (`--confirm`).",
            c.confirmed_with
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !c.host_differences.is_empty() {
        let _ = writeln!(
            s,
            "\nHost differs from the baseline's (allowed by flag): {}",
            c.host_differences.join("; ")
        );
    }
    s.push_str(
        "\nREGRESSED needs all three: a change in the bad direction whose 95 % CI excludes 0, beyond the \
         metric's regress threshold, and beyond its absolute floor. WARN: the same at the warn threshold.\n",
    );
    s
}
