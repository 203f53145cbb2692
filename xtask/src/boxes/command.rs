//! The `command` backend: any sandbox runtime driven through its command
//! line by the argv templates of a box profile (never a shell line). Every
//! box is tracked before its runtime is asked to create it: a record
//! `target/runcost-box/cli/<run>/<profile>/<box>/box.json` with the resolved
//! stop and remove argv and the box's cgroup, so the handle's guard, the
//! run's reap and `clean --run ID` can each remove it — the runtime's own
//! delete first, then any process still in the box's cgroup, then the
//! cgroup directories, the bundle and the state directory.

use super::profile::{fill, CommandSpec, HostPidsSpec, IdMode};
use super::{BackendKind, BoxBackend, ExecOutput, Started};
use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub fn cli_dir(root: &Path) -> PathBuf {
    super::guest::assets_dir(root).join("cli")
}

#[derive(Clone)]
pub struct CommandBackend {
    pub root: PathBuf,
    pub run_id: String,
    pub profile: String,
    pub spec: CommandSpec,
    /// The bundle's rootfs, when the profile builds bundles.
    pub rootfs: Option<PathBuf>,
    pub memory_mib: u32,
    /// The throughput lane's boxes: the bundle keeps the host's network
    /// namespace, so the host reaches a sink in the box on loopback.
    pub host_network: bool,
}

/// What the reaper needs to remove one box without the profile.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BoxRecord {
    pub run_id: String,
    pub profile: String,
    /// The box id; empty until a `printed`-id create has printed it.
    pub id: String,
    pub stop: Vec<String>,
    pub remove: Vec<String>,
    /// The cgroup path (`/runcost-…`) under every hierarchy.
    pub cgroup: String,
    pub stop_timeout_s: f64,
    pub remove_timeout_s: f64,
}

pub struct CommandBox {
    name: String,
    dir: PathBuf,
    rec: BoxRecord,
    vars: Vec<(&'static str, String)>,
    live: bool,
}

impl Drop for CommandBox {
    fn drop(&mut self) {
        if self.live {
            // Dropped while it exists (error, timeout, signal race, panic).
            reap_box(&self.dir, &self.rec);
        }
    }
}

impl CommandBackend {
    /// Whether the profile can snapshot (both `checkpoint` and `restore`).
    pub fn can_checkpoint(&self) -> bool {
        self.spec.checkpoint.is_some() && self.spec.restore.is_some()
    }

    /// The profile's `checkpoint` into `image` (a directory). The box is
    /// stopped by it (runsc's default); the caller restores or removes it.
    /// A checkpoint that fails (mid-way too: runsc has written part of the
    /// image when the disk fills) removes what it wrote into `image`, and
    /// its error says whether the source box still answers an exec or died
    /// with it (runsc stops the sandbox whether or not the image is whole).
    pub async fn checkpoint(&self, b: &mut CommandBox, image: &Path) -> Result<()> {
        let t = self
            .spec
            .checkpoint
            .as_ref()
            .context("the profile has no `checkpoint` command")?;
        let timeout = self.spec.timeouts.stop.0.max(Duration::from_secs(60));
        let Err(e) = self.image_step("checkpoint", b, t, image, timeout).await else {
            return Ok(());
        };
        let left = clear_dir(image);
        let probe = self.exec_argv(b, &["true".to_string()]);
        let source = match step("ready", &probe, self.spec.timeouts.ready.0, None, &[]).await {
            Ok(out) if out.status.success() => "the source box still runs".to_string(),
            Ok(out) => format!(
                "the source box died with it ({})",
                cause_line(&String::from_utf8_lossy(&out.stderr))
            ),
            Err(probe_err) => format!("the source box did not answer: {probe_err:#}"),
        };
        let files = match left {
            Ok(n) => format!("{n} partial image file(s) removed"),
            Err(why) => format!("partial image files not removed: {why:#}"),
        };
        Err(e.context(format!("checkpoint box {}: {source}; {files}", b.name)))
    }

    /// Deletes what is left of the checkpointed box (`remove`, which a
    /// stopped box tolerates), then the profile's `restore` from `image`;
    /// returns when an exec of `true` succeeds in it.
    pub async fn restore(&self, b: &mut CommandBox, image: &Path) -> Result<()> {
        let t = self
            .spec
            .restore
            .as_ref()
            .context("the profile has no `restore` command")?;
        let rm = b.rec.remove.clone();
        let out = step(
            "remove",
            &rm,
            self.spec.timeouts.remove.0,
            Some(&b.dir),
            &[],
        )
        .await?;
        ok_or_fail("remove", &rm, &out)
            .with_context(|| format!("remove checkpointed box {}", b.name))?;
        let timeout = self.spec.timeouts.start.0.max(Duration::from_secs(60));
        self.image_step("restore", b, t, image, timeout)
            .await
            .with_context(|| format!("restore box {} from {}", b.name, image.display()))?;
        let probe = self.exec_argv(b, &["true".to_string()]);
        let out = step("ready", &probe, self.spec.timeouts.ready.0, None, &[]).await?;
        ok_or_fail("exec true after restore", &probe, &out)
    }

    /// A new box restored from `image` (a fork of the box checkpointed
    /// there): its own id, bundle and cgroup, tracked like any box, then the
    /// profile's `restore` with its variables; returns once `true` runs in
    /// it. Needs named ids (`restore` is given the id).
    pub async fn restore_clone(&self, name: &str, image: &Path) -> Result<CommandBox> {
        if self.spec.id != IdMode::Named {
            bail!(
                "{}: forks need `id: named` (restore is given the box id)",
                self.profile
            );
        }
        let t = self
            .spec
            .restore
            .as_ref()
            .context("the profile has no `restore` command")?;
        // Tracked before runsc is asked: a restore that fails is reaped
        // (its sandbox, cgroup and bundle) as the handle drops.
        let (b, _) = self.tracked_box(name, self.default_memory())?;
        let timeout = self.spec.timeouts.start.0.max(Duration::from_secs(60));
        self.image_step("restore", &b, t, image, timeout)
            .await
            .with_context(|| format!("fork box {name} from {}", image.display()))?;
        let probe = self.exec_argv(&b, &["true".to_string()]);
        let out = step("ready", &probe, self.spec.timeouts.ready.0, None, &[]).await?;
        ok_or_fail("exec true in the fork", &probe, &out)?;
        Ok(b)
    }

    /// The full argv of an exec of `argv` in the box (for a loop that runs
    /// it on its own while the box is driven elsewhere).
    pub fn exec_argv(&self, b: &CommandBox, argv: &[String]) -> Vec<String> {
        let mut full = self.argv(b, &self.spec.exec);
        full.extend(argv.iter().cloned());
        full
    }

    /// A box's directory, tracking record and bundle, before its runtime
    /// is asked for anything (so the guard and `clean` can always remove it).
    #[allow(clippy::type_complexity)]
    fn tracked_box(
        &self,
        name: &str,
        memory: super::bundle::Memory,
    ) -> Result<(CommandBox, Vec<(&'static str, String)>)> {
        let dir = self.profile_dir().join(name);
        let state = self.profile_dir().join("state");
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        std::fs::create_dir_all(&state)?;
        let id = format!("runcost-{}-{name}", self.run_id);
        let cgroup = format!("/{id}");
        let vars: Vec<(&'static str, String)> = vec![
            ("{id}", id.clone()),
            ("{bundle}", dir.display().to_string()),
            ("{state}", state.display().to_string()),
            ("{pid_file}", dir.join("pid").display().to_string()),
            ("{cgroup}", cgroup.clone()),
        ];
        let t = &self.spec.timeouts;
        let mut b = CommandBox {
            name: name.to_string(),
            dir: dir.clone(),
            rec: BoxRecord {
                run_id: self.run_id.clone(),
                profile: self.profile.clone(),
                id: String::new(),
                stop: Vec::new(),
                remove: Vec::new(),
                cgroup: cgroup.clone(),
                stop_timeout_s: t.stop.0.as_secs_f64(),
                remove_timeout_s: t.remove.0.as_secs_f64(),
            },
            vars: vars.clone(),
            live: true,
        };
        if self.spec.id == IdMode::Named {
            b.rec.id = id.clone();
            b.rec.stop = self.argv(&b, &self.spec.stop);
            b.rec.remove = self.argv(&b, &self.spec.remove);
        }
        write_record(&dir, &b.rec)?;
        if let Some(rootfs) = &self.rootfs {
            let shape = super::bundle::BoxShape {
                memory,
                host_network: self.host_network,
            };
            super::bundle::write(&dir, rootfs, &cgroup, name, shape)?;
        }
        Ok((b, vars))
    }

    /// One step of a template with `{image}` (checkpoint, restore), its
    /// output in the box's directory; Err carries the runtime's reason.
    async fn image_step(
        &self,
        what: &str,
        b: &CommandBox,
        t: &[String],
        image: &Path,
        timeout: Duration,
    ) -> Result<()> {
        let image = image.display().to_string();
        let mut vars: Vec<(&str, &str)> = b.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.push(("{image}", &image));
        let argv = fill(t, &vars);
        let out = step(what, &argv, timeout, Some(&b.dir), &[]).await?;
        ok_or_fail(what, &argv, &out)
    }

    fn default_memory(&self) -> super::bundle::Memory {
        super::bundle::Memory {
            limit: u64::from(self.memory_mib) << 20,
            no_swap: false,
        }
    }

    /// Creates the box with its bundle's memory as given.
    async fn create_with(&self, name: &str, memory: super::bundle::Memory) -> Result<CommandBox> {
        let (mut b, mut vars) = self.tracked_box(name, memory)?;
        let t = &self.spec.timeouts;
        let argv = self.argv(&b, &self.spec.create);
        let out = step("create", &argv, t.create.0, Some(&b.dir), &[]).await?;
        ok_or_fail("create", &argv, &out)?;
        if self.spec.id == IdMode::Printed {
            let printed = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if printed.is_empty() {
                bail!("create printed no box id on its first line ({argv:?})");
            }
            vars[0].1 = printed.clone();
            b.vars = vars;
            b.rec.id = printed;
            b.rec.stop = self.argv(&b, &self.spec.stop);
            b.rec.remove = self.argv(&b, &self.spec.remove);
            write_record(&b.dir, &b.rec)?;
        }
        Ok(b)
    }

    fn profile_dir(&self) -> PathBuf {
        cli_dir(&self.root).join(&self.run_id).join(&self.profile)
    }

    fn argv(&self, b: &CommandBox, t: &[String]) -> Vec<String> {
        let vars: Vec<(&str, &str)> = b.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fill(t, &vars)
    }
}

/// Runs one step with its timeout. Create and start write to files, not
/// pipes: a detached container inherits the runtime's stdio and would hold
/// a pipe open for its whole life.
async fn step(
    what: &str,
    argv: &[String],
    timeout: Duration,
    out_files: Option<&Path>,
    stdin: &[u8],
) -> Result<std::process::Output> {
    let Some((prog, args)) = argv.split_first() else {
        bail!("{what}: empty argv");
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args).kill_on_drop(true);
    match out_files {
        Some(dir) => {
            let f = |ext: &str| -> Result<std::fs::File> {
                let p = dir.join(format!("{what}.{ext}"));
                std::fs::File::create(&p).with_context(|| format!("create {}", p.display()))
            };
            cmd.stdin(Stdio::null()).stdout(f("out")?).stderr(f("err")?);
        }
        None => {
            cmd.stdin(if stdin.is_empty() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        }
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("{what}: spawn {argv:?}"))?;
    if !stdin.is_empty() {
        use tokio::io::AsyncWriteExt;
        if let Some(mut i) = child.stdin.take() {
            i.write_all(stdin)
                .await
                .with_context(|| format!("{what}: stdin"))?;
        }
    }
    let mut out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(r) => r.with_context(|| format!("{what}: wait for {argv:?}"))?,
        // The child is killed as it is dropped.
        Err(_) => bail!(
            "{what} timed out after {:.0?} ({argv:?}); the box is removed",
            timeout
        ),
    };
    if let Some(dir) = out_files {
        out.stdout = std::fs::read(dir.join(format!("{what}.out"))).unwrap_or_default();
        out.stderr = std::fs::read(dir.join(format!("{what}.err"))).unwrap_or_default();
    }
    Ok(out)
}

/// The line of a runtime's stderr that says why: its last non-empty line,
/// unless a Go stack trace follows the message (runsc on a corrupt image),
/// then the first, which is the message.
pub fn cause_line(stderr: &str) -> String {
    let mut lines = stderr.lines().filter(|l| !l.trim().is_empty());
    let first = lines.clone().next().unwrap_or("");
    let trace = stderr
        .lines()
        .any(|l| l.starts_with('\t') || l.starts_with("goroutine ") || l.starts_with("panic("));
    if trace {
        return first.trim().to_string();
    }
    lines.next_back().unwrap_or("").trim().to_string()
}

/// Removes everything in `dir` (kept itself: the caller made it); the
/// count of entries removed.
fn clear_dir(dir: &Path) -> Result<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let p = e?.path();
        let r = if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.with_context(|| format!("remove {}", p.display()))?;
        n += 1;
    }
    Ok(n)
}

fn ok_or_fail(what: &str, argv: &[String], out: &std::process::Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    bail!(
        "{what} failed ({}): {} ({})",
        out.status,
        cause_line(&err),
        argv.first().map(String::as_str).unwrap_or("")
    )
}

impl BoxBackend for CommandBackend {
    type Handle = CommandBox;

    fn kind(&self) -> BackendKind {
        BackendKind::Command
    }

    async fn create(&self, name: &str) -> Result<CommandBox> {
        self.create_with(name, self.default_memory()).await
    }

    fn memory_limit_how(&self) -> std::result::Result<String, String> {
        match &self.rootfs {
            Some(_) => Ok(format!(
                "the OCI bundle's cgroup (linux.resources.memory: limit and memory + swap), applied by {}",
                self.profile
            )),
            None => Err(format!(
                "{}: the profile's own create command makes the box; runcost has no bundle to set its memory limit in",
                self.profile
            )),
        }
    }

    async fn create_limited(&self, name: &str, mib: u32) -> Result<CommandBox> {
        self.memory_limit_how()
            .map_err(|why| anyhow::anyhow!(why))?;
        let memory = super::bundle::Memory {
            limit: u64::from(mib) << 20,
            no_swap: true,
        };
        self.create_with(name, memory).await
    }

    fn oom_kill_file(&self, b: &CommandBox) -> Option<PathBuf> {
        // The box's cgroup on the host (cgroup v1 as here; v2's file would be
        // memory.events): what is inside the box may be the host's view.
        self.rootfs.as_ref()?;
        Some(PathBuf::from(format!(
            "/sys/fs/cgroup/memory{}/memory.oom_control",
            b.rec.cgroup
        )))
    }

    async fn start(&self, b: &mut CommandBox) -> Result<Started> {
        let t = &self.spec.timeouts;
        if let Some(s) = &self.spec.start {
            let argv = self.argv(b, s);
            let out = step("start", &argv, t.start.0, Some(&b.dir), &[]).await?;
            ok_or_fail("start", &argv, &out).with_context(|| format!("box {}", b.name))?;
        }
        // Ready: the profile's probe, or an exec of `true`, until it works.
        let probe = match &self.spec.ready {
            Some(r) => self.argv(b, r),
            None => {
                let mut v = self.argv(b, &self.spec.exec);
                v.push("true".into());
                v
            }
        };
        let deadline = Instant::now() + t.ready.0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let last = match step(
                "ready",
                &probe,
                left.max(Duration::from_millis(1)),
                None,
                &[],
            )
            .await
            {
                Ok(out) if out.status.success() => return Ok(Started::default()),
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "box {} not ready within {:.0?}: {last}; the box is removed",
                    b.name,
                    t.ready.0
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn exec(&self, b: &mut CommandBox, argv: &[String], stdin: &[u8]) -> Result<ExecOutput> {
        let mut full = self.argv(b, &self.spec.exec);
        full.extend(argv.iter().cloned());
        let out = step("exec", &full, self.spec.timeouts.exec.0, None, stdin)
            .await
            .with_context(|| format!("box {}: exec {argv:?}", b.name))?;
        Ok(ExecOutput {
            exit_code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    fn cannot_copy(&self) -> Option<String> {
        None
    }

    /// An OCI runtime's CLI has no copy command: a file goes in and out
    /// through the exec's stdio (`cat` in the box), which is the path a
    /// caller of the CLI has. The path is an argument, never shell text.
    async fn copy_in(&self, b: &mut CommandBox, path: &str, data: &[u8]) -> Result<()> {
        let argv = [
            "sh".to_string(),
            "-c".into(),
            "cat > \"$0\"".into(),
            path.to_string(),
        ];
        let out = self.exec(b, &argv, data).await?;
        if out.exit_code != 0 {
            bail!(
                "box {}: copy into {path} exited {}: {}",
                b.name,
                out.exit_code,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    async fn copy_out(&self, b: &mut CommandBox, path: &str, len: usize) -> Result<Vec<u8>> {
        let out = self
            .exec(b, &["cat".to_string(), path.to_string()], &[])
            .await?;
        if out.exit_code != 0 || out.stdout.len() != len {
            bail!(
                "box {}: copy out of {path} exited {} with {} bytes ({len} were copied in): {}",
                b.name,
                out.exit_code,
                out.stdout.len(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out.stdout)
    }

    /// Each exec is its own `runtime exec` process: the `n` run at once.
    async fn exec_at_once(
        &self,
        b: &mut CommandBox,
        argv: &[String],
        n: usize,
    ) -> (
        crate::results::boxaxes::ParallelMode,
        Vec<Result<(ExecOutput, Duration)>>,
    ) {
        let t = Instant::now();
        let b = &*b;
        let one = || async move {
            let mut full = self.argv(b, &self.spec.exec);
            full.extend(argv.iter().cloned());
            let out = step("exec", &full, self.spec.timeouts.exec.0, None, &[])
                .await
                .with_context(|| format!("box {}: exec {argv:?}", b.name))?;
            Ok((
                ExecOutput {
                    exit_code: out.status.code().unwrap_or(-1),
                    stdout: out.stdout,
                    stderr: out.stderr,
                },
                t.elapsed(),
            ))
        };
        let all = futures_util::future::join_all((0..n).map(|_| one())).await;
        (crate::results::boxaxes::ParallelMode::Concurrent, all)
    }

    /// An OCI runtime's `start` runs a *created* container once; after
    /// `stop` (a kill) the container is stopped for good and can only be
    /// deleted and created anew, which is the lifecycle lane, not a restart.
    fn cannot_restart(&self) -> Option<String> {
        Some(format!(
            "{}: an OCI runtime CLI starts a created container once; a stopped one can only be deleted and created again (that is the lifecycle lane)",
            self.profile
        ))
    }

    async fn stop(&self, b: &mut CommandBox) -> Result<()> {
        let argv = b.rec.stop.clone();
        let out = step("stop", &argv, self.spec.timeouts.stop.0, Some(&b.dir), &[]).await?;
        ok_or_fail("stop", &argv, &out).with_context(|| format!("stop box {}", b.name))
    }

    async fn remove(&self, mut b: CommandBox) -> Result<()> {
        let argv = b.rec.remove.clone();
        let out = step(
            "remove",
            &argv,
            self.spec.timeouts.remove.0,
            Some(&b.dir),
            &[],
        )
        .await?;
        ok_or_fail("remove", &argv, &out).with_context(|| format!("remove box {}", b.name))?;
        // The runtime has deleted the box; what is left is ours to tidy.
        b.live = false;
        kill_cgroup(&b.rec.cgroup);
        remove_cgroup(&b.rec.cgroup);
        let _ = std::fs::remove_dir_all(&b.dir);
        Ok(())
    }

    /// A box of most lanes gets a network namespace of its own from its
    /// bundle with nothing configured in it (no veth, no forwarded port):
    /// only its own loopback, which the host cannot reach. A throughput
    /// box's bundle keeps the host's namespace instead, unless the runtime
    /// brings a network stack of its own that the profile turned off.
    fn no_network(&self) -> Option<String> {
        if self.rootfs.is_none() {
            return Some(format!(
                "{}: the profile's own create command makes the box; runcost has no bundle to give it the host's network namespace",
                self.profile
            ));
        }
        if !self.host_network {
            return Some("CLI-runtime boxes get a network namespace of their own from the OCI bundle with only its loopback (the throughput lane's keep the host's)".into());
        }
        // gVisor's own network stack: `none` is loopback inside the sandbox
        // whatever namespace the bundle gives it.
        let create = &self.spec.create;
        let network_none = create.iter().any(|a| a == "--network=none")
            || create
                .windows(2)
                .any(|w| w[0] == "--network" && w[1] == "none");
        if network_none {
            return Some(format!(
                "{}: the profile runs its runtime with --network=none (the sandbox's own stack, loopback only): nothing the host can connect to",
                self.profile
            ));
        }
        None
    }

    /// The sink listens on 127.0.0.1 of the host's network namespace,
    /// which the bundle's box shares.
    async fn tcp_into(&self, b: &mut CommandBox) -> Result<super::TcpPath> {
        if let Some(why) = self.no_network() {
            bail!("box {}: {why}", b.name);
        }
        let agent = super::container::write_agent(self, b, &b.name.clone()).await?;
        Ok(super::TcpPath {
            agent,
            listen: "127.0.0.1:0".into(),
            host_port: None,
            via: format!(
                "loopback in the host's network namespace (the OCI bundle has no network namespace of its own), {}",
                self.profile
            ),
        })
    }

    fn live_pids(&self, b: &CommandBox) -> super::LivePids {
        match &self.spec.host_pids {
            HostPidsSpec::Cgroup(t) => {
                let vars: Vec<(&str, &str)> =
                    b.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
                super::LivePids::Procs(fill(std::slice::from_ref(t), &vars).remove(0).into())
            }
            _ => super::LivePids::Fixed(self.host_pids(b)),
        }
    }

    fn host_pids(&self, b: &CommandBox) -> Vec<i32> {
        let vars: Vec<(&str, &str)> = b.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match &self.spec.host_pids {
            HostPidsSpec::PidFile(t) => {
                let p = fill(std::slice::from_ref(t), &vars).remove(0);
                std::fs::read_to_string(&p)
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok())
                    .map(super::container::descendants)
                    .unwrap_or_default()
            }
            HostPidsSpec::Cgroup(t) => {
                let p = fill(std::slice::from_ref(t), &vars).remove(0);
                parse_pids(&std::fs::read_to_string(p).unwrap_or_default())
            }
            HostPidsSpec::Command(t) => {
                let argv = fill(t, &vars);
                std::process::Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .output()
                    .map(|o| parse_pids(&String::from_utf8_lossy(&o.stdout)))
                    .unwrap_or_default()
            }
        }
    }
}

/// Pids, one per line or whitespace-separated; anything else is skipped.
pub fn parse_pids(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|w| w.parse::<i32>().ok())
        .filter(|p| *p > 0)
        .collect()
}

fn write_record(dir: &Path, rec: &BoxRecord) -> Result<()> {
    crate::fs::write_atomic(
        &dir.join("box.json"),
        serde_json::to_string_pretty(rec)?.as_bytes(),
    )
}

/// The cgroup's directories under each hierarchy (v1 controllers, the
/// unified mount, or a pure v2 host).
fn cgroup_dirs(cgroup: &str) -> Vec<PathBuf> {
    let rel = cgroup.trim_start_matches('/');
    if rel.is_empty() || rel.contains("..") {
        return Vec::new();
    }
    let base = Path::new("/sys/fs/cgroup");
    let mut out = vec![base.join(rel)];
    if let Ok(d) = std::fs::read_dir(base) {
        out.extend(d.flatten().map(|e| e.path().join(rel)));
    }
    out.retain(|p| p.is_dir());
    out
}

/// SIGKILLs every process still in the box's cgroup: they are the box's by
/// construction (the cgroup is named for the run and the box).
fn kill_cgroup(cgroup: &str) -> usize {
    let mut n = 0;
    for d in cgroup_dirs(cgroup) {
        for p in parse_pids(&std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default()) {
            if kill(Pid::from_raw(p), Signal::SIGKILL).is_ok() {
                n += 1;
            }
        }
    }
    n
}

/// Removes the cgroup directories, deepest first (a runtime may leave them).
fn remove_cgroup(cgroup: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    for d in cgroup_dirs(cgroup) {
        let mut sub: Vec<PathBuf> = walk_dirs(&d);
        sub.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for s in sub {
            // A killed process leaves its cgroup a moment later.
            while std::fs::remove_dir(&s).is_err() && s.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn walk_dirs(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![d.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk_dirs(&e.path()));
            }
        }
    }
    out
}

/// A step run synchronously (guards, `clean`), killed at its timeout.
fn run_blocking(argv: &[String], timeout_s: f64) -> bool {
    let Some((prog, args)) = argv.split_first() else {
        return false;
    };
    let Ok(mut child) = std::process::Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + Duration::from_secs_f64(timeout_s.max(1.0));
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Removes one tracked box whatever state it is in: the runtime's stop and
/// delete, then its cgroup's processes and directories, then its files.
/// Returns whether anything was still running.
pub fn reap_box(dir: &Path, rec: &BoxRecord) -> bool {
    let mut was_live = false;
    if !rec.remove.is_empty() {
        run_blocking(&rec.stop, rec.stop_timeout_s);
        was_live = run_blocking(&rec.remove, rec.remove_timeout_s);
    }
    if kill_cgroup(&rec.cgroup) > 0 {
        was_live = true;
    }
    remove_cgroup(&rec.cgroup);
    let _ = std::fs::remove_dir_all(dir);
    was_live
}

/// What a reap of command boxes found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CliReap {
    /// Boxes whose runtime still knew them or whose cgroup still had processes.
    pub removed: usize,
    /// Records of boxes already gone.
    pub stale: usize,
}

/// Removes every tracked command box of `run_id` (every run when None),
/// the runs' state directories and bundles, and a run's unfinished rootfs
/// export.
pub fn reap(root: &Path, run_id: Option<&str>) -> CliReap {
    let mut out = CliReap::default();
    let base = cli_dir(root);
    let runs: Vec<(String, PathBuf)> = match run_id {
        Some(id) => vec![(id.to_string(), base.join(id))],
        None => std::fs::read_dir(&base)
            .map(|d| {
                d.flatten()
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    for (id, run) in runs {
        for profile in std::fs::read_dir(&run).into_iter().flatten().flatten() {
            for b in std::fs::read_dir(profile.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let file = b.path().join("box.json");
                let Some(rec) = std::fs::read_to_string(&file)
                    .ok()
                    .and_then(|t| serde_json::from_str::<BoxRecord>(&t).ok())
                else {
                    continue;
                };
                if reap_box(&b.path(), &rec) {
                    out.removed += 1;
                } else {
                    out.stale += 1;
                }
            }
        }
        let _ = std::fs::remove_dir_all(&run);
        let _ = std::fs::remove_dir_all(
            super::bundle::rootfs_cache(root).join(super::bundle::tmp_name(&id)),
        );
    }
    out
}

/// Tracked command boxes of a run still on disk (each is removed with its
/// record, so a record left is a box left).
pub fn live(root: &Path, run_id: &str) -> usize {
    let run = cli_dir(root).join(run_id);
    std::fs::read_dir(&run)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|p| std::fs::read_dir(p.path()).into_iter().flatten().flatten())
        .filter(|b| b.path().join("box.json").is_file())
        .count()
}

#[cfg(test)]
#[path = "command_faults.rs"]
mod faults;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_the_message_not_a_stack_frame() {
        assert_eq!(
            cause_line("warn: x\n\ncheckpoint failed: full\n\n"),
            "checkpoint failed: full"
        );
        let panic = "running container: restoring container \"x\": header error: unexpected EOF:\ngoroutine 1 [running]:\ngvisor.dev/gvisor/pkg/state.Load()\n\tgvisor.dev/gvisor/pkg/state/state.go:1 +0x1\n";
        assert_eq!(
            cause_line(panic),
            "running container: restoring container \"x\": header error: unexpected EOF:"
        );
        assert_eq!(cause_line(""), "");
    }

    #[test]
    fn pids_are_parsed_leniently() {
        assert_eq!(parse_pids("12\n 13 x\n\n0 -4 14"), vec![12, 13, 14]);
        assert!(parse_pids("").is_empty());
    }

    #[test]
    fn cgroup_paths_never_escape() {
        assert!(cgroup_dirs("/").is_empty());
        assert!(cgroup_dirs("/../etc").is_empty());
    }
}
