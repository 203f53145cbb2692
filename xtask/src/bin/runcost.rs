//! `runcost`: the harness under its own name, for use from any repository
//! (`cargo install --path xtask` installs it beside `xtask`). It is the
//! same program: it runs the `xtask` binary next to it with argv[0]
//! `runcost`, which makes it take the current directory (or
//! `RUNCOST_ROOT`) as the project root instead of the runcost checkout.
//! One binary holds the code, so it is compiled once.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|me| Some(me.parent()?.join("xtask")));
    let Some(xtask) = beside.filter(|p| p.is_file()) else {
        eprintln!(
            "Error: runcost needs the `xtask` binary beside it; install both with `cargo install --path xtask`"
        );
        return ExitCode::from(2);
    };
    let err = Command::new(&xtask)
        .arg0("runcost")
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("Error: run {}: {err}", xtask.display());
    ExitCode::from(2)
}
