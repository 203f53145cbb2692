//! `cargo xtask compare` and `cargo xtask update-baseline`.

use crate::compare::judge::{check_judgeable, CompareOpts};
use crate::compare::{compare_run, Baseline, Verdict};
use crate::error::{BadInput, ExitCode};
use crate::fs::write_atomic;
use crate::report::compare::CompareTable;
use crate::report::format::Format;
use crate::rundir::resolve_run;
use crate::runner::Common;
use anyhow::Result;
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
    let md = CompareTable.render(&cmp)?;
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
