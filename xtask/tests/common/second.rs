//! A second dockerd the test starts itself, in a network namespace the
//! test creates (a veth pair to this host's namespace) and removes, with
//! its own data root, exec root, pid file, cgroup parent and PID namespace
//! (so its containers' PIDs are not this host's: the exec sampler's case).
//! Only the namespace's inner address (or a unix socket) is ever dialled.
#![allow(dead_code)] // each test binary uses its own subset

use crate::common::service;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn sh(argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn must(argv: &[&str]) {
    assert!(sh(argv), "{argv:?} failed");
}

/// Namespaces made by this test process: each gets its own name and /30.
static MADE: AtomicU32 = AtomicU32::new(0);

/// A network namespace and the veth pair into it (`outer` here, `inner`
/// there, one /30); removed on drop.
pub struct TestNetns {
    /// Unique per test process and namespace: names, cgroups, labels.
    pub id: String,
    pub name: String,
    veth_host: String,
    pub outer: Ipv4Addr,
    pub inner: Ipv4Addr,
}

impl TestNetns {
    pub fn create() -> TestNetns {
        let pid = std::process::id();
        let k = MADE.fetch_add(1, Ordering::Relaxed);
        assert!(k < 64, "at most 64 namespaces per test process");
        let id = format!("{:05x}{k:x}", pid & 0xfffff);
        let n = (1 + pid % 250) as u8;
        let base = 4 * k as u8;
        let ns = TestNetns {
            name: format!("runcost-test-{id}"),
            veth_host: format!("rct{id}h"),
            outer: Ipv4Addr::new(10, 213, n, base + 1),
            inner: Ipv4Addr::new(10, 213, n, base + 2),
            id,
        };
        let veth_ns = format!("rct{}n", ns.id);
        must(&["ip", "netns", "add", &ns.name]);
        let host_side = |args: &[&str]| {
            let mut a = vec!["ip"];
            a.extend_from_slice(args);
            must(&a);
        };
        host_side(&[
            "link",
            "add",
            &ns.veth_host,
            "type",
            "veth",
            "peer",
            "name",
            &veth_ns,
        ]);
        host_side(&["link", "set", &veth_ns, "netns", &ns.name]);
        host_side(&[
            "addr",
            "add",
            &format!("{}/30", ns.outer),
            "dev",
            &ns.veth_host,
        ]);
        host_side(&["link", "set", &ns.veth_host, "up"]);
        let in_ns = |args: &[&str]| {
            let mut a = vec!["ip", "-n", ns.name.as_str()];
            a.extend_from_slice(args);
            must(&a);
        };
        in_ns(&["addr", "add", &format!("{}/30", ns.inner), "dev", &veth_ns]);
        in_ns(&["link", "set", &veth_ns, "up"]);
        in_ns(&["link", "set", "lo", "up"]);
        ns
    }

    /// `nsenter` into this namespace's network only (`ip netns exec` would
    /// remount /sys and hide the cgroup mounts dockerd needs).
    pub fn enter(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.name));
        c
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its veth end, and so the pair;
        // the second `del` is for a namespace that was never entered.
        sh(&["ip", "netns", "del", &self.name]);
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth_host])
            .stderr(Stdio::null())
            .status();
    }
}

/// Where the second dockerd listens.
pub enum Listen {
    /// `tcp://INNER:2375`, inside the namespace.
    Tcp,
    /// A unix socket in the engine's directory (reached over ssh, or
    /// directly by the test's own `docker -H unix://…` checks).
    Unix,
}

/// The second dockerd, its namespace and directories; removed on every
/// path (Drop runs on success, failed asserts, panics).
pub struct SecondEngine {
    pub dir: tempfile::TempDir,
    dockerd: Option<Child>,
    /// What `docker -H` takes: `tcp://INNER:2375` or `unix:///…/docker.sock`.
    pub url: String,
    /// Declared last: dropped after dockerd is gone.
    pub netns: TestNetns,
}

impl SecondEngine {
    pub fn start(listen: Listen) -> SecondEngine {
        let netns = TestNetns::create();
        let dir = tempfile::Builder::new()
            .prefix("rc2-")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let url = match listen {
            Listen::Tcp => format!("tcp://{}:2375", netns.inner),
            Listen::Unix => format!("unix://{}", d.join("docker.sock").display()),
        };
        for sub in ["data", "exec"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let p = |s: &str| d.join(s).to_string_lossy().into_owned();
        // unshare gives the engine its own PID and mount namespaces.
        let mut cmd = netns.enter();
        cmd.args(["unshare", "--pid", "--fork", "--mount-proc", "dockerd"])
            .args(["--data-root", &p("data"), "--exec-root", &p("exec")])
            .args(["--pidfile", &p("docker.pid"), "-H", &url])
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .arg(format!("--cgroup-parent=/runcost-test-{}", netns.id));
        let dockerd = service::spawn_engine(
            cmd,
            &d.join("dockerd.log"),
            &url,
            Duration::from_secs(60),
            Duration::from_millis(500),
        );
        SecondEngine {
            dir,
            dockerd: Some(dockerd),
            url,
            netns,
        }
    }

    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("-H")
            .arg(&self.url)
            .args(args)
            .output()
            .expect("docker")
    }

    /// `docker save` here piped into `docker load` there (through the API).
    pub fn load_image(&self, image: &str) {
        service::load_image(&self.url, image);
    }

    /// Containers carrying a run's label on this engine.
    pub fn labelled(&self, run: &str) -> usize {
        let out = self.docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=dev.runcost.run={run}"),
        ]);
        assert!(out.status.success(), "docker -H {} ps", self.url);
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        if let Some(mut c) = self.dockerd.take() {
            // The PID namespace's init gone, the kernel kills the rest of it.
            service::stop_group(&mut c, Duration::from_secs(20));
        }
        if let Ok(ctls) = std::fs::read_dir("/sys/fs/cgroup") {
            for c in ctls.flatten() {
                let _ =
                    std::fs::remove_dir(c.path().join(format!("runcost-test-{}", self.netns.id)));
            }
        }
        let _ = Command::new("rm").arg("-rf").arg(self.dir.path()).status();
    }
}

/// Containers carrying a run's label on the local engine.
pub fn local_labelled(run: &str) -> usize {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=dev.runcost.run={run}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker ps");
    String::from_utf8_lossy(&out.stdout).lines().count()
}
