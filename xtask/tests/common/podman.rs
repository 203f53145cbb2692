//! A Podman API service the test starts itself: its own storage root,
//! run root, tmp dir and network config dir under a temp dir, a unix
//! socket there, runc as the runtime (crun refuses this host's hybrid
//! cgroup layout). Everything it made is removed on drop (success, failed
//! assert, panic): containers (through the podman CLI on the same root,
//! which works whether the service still runs or not), the service's
//! process group, its overlay mounts, the directory, and the host objects
//! rootful Podman creates outside it when they were not there before
//! (`libpod_parent` cgroups, CNI bridges and firewall chains).

use crate::common::service;
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

/// The jumps rootful Podman's CNI plugins add to the built-in chains
/// (table, hook, the rule's match and target): the firewall plugin's two in
/// FORWARD, the portmap plugin's NAT ones (published ports).
const CNI_JUMPS: [(&str, &str, &[&str]); 5] = [
    (
        "filter",
        "FORWARD",
        &[
            "-m",
            "comment",
            "--comment",
            "CNI firewall plugin rules (ingressPolicy: same-bridge)",
            "-j",
            "CNI-ISOLATION-STAGE-1",
        ],
    ),
    (
        "filter",
        "FORWARD",
        &[
            "-m",
            "comment",
            "--comment",
            "CNI firewall plugin rules",
            "-j",
            "CNI-FORWARD",
        ],
    ),
    (
        "nat",
        "PREROUTING",
        &[
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            "CNI-HOSTPORT-DNAT",
        ],
    ),
    (
        "nat",
        "OUTPUT",
        &[
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            "CNI-HOSTPORT-DNAT",
        ],
    ),
    (
        "nat",
        "POSTROUTING",
        &[
            "-m",
            "comment",
            "--comment",
            "CNI portfwd requiring masquerade",
            "-j",
            "CNI-HOSTPORT-MASQ",
        ],
    ),
];

/// The chains those plugins create, flushed then deleted once no built-in
/// chain jumps to them; a chain before the ones it jumps to.
const CNI_CHAINS: [(&str, &str); 7] = [
    ("nat", "CNI-HOSTPORT-DNAT"),
    ("nat", "CNI-HOSTPORT-MASQ"),
    ("nat", "CNI-HOSTPORT-SETMARK"),
    ("filter", "CNI-ISOLATION-STAGE-1"),
    ("filter", "CNI-ISOLATION-STAGE-2"),
    ("filter", "CNI-FORWARD"),
    ("filter", "CNI-ADMIN"),
];

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
        let mut cmd = Command::new("podman");
        cmd.args(self.global_args())
            .args(["system", "service", "--time=0", &self.url]);
        self.child = Some(service::spawn_engine(
            cmd,
            &self.dir.path().join("service.log"),
            &self.url,
            Duration::from_secs(30),
            Duration::from_millis(100),
        ));
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
        service::load_image(&self.url, image);
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
        if let Some(mut c) = self.child.take() {
            service::kill_group(&mut c);
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            service::stop_group(&mut c, Duration::from_secs(10));
        }
    }
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
        for pid in service::processes_naming(&self.dir.path().to_string_lossy()) {
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
            for (table, hook, rule) in CNI_JUMPS {
                let mut argv = vec!["iptables", "-t", table, "-D", hook];
                argv.extend(rule);
                quiet(&argv);
            }
            for (table, chain) in CNI_CHAINS {
                quiet(&["iptables", "-t", table, "-F", chain]);
                quiet(&["iptables", "-t", table, "-X", chain]);
            }
        }
    }
}
