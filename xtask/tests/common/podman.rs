//! A Podman API service the test starts itself: its own storage root,
//! run root, tmp dir and network config dir under a temp dir, a unix
//! socket there, runc as the runtime (crun refuses this host's hybrid
//! cgroup layout). Everything it made is removed on drop (success, failed
//! assert, panic): containers (through the podman CLI on the same root,
//! which works whether the service still runs or not), the service's
//! process group, its overlay mounts, the directory, and the host objects
//! rootful Podman creates outside it when they were not there before
//! (`libpod_parent` cgroups, CNI bridges and firewall chains).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PodmanService {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// `unix:///…/podman.sock`
    pub url: String,
    had_libpod_parent: bool,
    had_cni_chains: bool,
    links_before: Vec<String>,
    ipam_before: Vec<std::ffi::OsString>,
    had_containers_dir: bool,
}

/// CNI's host-local IPAM state: one directory per network, outside --root.
const IPAM: &str = "/var/lib/cni/networks";

fn ipam_dirs() -> Vec<std::ffi::OsString> {
    std::fs::read_dir(IPAM)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

fn quiet(argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn links() -> Vec<String> {
    let out = Command::new("ip").args(["-o", "link"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// Whether podman is installed (scripts/setup installs it).
pub fn available() -> bool {
    quiet(&["podman", "--version"])
}

impl PodmanService {
    pub fn start() -> PodmanService {
        let dir = tempfile::Builder::new()
            .prefix("rcpod-")
            .tempdir_in("/tmp")
            .unwrap();
        let url = format!("unix://{}", dir.path().join("podman.sock").display());
        let mut s = PodmanService {
            had_libpod_parent: Path::new("/sys/fs/cgroup/memory/libpod_parent").exists(),
            had_cni_chains: quiet(&["iptables", "-n", "-L", "CNI-FORWARD"]),
            links_before: links(),
            ipam_before: ipam_dirs(),
            had_containers_dir: Path::new("/var/lib/containers").exists(),
            dir,
            child: None,
            url,
        };
        s.spawn();
        s
    }

    /// podman's global flags: everything under the test's directory.
    pub fn global_args(&self) -> Vec<String> {
        let p = |s: &str| self.dir.path().join(s).to_string_lossy().into_owned();
        vec![
            "--root".into(),
            p("root"),
            "--runroot".into(),
            p("run"),
            "--tmpdir".into(),
            p("tmp"),
            "--network-config-dir".into(),
            p("net"),
            "--runtime".into(),
            "runc".into(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
        ]
    }

    /// Starts (or restarts, on the same storage) the API service.
    pub fn spawn(&mut self) {
        let log_path = self.dir.path().join("service.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let child = Command::new("podman")
            .args(self.global_args())
            .args(["system", "service", "--time=0", &self.url])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start podman system service");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.docker(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "podman service not up in 30 s: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The docker CLI against the service.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .args(["-H", &self.url])
            .args(args)
            .output()
            .expect("docker")
    }

    /// The podman CLI on the service's storage (works without the service).
    pub fn podman(&self, args: &[&str]) -> std::process::Output {
        Command::new("podman")
            .args(self.global_args())
            .args(args)
            .output()
            .expect("podman")
    }

    /// `docker save` from the local engine into the service (`load`).
    pub fn load_image(&self, image: &str) {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let load = Command::new("docker")
            .args(["-H", &self.url, "load"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(
            save.wait().unwrap().success() && load.status.success(),
            "load {image}: {}",
            String::from_utf8_lossy(&load.stderr)
        );
    }

    /// Containers carrying a run's label, counted from the storage.
    pub fn labelled(&self, run: &str) -> usize {
        let out = self.podman(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=dev.runcost.run={run}"),
        ]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    /// The service dies as an engine does when its host goes away:
    /// SIGKILL to its process group, no cleanup of its own.
    pub fn kill(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        if let Some(mut c) = self.child.take() {
            let pg = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = killpg(pg, Signal::SIGKILL);
            let _ = c.wait();
        }
    }

    fn stop(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        if let Some(mut c) = self.child.take() {
            let pg = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = killpg(pg, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && c.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = killpg(pg, Signal::SIGKILL);
            let _ = c.wait();
        }
    }
}

/// Processes whose argv names `dir` (the service's conmons), not this one.
fn processes_naming(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| *pid != me)
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Mount points under `dir` (overlay layers of running or dead containers),
/// deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut m: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    m.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    m
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        // Containers first (conmon keeps them alive without the service).
        let _ = self.podman(&["rm", "--all", "--force", "--time", "0"]);
        let _ = self.podman(&["network", "prune", "--force"]);
        let _ = self.podman(&["pod", "rm", "--all", "--force"]);
        self.stop();
        // conmon of each container and exec session outlives the service;
        // ours are the ones whose argv names this test's directory.
        for pid in processes_naming(self.dir.path()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for m in mounts_under(self.dir.path()) {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        let _ = Command::new("rm").arg("-rf").arg(self.dir.path()).status();
        if !self.had_libpod_parent {
            if let Ok(ctls) = std::fs::read_dir("/sys/fs/cgroup") {
                // conmon leaves its cgroup a moment after its container.
                let deadline = Instant::now() + Duration::from_secs(5);
                for c in ctls.flatten() {
                    let parent = c.path().join("libpod_parent");
                    while parent.exists() && Instant::now() < deadline {
                        let _ = std::fs::remove_dir(parent.join("conmon"));
                        let _ = std::fs::remove_dir(&parent);
                        if parent.exists() {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
            }
        }
        for l in links() {
            if l.starts_with("cni-podman") && !self.links_before.contains(&l) {
                quiet(&["ip", "link", "del", &l]);
            }
        }
        for d in ipam_dirs() {
            if !self.ipam_before.contains(&d) {
                let _ = std::fs::remove_dir_all(Path::new(IPAM).join(d));
            }
        }
        if !self.had_containers_dir {
            let _ = std::fs::remove_dir_all("/var/lib/containers");
        }
        if !self.had_cni_chains {
            quiet(&[
                "iptables",
                "-D",
                "FORWARD",
                "-m",
                "comment",
                "--comment",
                "CNI firewall plugin rules (ingressPolicy: same-bridge)",
                "-j",
                "CNI-ISOLATION-STAGE-1",
            ]);
            // The portmap plugin's NAT chains (published ports).
            for (hook, rest) in [
                (
                    "PREROUTING",
                    [
                        "-m",
                        "addrtype",
                        "--dst-type",
                        "LOCAL",
                        "-j",
                        "CNI-HOSTPORT-DNAT",
                    ],
                ),
                (
                    "OUTPUT",
                    [
                        "-m",
                        "addrtype",
                        "--dst-type",
                        "LOCAL",
                        "-j",
                        "CNI-HOSTPORT-DNAT",
                    ],
                ),
                (
                    "POSTROUTING",
                    [
                        "-m",
                        "comment",
                        "--comment",
                        "CNI portfwd requiring masquerade",
                        "-j",
                        "CNI-HOSTPORT-MASQ",
                    ],
                ),
            ] {
                let mut argv = vec!["iptables", "-t", "nat", "-D", hook];
                argv.extend(rest);
                quiet(&argv);
            }
            for chain in [
                "CNI-HOSTPORT-DNAT",
                "CNI-HOSTPORT-MASQ",
                "CNI-HOSTPORT-SETMARK",
            ] {
                quiet(&["iptables", "-t", "nat", "-F", chain]);
                quiet(&["iptables", "-t", "nat", "-X", chain]);
            }
            for chain in ["CNI-ISOLATION-STAGE-1", "CNI-ISOLATION-STAGE-2"] {
                quiet(&["iptables", "-F", chain]);
                quiet(&["iptables", "-X", chain]);
            }
            quiet(&[
                "iptables",
                "-D",
                "FORWARD",
                "-m",
                "comment",
                "--comment",
                "CNI firewall plugin rules",
                "-j",
                "CNI-FORWARD",
            ]);
            for chain in ["CNI-FORWARD", "CNI-ADMIN"] {
                quiet(&["iptables", "-F", chain]);
                quiet(&["iptables", "-X", chain]);
            }
        }
    }
}
