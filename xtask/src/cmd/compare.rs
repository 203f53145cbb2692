//! `cargo xtask compare` and `cargo xtask update-baseline`.

use crate::compare::budget::budget_rows;
use crate::compare::judge::{check_judgeable, CompareOpts};
use crate::compare::summary::CompareSummary;
use crate::compare::{compare_run, Baseline, Comparison, Verdict};
use crate::error::{BadInput, ExitCode};
use crate::fs::write_atomic;
use crate::profile::thresholds::GateRules;
use crate::profile::Profile;
use crate::report::compare::CompareTable;
use crate::report::format::Format;
use crate::results::RunRecord;
use crate::rundir::resolve_run;
use crate::runner::Common;
use anyhow::Result;
use std::path::{Path, PathBuf};

pub async fn compare(
    common: &Common,
    baseline: Option<&Path>,
    run: Option<&str>,
    opts: CompareOpts,
    confirm: u32,
) -> Result<ExitCode> {
    let dir = resolve_run(&common.results, run)?;
    let mut record = dir.read_record()?;
    let (rules, profile) = run_rules(common, &record)?;
    let mut cmp = match baseline {
        Some(baseline) => {
            let path = if baseline.is_absolute() {
                baseline.to_path_buf()
            } else {
                common.repo_root.join(baseline)
            };
            let base = Baseline::load(&path)?;
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
            if base.rules != rules {
                cmp.notes.push(format!(
                    "the thresholds or budgets of {profile} differ from those baseline `{}` was made with: \
                     changes are judged with the baseline's, budgets with the profile's; \
                     `cargo xtask update-baseline` adopts the profile's",
                    base.name
                ));
            }
            cmp
        }
        None => {
            check_judgeable(&record, opts.allow_overloaded)?;
            if rules.budgets.is_empty() {
                return Err(BadInput(format!(
                    "nothing to judge: no --baseline, and {profile} has no `budgets:`; \
                     pass --baseline baselines/NAME.json or add budgets to the profile"
                ))
                .into());
            }
            Comparison::budgets_only(&record, Vec::new())
        }
    };
    cmp.rows.extend(budget_rows(&record, &rules, &profile)?);
    let md = CompareTable.render(&cmp)?;
    let stem = CompareSummary::stem(cmp.baseline.as_deref());
    write_atomic(&dir.path(&format!("{stem}.md")), md.as_bytes())?;
    let summary = CompareSummary::of(&cmp, crate::frame::now_rfc3339());
    write_atomic(
        &dir.path(&format!("{stem}.json")),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    crate::report::index::refresh(&common.results)?;
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

/// The `thresholds:` and `budgets:` of the profile the run was made with
/// (its recorded path; the repository root for a relative one), and the
/// path as shown. A run whose profile file is gone is judged with none.
fn run_rules(common: &Common, record: &RunRecord) -> Result<(GateRules, String)> {
    let recorded = PathBuf::from(&record.profile.path);
    let path = if recorded.is_absolute() || recorded.is_file() {
        recorded
    } else {
        common.repo_root.join(recorded)
    };
    let shown = path.display().to_string();
    if !path.is_file() {
        eprintln!(
            "compare: the run's profile {shown} is gone: judging without its thresholds and budgets"
        );
        return Ok((GateRules::default(), shown));
    }
    let profile = Profile::load(&path)?;
    if profile.hash != record.profile.sha256 {
        eprintln!(
            "compare: {shown} changed since run {}: using its current thresholds and budgets",
            record.run_id
        );
    }
    Ok((GateRules::of(&profile.spec), shown))
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
    let (rules, _) = run_rules(common, &record)?;
    let base = Baseline::from_run(name, &record, &rules);
    if base.metrics.is_empty() && base.exponents.is_empty() && base.findings.is_empty() {
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
    let lanes: std::collections::BTreeSet<String> =
        base.keys().map(|(_, l)| l.to_string()).collect();
    println!(
        "wrote {} from run {} (lanes {}; {} metric(s), {} exponent(s), {} finding item(s))",
        path.display(),
        record.run_id,
        lanes.into_iter().collect::<Vec<_>>().join(", "),
        base.metrics.len(),
        base.exponents.len(),
        base.findings.len()
    );
    Ok(ExitCode::Ok)
}
