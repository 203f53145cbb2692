//! One file per subcommand.

mod boxes;
mod clean;
mod compare;
mod doctor;
pub mod export;
mod fault;
mod footprint;
mod history;
mod leaks;
mod list;
mod load;
mod scaling;
mod setup;
mod suite;

use crate::cli::{Cli, Cmd, SelfcheckCmd};
use crate::error::{BadInput, ExitCode};
use crate::runner::Common;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The profile of every command not given `--profile`.
const DEFAULT_PROFILE: &str = "gateway";

pub async fn dispatch(cli: Cli, argv: Vec<String>) -> Result<ExitCode> {
    let repo_root = if started_as_runcost() {
        project_root()?
    } else {
        repo_root()?
    };
    let g = &cli.global;
    // Before any Docker call: validate --engine/DOCKER_HOST, open an ssh
    // tunnel when asked, point DOCKER_HOST at the engine for every client.
    let _tunnel = crate::engine::endpoint::install(g.engine.as_deref())?;
    let results = if g.results.is_absolute() {
        g.results.clone()
    } else {
        repo_root.join(&g.results)
    };
    let steady_window = match g.steady_window {
        Some(w) if !(Duration::from_millis(500)..=Duration::from_secs(600)).contains(&w.0) => {
            return Err(BadInput(format!(
                "--steady-window {w}: give 500ms to 10m (the warm-up's trailing window), \
                 e.g. --steady-window 1500ms"
            ))
            .into())
        }
        w => w.map(|w| w.0),
    };
    let common = Common {
        repo_root,
        results,
        profile: g.profile.clone().unwrap_or_else(|| DEFAULT_PROFILE.into()),
        quiet: g.quiet,
        json: g.json,
        seed: g.seed.unwrap_or_else(rand::random),
        argv,
        steady_window,
    };
    match cli.cmd {
        Cmd::Setup => setup::run(&common, g.profile.as_deref()).await,
        Cmd::Doctor => doctor::run(&common).await,
        Cmd::List => list::run(&common, g.profile.as_deref()),
        Cmd::Footprint(a) => footprint::run(&common, a).await,
        Cmd::Scaling(a) => scaling::scaling(&common, a).await,
        Cmd::Sweep(a) => scaling::sweep(&common, a).await,
        Cmd::Load(a) => load::run(&common, a).await,
        Cmd::Fault(a) => fault::run(&common, a).await,
        Cmd::Heap(a) => leaks::heap(&common, a).await,
        Cmd::Memcheck(a) => leaks::memcheck(&common, a).await,
        Cmd::Churn(a) => leaks::churn(&common, a).await,
        Cmd::Suite(a) => suite::run(&common, a).await,
        Cmd::Box { what } => boxes::run(&common, what).await,
        Cmd::Report { run } => {
            let dir = crate::rundir::resolve_run(&common.results, run.as_deref())?;
            let record = dir.read_record()?;
            crate::report::render(&dir, &record)?;
            crate::report::index::refresh(&common.results)?;
            println!("{}", dir.path("report.md").display());
            Ok(ExitCode::Ok)
        }
        Cmd::Index => {
            println!(
                "{}",
                crate::report::index::refresh(&common.results)?.display()
            );
            Ok(ExitCode::Ok)
        }
        Cmd::Clean { run } => clean::run(&common, run.as_deref()).await,
        Cmd::Compare {
            baseline,
            run,
            allow_host_mismatch,
            allow_overloaded,
            confirm,
        } => {
            compare::compare(
                &common,
                baseline.as_deref(),
                run.as_deref(),
                crate::compare::judge::CompareOpts {
                    allow_host_mismatch,
                    allow_overloaded,
                },
                confirm,
            )
            .await
        }
        Cmd::UpdateBaseline {
            run,
            name,
            allow_overloaded,
        } => compare::update_baseline(&common, &run, &name, allow_overloaded),
        Cmd::History => history::run(&common),
        Cmd::Export { format, run } => export::run(&common, run.as_deref(), format),
        Cmd::Selfcheck {
            what: SelfcheckCmd::Sampling { samples },
        } => crate::selfcheck::sampling::run(&common, samples).await,
        Cmd::Selfcheck {
            what:
                SelfcheckCmd::Load {
                    rounds,
                    seconds,
                    connections,
                    path,
                    generator_cpu,
                    one_after_the_other,
                },
        } => {
            crate::selfcheck::load::run(
                &common,
                rounds,
                seconds,
                connections,
                &path,
                generator_cpu,
                one_after_the_other,
            )
            .await
        }
        Cmd::Selfcheck {
            what:
                SelfcheckCmd::Scaling {
                    k,
                    entities,
                    repeats,
                    base_mib,
                    top_mib,
                },
        } => {
            crate::selfcheck::scaling::run(&common, &k, &entities, repeats, base_mib, top_mib).await
        }
    }
}

/// The workspace root: where `profiles/` and `compose/` live. `cargo xtask`
/// runs from anywhere inside the checkout, so find it from the manifest.
pub(crate) fn repo_root() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("RUNCOST_ROOT") {
        return Ok(PathBuf::from(dir));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().context("xtask has no parent directory")?;
    if root.join("profiles").is_dir() {
        return Ok(root.to_path_buf());
    }
    std::env::current_dir().context("current directory")
}

/// Whether the process was started as `runcost` (src/bin/runcost.rs sets
/// argv[0]; a symlink named runcost does too).
pub fn started_as_runcost() -> bool {
    std::env::args_os()
        .next()
        .is_some_and(|a| Path::new(&a).file_name() == Some("runcost".as_ref()))
}

/// `runcost`'s root: `RUNCOST_ROOT`, else the current directory (the
/// repository of the service measured: `profiles/`, `results/` and
/// `baselines/` are looked up there).
fn project_root() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("RUNCOST_ROOT") {
        return Ok(PathBuf::from(dir));
    }
    std::env::current_dir().context("current directory")
}

/// Whether `root` is the runcost checkout (its setup script, bundled
/// targets and box guest are there) or another project's repository.
pub fn is_checkout(root: &Path) -> bool {
    root.join("scripts/setup").is_file() && root.join("xtask/Cargo.toml").is_file()
}

/// Where `setup` stages a profile's image context: under the checkout's
/// `target/`, else in the user's cache (never in the measured repository).
pub fn image_stage(root: &Path, profile: &str) -> PathBuf {
    if is_checkout(root) {
        return root.join("target/runcost-images").join(profile);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("runcost/images").join(profile)
}

/// Typed measurement options from the shared flags.
fn measure_settings(
    lane: crate::results::LaneKind,
    m: &crate::cli::MeasureArgs,
) -> Result<(crate::results::Settings, crate::lanes::MeasureOpts)> {
    use crate::error::bad_input;
    if !(0.1..=1000.0).contains(&m.rate) {
        bad_input!(
            "--rate {}: samples per second must be between 0.1 and 1000",
            m.rate
        );
    }
    if m.duration.0.as_secs_f64() < 1.0 {
        bad_input!("--duration {}: the window must be at least 1s", m.duration);
    }
    if m.duration.0.as_secs_f64() * m.rate < 10.0 {
        bad_input!(
            "--duration {} at --rate {} gives fewer than 10 samples; lengthen the window or raise the rate",
            m.duration,
            m.rate
        );
    }
    if !(0.0..1.0).contains(&m.ci_target) {
        bad_input!(
            "--ci-target {}: must be a fraction in [0, 1), e.g. 0.005",
            m.ci_target
        );
    }
    let settings = crate::results::Settings {
        lane,
        repeats: m.repeats,
        rate_hz: m.rate,
        sampler: m.sampler,
        window_s: m.duration.0.as_secs_f64(),
        env: m.env.iter().cloned().collect(),
        lane_args: Default::default(),
        command: Vec::new(),
    };
    let opts = crate::lanes::MeasureOpts {
        rate_hz: m.rate,
        sampler: m.sampler,
        window: m.duration.0,
        max_window: m.max_duration.0.max(m.duration.0),
        ci_target: m.ci_target,
        stop_grace: std::time::Duration::from_secs(10),
    };
    Ok((settings, opts))
}

/// Where the results are, and the headline numbers.
fn print_outcome(common: &Common, o: &crate::runner::Outcome) -> Result<()> {
    if common.json {
        println!("{}", serde_json::to_string_pretty(&o.record)?);
        return Ok(());
    }
    for lane in &o.record.lanes {
        for f in &lane.findings {
            println!("{}", crate::report::words::finding(f));
        }
        // Per-parameter lanes print their headline metrics only; the report has the rest.
        let headline = |a: &crate::results::Aggregate| {
            a.params.is_empty()
                || matches!(
                    a.metric,
                    crate::results::MetricKind::Uss | crate::results::MetricKind::CpuCores
                )
        };
        for a in lane.aggregates.iter().filter(|a| headline(a)) {
            let ci = a
                .ci95
                .map(|(lo, hi)| format!(" [{} – {}]", a.unit.show(lo), a.unit.show(hi)))
                .unwrap_or_default();
            let params: Vec<String> = a.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!(
                "{:<14} {:<16} median {}{} (n={}, {})",
                a.metric.label(),
                params.join(" "),
                a.unit.show(a.median),
                ci,
                a.n,
                a.tier
            );
        }
        for s in &lane.skipped {
            println!("note: {s}");
        }
    }
    println!("report: {}", o.run.path("report.md").display());
    Ok(())
}
