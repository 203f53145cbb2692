//! runcost: measures what a containerized service costs to run, and gates
//! regressions. `main` parses flags, builds the shared options and
//! dispatches; each subcommand lives in its own file.

mod boxes;
mod cli;
mod cli_values;
mod cmd;
mod compare;
mod engine;
mod error;
mod events;
mod frame;
mod fs;
mod httpc;
mod lanes;
mod memcached;
mod probe;
mod profile;
mod report;
mod results;
mod rundir;
mod runner;
mod selfcheck;
mod units;

use clap::{CommandFactory, FromArgMatches, Parser};
use error::ExitCode;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNCOST_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // Started as `runcost` (see src/bin/runcost.rs): the project is the
    // current directory, not the runcost checkout.
    let cli = if cmd::started_as_runcost() {
        let m = cli::Cli::command()
            .name("runcost")
            .bin_name("runcost")
            .get_matches();
        cli::Cli::from_arg_matches(&m).unwrap_or_else(|e| e.exit())
    } else {
        cli::Cli::parse()
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: start the async runtime: {e}");
            return std::process::ExitCode::from(ExitCode::Refused as u8);
        }
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match rt.block_on(cmd::dispatch(cli, argv)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::for_error(&e)
        }
    };
    std::process::ExitCode::from(code as u8)
}
