//! A second engine the test starts itself, reached only over tcp:// on an
//! address inside a network namespace the test creates (veth pair) and
//! removes: a footprint run and a compare through `--engine`, the exec
//! sampler chosen automatically (the engine runs in its own PID
//! namespace, so its PIDs are not this host's), and `clean --run` on one
//! engine leaving the other's containers alone.

mod common;

use common::{record, root, run, serial, xtask};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The second dockerd, its netns, veth, cgroup parent and directories;
/// removed on every path (Drop runs on success, failed asserts, panics).
struct SecondEngine {
    id: String,
    ns: String,
    veth_host: String,
    dir: tempfile::TempDir,
    dockerd: Option<Child>,
    url: String,
}

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

impl SecondEngine {
    fn start() -> SecondEngine {
        let pid = std::process::id();
        let id = format!("{:06x}", pid & 0xffffff);
        let n = 1 + (pid % 250);
        let (outer, inner) = (format!("10.213.{n}.1"), format!("10.213.{n}.2"));
        let mut e = SecondEngine {
            ns: format!("runcost-test-{id}"),
            veth_host: format!("rct{id}h"),
            dir: tempfile::Builder::new()
                .prefix("rc2-")
                .tempdir_in("/tmp")
                .unwrap(),
            dockerd: None,
            url: format!("tcp://{inner}:2375"),
            id,
        };
        let veth_ns = format!("rct{}n", e.id);
        must(&["ip", "netns", "add", &e.ns]);
        must(&[
            "ip",
            "link",
            "add",
            &e.veth_host,
            "type",
            "veth",
            "peer",
            "name",
            &veth_ns,
        ]);
        must(&["ip", "link", "set", &veth_ns, "netns", &e.ns]);
        must(&[
            "ip",
            "addr",
            "add",
            &format!("{outer}/30"),
            "dev",
            &e.veth_host,
        ]);
        must(&["ip", "link", "set", &e.veth_host, "up"]);
        let in_ns = |args: &[&str]| {
            let mut a = vec!["ip", "-n", e.ns.as_str()];
            a.extend_from_slice(args);
            must(&a);
        };
        in_ns(&["addr", "add", &format!("{inner}/30"), "dev", &veth_ns]);
        in_ns(&["link", "set", &veth_ns, "up"]);
        in_ns(&["link", "set", "lo", "up"]);
        let d = e.dir.path();
        for sub in ["data", "exec"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        // nsenter enters the network namespace only (`ip netns exec` would
        // remount /sys and hide the cgroup mounts); unshare gives the engine
        // its own PID and mount namespaces.
        let p = |s: &str| d.join(s).to_string_lossy().into_owned();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", e.ns))
            .args(["unshare", "--pid", "--fork", "--mount-proc", "dockerd"])
            .args(["--data-root", &p("data"), "--exec-root", &p("exec")])
            .args(["--pidfile", &p("docker.pid"), "-H", &e.url])
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .arg(format!("--cgroup-parent=/runcost-test-{}", e.id))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start the second dockerd");
        e.dockerd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !e.docker(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "second dockerd not up in 60 s: {}",
                std::fs::read_to_string(d.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        e
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("-H")
            .arg(&self.url)
            .args(args)
            .output()
            .expect("docker")
    }

    /// `docker save` here piped into `docker load` there (through the API).
    fn load_image(&self, image: &str) {
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
        assert!(save.wait().unwrap().success() && load.status.success());
    }

    fn labelled(&self, run: &str) -> usize {
        let out = self.docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=dev.runcost.run={run}"),
        ]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        if let Some(mut c) = self.dockerd.take() {
            let pg = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = killpg(pg, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && c.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(200));
            }
            // The namespace's init gone, the kernel kills the rest of it.
            let _ = killpg(pg, Signal::SIGKILL);
            let _ = c.wait();
        }
        sh(&["ip", "netns", "del", &self.ns]);
        sh(&["ip", "link", "del", &self.veth_host]);
        if let Ok(ctls) = std::fs::read_dir("/sys/fs/cgroup") {
            for c in ctls.flatten() {
                let _ = std::fs::remove_dir(c.path().join(format!("runcost-test-{}", self.id)));
            }
        }
        let _ = Command::new("rm").arg("-rf").arg(self.dir.path()).status();
    }
}

fn local_labelled(run: &str) -> usize {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=dev.runcost.run={run}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn footprint(results: &Path, url: &str) -> String {
    let out = run(xtask(results).args([
        "--engine",
        url,
        "footprint",
        "--repeats",
        "2",
        "--duration",
        "2s",
        "--max-duration",
        "2s",
    ]));
    assert_eq!(out.status.code(), Some(0));
    common::latest(results)
}

#[test]
fn footprint_compare_and_clean_through_a_tcp_engine_in_a_test_namespace() {
    let _g = serial();
    let engine = SecondEngine::start();
    engine.load_image("runcost/gateway:dev");
    let results = tempfile::tempdir().unwrap();

    let base = footprint(results.path(), &engine.url);
    let r = record(results.path(), &base);
    assert_eq!(r["engine"]["transport"], "tcp");
    assert_eq!(r["engine"]["kind"], "docker");
    assert_eq!(r["engine"]["traffic"]["kind"], "network");
    assert_eq!(r["settings"]["sampler"], "auto");
    for cell in r["lanes"][0]["cells"].as_array().unwrap() {
        assert_eq!(cell["sampler_mode"], "exec", "chosen, not asked: {cell}");
    }
    assert!(common::median(&r, "uss") > 10.0 * 1048576.0);
    let report = std::fs::read_to_string(results.path().join(&base).join("report.md")).unwrap();
    assert!(report.contains("traffic crossed a network"), "{report}");

    let out = run(xtask(results.path()).args([
        "update-baseline",
        "--run",
        &base,
        "--name",
        "remote-e2e",
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let baselines = tempfile::tempdir().unwrap();
    let baseline: PathBuf = baselines.path().join("remote-e2e.json");
    std::fs::rename(root().join("baselines/remote-e2e.json"), &baseline).unwrap();
    let same = footprint(results.path(), &engine.url);
    let out = run(xtask(results.path()).args([
        "compare",
        "--baseline",
        baseline.to_str().unwrap(),
        "--run",
        &same,
        "--allow-overloaded",
    ]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "an unchanged build passes remotely"
    );

    // One run id on both engines: each `clean` removes its engine's only.
    let label = format!("dev.runcost.run=remote-iso-{}", engine.id);
    let run_id = label.split('=').nth(1).unwrap().to_string();
    let create = |host: Option<&str>| {
        let mut c = Command::new("docker");
        if let Some(h) = host {
            c.args(["-H", h]);
        }
        let ok = c
            .args(["create", "--label", &label, "runcost/gateway:dev"])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "create a labelled container");
    };
    create(None);
    create(Some(&engine.url));
    let out = run(xtask(results.path()).args(["--engine", &engine.url, "clean", "--run", &run_id]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        engine.labelled(&run_id),
        0,
        "remote clean removed the remote one"
    );
    assert_eq!(local_labelled(&run_id), 1, "and left the local one");
    create(Some(&engine.url));
    let out = run(xtask(results.path()).args(["clean", "--run", &run_id]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        local_labelled(&run_id),
        0,
        "local clean removed the local one"
    );
    assert_eq!(engine.labelled(&run_id), 1, "and left the remote one");
    for id in [&base, &same] {
        assert_eq!(engine.labelled(id), 0);
        assert_eq!(local_labelled(id), 0);
    }
}

#[test]
fn an_unreachable_or_malformed_engine_is_refused_with_the_fix() {
    let results = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens.
    let out = run(xtask(results.path()).args(["--engine", "tcp://127.0.0.1:1", "footprint"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not reachable") && err.contains("listens there"),
        "{err}"
    );
    let out = run(xtask(results.path()).args(["--engine", "tcp://127.0.0.1:x", "footprint"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a number"));
    let out = run(xtask(results.path())
        .env("DOCKER_HOST", "https://127.0.0.1:2376")
        .args(["footprint"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS engines are not supported"));
    assert!(
        std::fs::read_dir(results.path()).unwrap().next().is_none(),
        "nothing written"
    );
}
