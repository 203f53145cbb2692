//! Where the engine is: `--engine URL` or `DOCKER_HOST`, as `unix://`,
//! `tcp://` or `ssh://`. Resolved once at startup ([`install`]), before any
//! Docker call: the URL is validated (exit 2 with the fix), an `ssh://`
//! engine is reached through an `ssh -L` tunnel to its socket, and
//! `DOCKER_HOST` is set for this process so bollard, the compose CLI and the
//! `docker` CLI all talk to the same engine.
//!
//! Published ports are reached on the engine's address: one fact for the
//! whole process ([`reach`]), read by every dialer (readiness, checks, the
//! load generator) and by the compose override (where ports are published).

use crate::error::BadInput;
use crate::results::{EngineRef, EngineTransport, Traffic};
use anyhow::{Context, Result};
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// An engine address, parsed and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineUrl {
    Unix(PathBuf),
    Tcp {
        host: String,
        port: u16,
    },
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        /// The engine's socket on the remote host.
        socket: String,
    },
}

/// Docker's unencrypted API port, when a `tcp://` URL names none.
const DEFAULT_TCP_PORT: u16 = 2375;
/// The socket an `ssh://` URL without a path forwards to.
const DEFAULT_REMOTE_SOCKET: &str = "/var/run/docker.sock";

/// Parses an engine URL; the error says what is wrong and what to write.
pub fn parse(s: &str) -> Result<EngineUrl, String> {
    let forms =
        "unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT][/remote/socket]";
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!("`{s}` is not an engine URL; write one of {forms}"));
    };
    match scheme {
        "unix" => {
            if !rest.starts_with('/') {
                return Err(format!(
                    "`{s}`: a unix socket needs an absolute path (unix:///var/run/docker.sock)"
                ));
            }
            Ok(EngineUrl::Unix(PathBuf::from(rest)))
        }
        "tcp" => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            if !path.is_empty() {
                return Err(format!(
                    "`{s}`: a tcp:// engine URL has no path; write tcp://HOST:PORT"
                ));
            }
            let (host, port) = host_port(s, authority)?;
            Ok(EngineUrl::Tcp {
                host,
                port: port.unwrap_or(DEFAULT_TCP_PORT),
            })
        }
        "ssh" => {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let (user, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
                Some(_) => return Err(format!("`{s}`: the user before `@` is empty")),
                None => (None, authority),
            };
            let (host, port) = host_port(s, hostport)?;
            Ok(EngineUrl::Ssh {
                user,
                host,
                port,
                socket: if path.is_empty() || path == "/" {
                    DEFAULT_REMOTE_SOCKET.into()
                } else {
                    path.into()
                },
            })
        }
        "https" | "tls" => Err(format!(
            "`{s}`: TLS engines are not supported by this build (bollard without its `ssl` \
             feature); reach the engine as ssh://USER@HOST (its socket is tunnelled over ssh)"
        )),
        "npipe" => Err(format!(
            "`{s}`: named pipes exist on Windows only; write {forms}"
        )),
        other => Err(format!(
            "`{s}`: unknown scheme `{other}://`; write one of {forms}"
        )),
    }
}

fn host_port(s: &str, authority: &str) -> Result<(String, Option<u16>), String> {
    // [v6]:port, host:port or host.
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{s}`: unclosed `[` in the host"))?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("`{s}`: the host is empty"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{s}`: port `{p}` is not a number in 1..=65535"))?,
        ),
    };
    Ok((host.to_string(), port))
}

/// How this process reaches the engine and its published ports.
#[derive(Clone, Debug)]
pub struct Reach {
    /// The URL as given (`--engine` or `DOCKER_HOST`), or the local socket.
    pub url: String,
    pub transport: EngineTransport,
    /// Where published ports are bound and dialled.
    pub ip: IpAddr,
}

impl Reach {
    fn local() -> Reach {
        Reach {
            url: "unix:///var/run/docker.sock".into(),
            transport: EngineTransport::Unix,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// Whether the engine was named by a URL other than a local socket.
    pub fn is_remote(&self) -> bool {
        self.transport != EngineTransport::Unix
    }

    /// What the run record keeps of it.
    pub fn record(&self, kind: crate::results::EngineKind) -> EngineRef {
        EngineRef {
            url: self.url.clone(),
            transport: self.transport,
            kind,
            traffic: if self.ip.is_loopback() {
                Traffic::Loopback
            } else {
                Traffic::Network {
                    address: self.ip.to_string(),
                }
            },
            traits: None,
        }
    }
}

static REACH: OnceLock<Reach> = OnceLock::new();

/// How the engine is reached (the local socket unless [`install`] said
/// otherwise).
pub fn reach() -> &'static Reach {
    REACH.get_or_init(Reach::local)
}

/// The address published ports are bound to and dialled on.
pub fn target_ip() -> IpAddr {
    reach().ip
}

/// The address ports are published on (the override's `IP::PORT`): the
/// same address, seen from the engine's host.
pub fn publish_ip() -> IpAddr {
    reach().ip
}

/// A published port's address in compose's short syntax (`IP::PORT`).
pub fn publish_spec(port: u16) -> String {
    match publish_ip() {
        IpAddr::V4(ip) => format!("{ip}::{port}"),
        IpAddr::V6(ip) => format!("[{ip}]::{port}"),
    }
}

/// Resolves `--engine` (or `DOCKER_HOST`), starts an ssh tunnel when
/// needed and points this process's `DOCKER_HOST` at the engine. The
/// returned tunnel must live as long as the command.
pub fn install(flag: Option<&str>) -> Result<Option<SshTunnel>> {
    let env = std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty());
    let (given, from) = match (flag, env) {
        (Some(f), _) => (f.to_string(), "--engine"),
        (None, Some(e)) => (e, "DOCKER_HOST"),
        (None, None) => return Ok(None),
    };
    let url = parse(&given).map_err(|e| BadInput(format!("{from}: {e}")))?;
    if std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty()) {
        return Err(BadInput(format!(
            "{from} `{given}` with DOCKER_TLS_VERIFY set: TLS engines are not supported by this \
             build; unset DOCKER_TLS_VERIFY and reach the engine as ssh://USER@HOST, or over a \
             unix socket"
        ))
        .into());
    }
    let (reach, tunnel, docker_host) = match &url {
        EngineUrl::Unix(path) => (
            Reach {
                url: given.clone(),
                transport: EngineTransport::Unix,
                ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            },
            None,
            format!("unix://{}", path.display()),
        ),
        EngineUrl::Tcp { host, port } => {
            let ip = resolve(from, &given, host, *port)?;
            (
                Reach {
                    url: given.clone(),
                    transport: EngineTransport::Tcp,
                    ip,
                },
                None,
                format!("tcp://{}", std::net::SocketAddr::new(ip, *port)),
            )
        }
        EngineUrl::Ssh { host, port, .. } => {
            let ip = resolve(from, &given, host, port.unwrap_or(22))?;
            let tunnel = SshTunnel::open(&url, &given)?;
            let docker_host = format!("unix://{}", tunnel.socket.display());
            (
                Reach {
                    url: given.clone(),
                    transport: EngineTransport::Ssh,
                    ip,
                },
                Some(tunnel),
                docker_host,
            )
        }
    };
    // Set before any thread of ours reads the environment: compose and
    // the docker CLI inherit it, bollard reads it in `Engine::connect`.
    std::env::set_var("DOCKER_HOST", docker_host);
    let _ = REACH.set(reach);
    Ok(tunnel)
}

fn resolve(from: &str, given: &str, host: &str, port: u16) -> Result<IpAddr> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            BadInput(format!(
                "{from} `{given}`: cannot resolve host `{host}` ({e}); use an IP address or a \
                 name this machine resolves"
            ))
        })?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.ip())
        .ok_or_else(|| {
            BadInput(format!("{from} `{given}`: `{host}` resolves to no address")).into()
        })
}

/// `ssh -L` forwarding a local socket to the engine's remote socket, in its
/// own process group and killed with this process (PDEATHSIG) or on drop.
pub struct SshTunnel {
    child: std::process::Child,
    dir: PathBuf,
    socket: PathBuf,
}

/// How long ssh may take to authenticate and bind the forward.
const SSH_TIMEOUT: Duration = Duration::from_secs(20);

/// The ssh argv for a tunnel from `local` to the URL's remote socket. No
/// shell: the URL's parts are separate arguments.
pub fn ssh_argv(url: &EngineUrl, local: &std::path::Path) -> Vec<String> {
    let EngineUrl::Ssh {
        user,
        host,
        port,
        socket,
    } = url
    else {
        return Vec::new();
    };
    let mut argv: Vec<String> = [
        "ssh",
        "-nNT",
        "-o",
        "BatchMode=yes",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=10",
        "-o",
        "StreamLocalBindUnlink=yes",
    ]
    .map(String::from)
    .to_vec();
    argv.push("-L".into());
    argv.push(format!("{}:{socket}", local.display()));
    if let Some(p) = port {
        argv.push("-p".into());
        argv.push(p.to_string());
    }
    if let Some(u) = user {
        argv.push("-l".into());
        argv.push(u.clone());
    }
    argv.push("--".into());
    argv.push(host.clone());
    argv
}

impl SshTunnel {
    fn open(url: &EngineUrl, given: &str) -> Result<SshTunnel> {
        use std::os::unix::process::CommandExt;
        let dir = std::env::temp_dir().join(format!("runcost-ssh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let socket = dir.join("docker.sock");
        let argv = ssh_argv(url, &socket);
        let stderr_path = dir.join("ssh.stderr");
        let _ = TUNNEL_STDERR.set(stderr_path.clone());
        let stderr = std::fs::File::create(&stderr_path)
            .with_context(|| format!("create {}", stderr_path.display()))?;
        let mut cmd = std::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .process_group(0);
        // SAFETY: prctl only, async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                // No tunnel to drop yet: remove its directory here.
                let _ = std::fs::remove_dir_all(&dir);
                return Err(BadInput(format!(
                    "--engine `{given}`: cannot run ssh ({e}); install openssh-client"
                ))
                .into());
            }
        };
        let mut tunnel = SshTunnel { child, dir, socket };
        let deadline = Instant::now() + SSH_TIMEOUT;
        loop {
            if tunnel.socket.exists() {
                return Ok(tunnel);
            }
            if let Some(status) = tunnel.child.try_wait().context("wait for ssh")? {
                let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(BadInput(format!(
                    "ssh tunnel to `{given}` failed ({status}): {}; {}",
                    err.trim(),
                    ssh_fix(&err)
                ))
                .into());
            }
            if Instant::now() >= deadline {
                return Err(BadInput(format!(
                    "ssh tunnel to `{given}` did not come up within {SSH_TIMEOUT:?}; check the \
                     host is reachable and `ssh -o BatchMode=yes HOST true` works"
                ))
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The fix for what ssh said on stderr: its own words name the cause
/// (OpenSSH's messages, not translated), the fix depends on it.
/// The running tunnel's stderr file: what ssh says once the tunnel is up
/// (a refused forward) is only known when the engine is first asked.
static TUNNEL_STDERR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Why the engine behind a running tunnel did not answer, from what ssh
/// printed when the forward was opened, with its fix; None when ssh said
/// nothing (the engine itself is then to blame).
pub fn tunnel_refusal() -> Option<String> {
    let said = std::fs::read_to_string(TUNNEL_STDERR.get()?).ok()?;
    forward_refusal(&said)
}

/// ssh's account of a forward the server would not open, and the fix.
fn forward_refusal(stderr: &str) -> Option<String> {
    let line = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.contains("open failed"))?;
    let fix = if line.contains("administratively prohibited") {
        "the server forbids forwarding to a socket: set `AllowStreamLocalForwarding yes` and \
         `AllowTcpForwarding` to `yes` or `local` for this user in its sshd_config (both gate \
         `-L socket:socket` forwards) and reload sshd"
    } else {
        // sshd answers a forward its config forbids exactly as one to a
        // missing socket (its own log tells them apart), so both are named.
        "the server did not open the engine's socket: check the path after the host in the \
         URL (ssh://USER@HOST/path/to/docker.sock; /var/run/docker.sock by default), that this \
         user may open it, and that the server's sshd_config allows the forward \
         (`AllowStreamLocalForwarding yes`, `AllowTcpForwarding` `yes` or `local`)"
    };
    Some(format!("ssh said `{line}`; {fix}"))
}

fn ssh_fix(stderr: &str) -> &'static str {
    if [
        "Connection refused",
        "timed out",
        "No route to host",
        "Could not resolve",
    ]
    .iter()
    .any(|c| stderr.contains(c))
    {
        "check that sshd runs on that host and listens on that port (ssh's default is 22; write \
         ssh://USER@HOST:PORT for another)"
    } else if stderr.contains("Host key verification failed") {
        "the host's key is not in known_hosts (or has changed): connect once with `ssh HOST` \
         and check the fingerprint, then run again"
    } else if stderr.contains("Permission denied") {
        "the server refused every key offered: install this user's public key on it \
         (ssh-copy-id USER@HOST) or load the right one into ssh-agent; `ssh -o BatchMode=yes \
         HOST true` must work without a password"
    } else {
        "check that `ssh -o BatchMode=yes HOST true` works without a password (ssh-copy-id, \
         host key in known_hosts) and that the user may open the engine's socket"
    }
}

impl Drop for SshTunnel {
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The oldest engine API runcost drives: Docker 20.10 and Podman 4's
/// compatibility API speak 1.41; older engines lack fields the probes read
/// (cgroup version in `info`) and what compose v2 asks for.
pub const MIN_API: (u32, u32) = (1, 40);

/// Parses an API version `1.41` into (major, minor).
pub fn api_version(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Refuses an engine older than [`MIN_API`], with the fix.
pub fn check_api(url: &str, server_api: &str) -> Result<(), String> {
    match api_version(server_api) {
        Some(v) if v >= MIN_API => Ok(()),
        Some(_) => Err(format!(
            "the engine at {url} speaks API {server_api}, older than {}.{} (Docker 19.03); \
             upgrade it to Docker 20.10 or later, or Podman 4",
            MIN_API.0, MIN_API.1
        )),
        None => Err(format!(
            "the engine at {url} reports API version `{server_api}`, which is not MAJOR.MINOR; \
             is this a Docker-compatible engine?"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        assert_eq!(
            parse("unix:///run/podman.sock"),
            Ok(EngineUrl::Unix("/run/podman.sock".into()))
        );
        assert_eq!(
            parse("tcp://10.7.0.2:2375"),
            Ok(EngineUrl::Tcp {
                host: "10.7.0.2".into(),
                port: 2375
            })
        );
        assert_eq!(
            parse("tcp://bench"),
            Ok(EngineUrl::Tcp {
                host: "bench".into(),
                port: DEFAULT_TCP_PORT
            })
        );
        assert_eq!(
            parse("tcp://[::1]:2375"),
            Ok(EngineUrl::Tcp {
                host: "::1".into(),
                port: 2375
            })
        );
        assert_eq!(
            parse("ssh://ci@bench:2222"),
            Ok(EngineUrl::Ssh {
                user: Some("ci".into()),
                host: "bench".into(),
                port: Some(2222),
                socket: DEFAULT_REMOTE_SOCKET.into()
            })
        );
        assert_eq!(
            parse("ssh://bench/run/user/1000/podman/podman.sock"),
            Ok(EngineUrl::Ssh {
                user: None,
                host: "bench".into(),
                port: None,
                socket: "/run/user/1000/podman/podman.sock".into()
            })
        );
    }

    #[test]
    fn refuses_what_it_cannot_reach_with_the_fix() {
        for (bad, says) in [
            ("bench:2375", "not an engine URL"),
            ("unix://docker.sock", "absolute path"),
            ("tcp://:2375", "host is empty"),
            ("tcp://bench:0", "1..=65535"),
            ("tcp://bench:http", "not a number"),
            ("tcp://bench:2375/v1.41", "no path"),
            ("ssh://@bench", "user before `@` is empty"),
            ("tcp://[::1:2375", "unclosed"),
            ("https://bench:2376", "TLS engines are not supported"),
            ("npipe:////./pipe/docker_engine", "Windows"),
            ("http://bench:2375", "unknown scheme `http://`"),
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_refused_forward_is_named_with_its_fix() {
        let denied = "channel 2: open failed: administratively prohibited: open failed\n";
        let m = forward_refusal(denied).unwrap();
        assert!(m.contains("administratively prohibited"), "{m}");
        assert!(m.contains("AllowTcpForwarding"), "{m}");
        let missing =
            "Warning: Permanently added ...\nchannel 1: open failed: connect failed: open failed\n";
        let m = forward_refusal(missing).unwrap();
        assert!(
            m.contains("connect failed") && m.contains("path after the host"),
            "{m}"
        );
        assert_eq!(forward_refusal("Warning: Permanently added ...\n"), None);
        assert_eq!(forward_refusal(""), None);
    }

    #[test]
    fn ssh_argv_has_no_shell_and_forwards_the_socket() {
        let url = parse("ssh://ci@bench:2222/run/docker.sock").unwrap();
        let argv = ssh_argv(&url, std::path::Path::new("/tmp/x/docker.sock"));
        assert_eq!(argv[0], "ssh");
        let l = argv.iter().position(|a| a == "-L").unwrap();
        assert_eq!(argv[l + 1], "/tmp/x/docker.sock:/run/docker.sock");
        assert!(argv.windows(2).any(|w| w == ["-p", "2222"]));
        assert!(argv.windows(2).any(|w| w == ["-l", "ci"]));
        assert_eq!(argv[argv.len() - 2..], ["--", "bench"]);
        assert!(argv.contains(&"BatchMode=yes".to_string()));
    }

    #[test]
    fn the_fix_follows_what_ssh_said() {
        for (said, fix) in [
            (
                "ssh: connect to host 10.0.0.2 port 2223: Connection refused",
                "listens on that port",
            ),
            ("root@h: Permission denied (publickey).", "ssh-copy-id"),
            (
                "No ED25519 host key is known for h\nHost key verification failed.",
                "known_hosts",
            ),
            (
                "kex_exchange_identification: read: Connection reset by peer",
                "BatchMode=yes",
            ),
        ] {
            assert!(ssh_fix(said).contains(fix), "{said}: {}", ssh_fix(said));
        }
    }

    #[test]
    fn api_versions_older_than_the_minimum_are_refused() {
        assert_eq!(api_version("1.41"), Some((1, 41)));
        assert!(check_api("tcp://x:1", "1.41").is_ok());
        assert!(check_api("tcp://x:1", "1.40").is_ok());
        assert!(check_api("tcp://x:1", "2.0").is_ok());
        let e = check_api("tcp://x:1", "1.39").unwrap_err();
        assert!(
            e.contains("older than 1.40") && e.contains("upgrade"),
            "{e}"
        );
        assert!(check_api("tcp://x:1", "v4")
            .unwrap_err()
            .contains("MAJOR.MINOR"));
    }

    #[test]
    fn traffic_crosses_a_network_unless_on_loopback() {
        let local = Reach::local();
        assert_eq!(
            local.record(crate::results::EngineKind::Docker).traffic,
            Traffic::Loopback
        );
        let remote = Reach {
            url: "tcp://10.7.0.2:2375".into(),
            transport: EngineTransport::Tcp,
            ip: "10.7.0.2".parse().unwrap(),
        };
        assert!(remote.is_remote());
        assert_eq!(
            remote.record(crate::results::EngineKind::Podman).traffic,
            Traffic::Network {
                address: "10.7.0.2".into()
            }
        );
    }
}
