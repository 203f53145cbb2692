//! A daemon a test starts itself (a second dockerd, a Podman API service,
//! an sshd): its output in a log file, its own process group so that one
//! signal reaches everything it forks, and a stop that asks first
//! (SIGTERM), waits, then kills the group.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Spawns `cmd` with stdin closed, stdout and stderr appended to `log`, in
/// a process group of its own.
pub fn spawn_logged(mut cmd: Command, log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()))
}

/// Spawns an engine (see [`spawn_logged`]) and waits until `docker -H url
/// version` answers; panics with the log after `within`.
pub fn spawn_engine(
    cmd: Command,
    log: &Path,
    url: &str,
    within: Duration,
    poll: Duration,
) -> Child {
    let mut child = spawn_logged(cmd, log);
    let deadline = Instant::now() + within;
    loop {
        let up = Command::new("docker")
            .args(["-H", url, "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if up {
            return child;
        }
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() >= deadline {
            stop_group(&mut child, Duration::ZERO);
            panic!(
                "engine at {url} not up in {within:?} ({}): {}",
                exited.map_or("still starting".to_string(), |s| s.to_string()),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(poll);
    }
}

/// SIGTERM to the child's process group, up to `grace` for it to exit,
/// then SIGKILL to the group (what is left of it) and reap.
pub fn stop_group(child: &mut Child, grace: Duration) {
    use nix::sys::signal::{killpg, Signal};
    let pg = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = killpg(pg, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = killpg(pg, Signal::SIGKILL);
    let _ = child.wait();
}

/// Kills the child's process group at once (no SIGTERM: a host that went
/// away) and reaps it.
pub fn kill_group(child: &mut Child) {
    let pg = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
}

/// Processes (other than this one) whose argv contains `needle`: what a
/// test started and may have outlived its parent.
pub fn processes_naming(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| *pid != me)
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `docker save` from the local engine piped into `docker -H url load`: a
/// test's own engine gets the images `cargo xtask setup` built here.
pub fn load_image(url: &str, image: &str) {
    let mut save = Command::new("docker")
        .args(["save", image])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let load = Command::new("docker")
        .args(["-H", url, "load"])
        .stdin(save.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(
        save.wait().unwrap().success() && load.status.success(),
        "load {image}: {}",
        String::from_utf8_lossy(&load.stderr)
    );
}
