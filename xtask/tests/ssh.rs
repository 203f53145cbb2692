//! The `ssh://` engine against a real sshd: the test starts its own sshd
//! (own config, host key and client key, made with ssh-keygen in a temp
//! dir) on the inner address of a network namespace it creates and
//! removes, beside a second dockerd there that listens on a unix socket
//! only. runcost reaches that socket through its `ssh -L` tunnel: a
//! footprint run (exec sampler chosen by itself) and a scoped `clean`
//! through the same URL. Then the faults: a key the server refuses, a
//! host key not known, nothing listening, no ssh installed: exit 2 with
//! ssh's own words and the fix, nothing left running or on disk.

mod common;
#[path = "common/second.rs"]
mod second;

use common::service;
use common::{record, serial, xtask};
use second::{local_labelled, Listen, SecondEngine, TestNetns};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The port the test's sshd listens on (inside its namespace: not 22, so
/// it can never be taken for a system sshd).
const PORT: u16 = 2222;

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "runcost-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (scripts/setup installs openssh-client)")
        .success();
    assert!(ok, "ssh-keygen -f {}", path.display());
}

/// An sshd of the test's own in `netns`, accepting the client key for
/// root; its process group killed on drop, and with it any per-connection
/// child (those call setsid, so they are found by the config path in
/// their argv: sshd re-executes itself with its own arguments).
struct Sshd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    addr: SocketAddr,
    made_privsep_dir: bool,
}

impl Sshd {
    fn start(netns: &TestNetns) -> Sshd {
        Sshd::start_with(netns, PORT, true)
    }

    /// An sshd on `port`; `forwarding: false` forbids the forwards a
    /// tunnel to a socket needs.
    fn start_with(netns: &TestNetns, port: u16, forwarding: bool) -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("rcssh-")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let addr = SocketAddr::new(netns.inner.into(), port);
        let (stream_local, tcp) = if forwarding {
            ("yes", "local")
        } else {
            ("no", "no")
        };
        // AllowTcpForwarding gates `-L socket:socket` forwards too: with
        // `no`, sshd logs "Received request to connect to path …, but the
        // request was denied" and the engine is not reachable through the
        // tunnel; `local` allows -L, not -R.
        let config = format!(
            "ListenAddress {addr}\n\
             HostKey {d}/host_key\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\n\
             UsePAM no\n\
             PermitRootLogin prohibit-password\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             AllowStreamLocalForwarding {stream_local}\n\
             AllowTcpForwarding {tcp}\n\
             X11Forwarding no\n\
             PrintMotd no\n\
             LogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        // sshd's privilege separation chroots its pre-auth child there.
        let privsep = Path::new("/run/sshd");
        let made_privsep_dir = !privsep.exists();
        if made_privsep_dir {
            std::fs::create_dir_all(privsep).unwrap();
        }
        let mut cmd = netns.enter();
        // An absolute path: sshd refuses to re-execute itself otherwise.
        cmd.args(["/usr/sbin/sshd", "-D", "-e", "-f"])
            .arg(d.join("sshd_config"));
        let log = d.join("sshd.log");
        let mut s = Sshd {
            child: Some(service::spawn_logged(cmd, &log)),
            dir,
            addr,
            made_privsep_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let exited = s.child.as_mut().unwrap().try_wait().ok().flatten();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "sshd not listening on {addr} ({exited:?}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A directory holding an `ssh` that runs /usr/bin/ssh with a config
    /// of this test's (`-F`), to be put first on runcost's PATH. ssh reads
    /// ~/.ssh/config from the passwd entry's home, not from $HOME, so the
    /// test cannot point it elsewhere by environment and must not write to
    /// /root/.ssh; `-F` also skips /etc/ssh/ssh_config. `identity` is the
    /// key offered; `known` says whether known_hosts holds the server's
    /// host key (StrictHostKeyChecking yes: an unknown key is refused).
    fn client(&self, name: &str, identity: &Path, known: bool) -> PathBuf {
        let bin = self.path(name);
        std::fs::create_dir_all(&bin).unwrap();
        let known_hosts = bin.join("known_hosts");
        let entry = if known {
            let key = std::fs::read_to_string(self.path("host_key.pub")).unwrap();
            format!("[{}]:{} {key}", self.addr.ip(), self.addr.port())
        } else {
            String::new()
        };
        std::fs::write(&known_hosts, entry).unwrap();
        let config = bin.join("ssh_config");
        std::fs::write(
            &config,
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
                 GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
                identity.display(),
                known_hosts.display()
            ),
        )
        .unwrap();
        let wrapper = bin.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F '{}' \"$@\"\n",
                config.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    /// The URL of the engine socket `socket` behind this sshd.
    fn url(&self, port: u16, socket: &str) -> String {
        format!("ssh://root@{}:{port}{socket}", self.addr.ip())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "sshd log:\n{}",
                std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
            );
        }
        if let Some(mut c) = self.child.take() {
            service::stop_group(&mut c, Duration::from_secs(5));
        }
        for pid in service::processes_naming(&self.dir.path().to_string_lossy()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if self.made_privsep_dir {
            let _ = std::fs::remove_dir("/run/sshd");
        }
    }
}

/// PATH for runcost: `first`, then this process's.
fn path_with(first: &Path) -> String {
    format!(
        "{}:{}",
        first.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs runcost with `path` as its PATH; returns its output and its pid
/// (the tunnel's directory is named after it).
fn runcost(results: &Path, path: &str, args: &[&str]) -> (Output, u32) {
    let child = xtask(results)
        .env("PATH", path)
        .env_remove("DOCKER_HOST")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xtask");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "{args:?}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, pid)
}

/// Nothing of the tunnel outlived runcost: no ssh naming this test's
/// config, no socket dir of that runcost process.
fn assert_tunnel_gone(sshd: &Sshd, pid: u32) {
    let dir = std::env::temp_dir().join(format!("runcost-ssh-{pid}"));
    assert!(!dir.exists(), "{} left behind", dir.display());
    let ssh: Vec<i32> = service::processes_naming(&sshd.dir.path().to_string_lossy())
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.starts_with(b"/usr/bin/ssh\0"))
        })
        .collect();
    assert!(ssh.is_empty(), "ssh processes left running: {ssh:?}");
}

#[test]
fn footprint_and_scoped_clean_through_an_ssh_tunnel_to_a_test_sshd() {
    let _g = serial();
    let t0 = Instant::now();
    let engine = SecondEngine::start(Listen::Unix);
    let sshd = Sshd::start(&engine.netns);
    engine.load_image("runcost/gateway:dev");
    eprintln!("engine, sshd and image up in {:?}", t0.elapsed());
    let socket = engine.url.strip_prefix("unix://").unwrap().to_string();
    let url = sshd.url(PORT, &socket);
    let path = path_with(&sshd.client("ok", &sshd.path("client_key"), true));
    let results = tempfile::tempdir().unwrap();

    let t = Instant::now();
    let (out, pid) = runcost(
        results.path(),
        &path,
        &[
            "--engine",
            &url,
            "footprint",
            "--repeats",
            "2",
            "--duration",
            "2s",
            "--max-duration",
            "2s",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    eprintln!("footprint through ssh: {:?}", t.elapsed());
    assert_tunnel_gone(&sshd, pid);
    let id = common::latest(results.path());
    let r = record(results.path(), &id);
    assert_eq!(r["engine"]["url"], url.as_str());
    assert_eq!(r["engine"]["transport"], "ssh");
    assert_eq!(r["engine"]["kind"], "docker");
    // Ports are published on the ssh host's address and dialled there.
    assert_eq!(
        r["engine"]["traffic"]["address"],
        engine.netns.inner.to_string().as_str(),
        "{}",
        r["engine"]
    );
    assert_eq!(r["settings"]["sampler"], "auto");
    let cells = r["lanes"][0]["cells"].as_array().unwrap();
    assert!(!cells.is_empty());
    for cell in cells {
        assert_eq!(cell["sampler_mode"], "exec", "chosen, not asked: {cell}");
    }
    assert!(common::median(&r, "uss") > 10.0 * 1048576.0);
    assert_eq!(engine.labelled(&id), 0, "the run removed what it made");
    assert_eq!(local_labelled(&id), 0);

    // One run id on both engines: `clean` through the tunnel removes the
    // remote one only.
    let run_id = format!("ssh-iso-{}", engine.netns.id);
    let label = format!("dev.runcost.run={run_id}");
    let create = |host: &[&str]| -> String {
        let out = Command::new("docker")
            .args(host)
            .args(["create", "--label", &label, "runcost/gateway:dev"])
            .output()
            .unwrap();
        assert!(out.status.success(), "create a labelled container");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let local = create(&[]);
    create(&["-H", &engine.url]);
    let (out, pid) = runcost(
        results.path(),
        &path,
        &["--engine", &url, "clean", "--run", &run_id],
    );
    let local_after = local_labelled(&run_id);
    // Ours, by id, whatever the asserts below say.
    let _ = Command::new("docker").args(["rm", "-f", &local]).output();
    assert_eq!(out.status.code(), Some(0));
    assert_tunnel_gone(&sshd, pid);
    assert_eq!(
        engine.labelled(&run_id),
        0,
        "clean through ssh removed the remote one"
    );
    assert_eq!(local_after, 1, "and left the local one");
    eprintln!("test body: {:?}", t0.elapsed());
}

#[test]
fn a_refused_key_an_unknown_host_or_no_sshd_is_exit_2_with_the_cause_and_fix() {
    let t0 = Instant::now();
    let netns = TestNetns::create();
    let sshd = Sshd::start(&netns);
    // The socket is never reached: every case fails before or at the forward.
    let socket = "/var/run/docker.sock";
    let other_key = sshd.path("other_key");
    keygen(&other_key);
    let good = path_with(&sshd.client("ok", &sshd.path("client_key"), true));
    let empty = sshd.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let denied = Sshd::start_with(&netns, PORT + 2, false);
    let cases: [(&str, String, String, &[&str]); 6] = [
        (
            "a key the server does not authorize",
            path_with(&sshd.client("wrong-key", &other_key, true)),
            sshd.url(PORT, socket),
            &["Permission denied (publickey)", "ssh-copy-id"],
        ),
        (
            "a host key not in known_hosts",
            path_with(&sshd.client("unknown-host", &sshd.path("client_key"), false)),
            sshd.url(PORT, socket),
            &["Host key verification failed", "not in known_hosts"],
        ),
        (
            "nothing listening on the port",
            good.clone(),
            sshd.url(PORT + 1, socket),
            &["Connection refused", "listens on that port"],
        ),
        (
            "a socket the server does not have",
            good.clone(),
            sshd.url(PORT, "/nonexistent/runcost-test.sock"),
            &["connect failed", "path after the host"],
        ),
        (
            "a server that forbids forwards",
            path_with(&denied.client("ok", &denied.path("client_key"), true)),
            denied.url(PORT + 2, socket),
            // sshd answers it as it answers a missing socket.
            &["connect failed", "AllowStreamLocalForwarding yes"],
        ),
        (
            "no ssh on PATH",
            empty.display().to_string(),
            sshd.url(PORT, socket),
            &["cannot run ssh", "install openssh-client"],
        ),
    ];
    for (what, path, url, says) in cases {
        let results = tempfile::tempdir().unwrap();
        let (out, pid) = runcost(results.path(), &path, &["--engine", &url, "footprint"]);
        assert_eq!(out.status.code(), Some(2), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        for s in says {
            assert!(err.contains(s), "{what}: `{s}` missing from: {err}");
        }
        assert_tunnel_gone(&sshd, pid);
        assert_tunnel_gone(&denied, pid);
        assert!(
            std::fs::read_dir(results.path()).unwrap().next().is_none(),
            "{what}: nothing written"
        );
    }
    // The server itself was fine all along: the good client gets in.
    let ok = Command::new(sshd.path("ok").join("ssh"))
        .args(["-o", "BatchMode=yes", "-p", &PORT.to_string(), "-l", "root"])
        .arg(sshd.addr.ip().to_string())
        .arg("true")
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "the authorized key logs in");
    eprintln!("faults: {:?}", t0.elapsed());
}
