//! Runs the built binary: exit codes, signals, start-up logging.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn gateway() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gateway"));
    cmd.env_clear().stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

/// Starts the binary on an ephemeral port; returns it, its address and the
/// stderr lines read so far.
fn spawn(vars: &[(&str, &str)]) -> (Child, SocketAddr, Vec<String>) {
    let mut child = gateway()
        .env("PORT", "0")
        .envs(vars.iter().copied())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let line = lines
            .next()
            .expect("gateway exited before listening")
            .expect("read");
        seen.push(line.clone());
        if let Some(rest) = line.strip_prefix("gateway: listening on ") {
            let port: u16 = rest
                .split(' ')
                .next()
                .and_then(|a| a.rsplit(':').next()?.parse().ok())
                .expect("port");
            break SocketAddr::from(([127, 0, 0, 1], port));
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr, seen)
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("gateway did not exit within 10 s");
}

#[test]
fn bad_config_exits_2_naming_the_variable() {
    for (var, value) in [
        ("GROWTH_K", "0"),
        ("ENTITIES", "many"),
        ("FAULT_RETAIN", "yes"),
        ("PORT", "99999"),
    ] {
        let out = gateway().env(var, value).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}

#[test]
fn sigterm_and_sigint_exit_cleanly() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let (mut child, addr, seen) = spawn(&[("ENTITIES", "50"), ("LEAK_BYTES_PER_S", "1000")]);
        assert!(
            seen.iter()
                .any(|l| l.starts_with("gateway: config port=0 entities=50 ")),
            "{seen:?}"
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let stats = rt.block_on(common::call(addr, "GET", "/stats")).json();
        assert_eq!(stats["entities"], 50);
        signal(&child, sig);
        assert_eq!(wait(&mut child).code(), Some(0), "signal {sig}");
    }
}
