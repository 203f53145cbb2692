//! Container boxes through the Docker engine: one container of the
//! base image per box, labelled with the run so every exit path and `clean`
//! reap it by label. The box's command runs through the engine's exec API
//! with the same argv semantics as the VM agent.

use super::{BackendKind, BoxBackend, ExecOutput, Started};
use crate::engine::{cleanup, Engine, IsolatedContainer};
use anyhow::{Context, Result};
use std::collections::HashMap;

pub const IMAGE: &str = "runcost/base:bookworm";

#[derive(Clone)]
pub struct ContainerBackend {
    pub engine: Engine,
    pub run_id: String,
    pub image: String,
    pub memory_mib: u32,
    /// The engine's runtime (`--runtime`); None = the engine's default.
    pub runtime: Option<String>,
    /// Read and write limit on the engine's data disk, bytes/s (a box
    /// profile's `disk_bps`, e.g. to plant a slow-disk regression).
    pub disk_bps: Option<u64>,
    /// The host's network namespace instead of none (the throughput lane's
    /// TCP part; its sink listens on 127.0.0.1 only).
    pub host_network: bool,
}

/// Where the static box agent goes in a container for the TCP sink (its
/// own filesystem: removed with it).
const AGENT_AT: &str = "/tmp/runcost-boxagent";

/// Where the throughput lane's files go in a container box: its own
/// writable layer (on the engine's data disk, not a tmpfs).
pub const SCRATCH_DIR: &str = "/var/tmp";

pub struct ContainerBox {
    name: String,
    id: String,
    host_pid: Option<i32>,
    live: bool,
}

impl Drop for ContainerBox {
    fn drop(&mut self) {
        if self.live {
            // Dropped while it exists (error, signal race, panic).
            cleanup::remove_container_blocking(&self.id);
        }
    }
}

impl BoxBackend for ContainerBackend {
    type Handle = ContainerBox;

    fn kind(&self) -> BackendKind {
        BackendKind::Container
    }

    async fn create(&self, name: &str) -> Result<ContainerBox> {
        self.create_with(name, u64::from(self.memory_mib) << 20, None)
            .await
    }

    fn memory_limit_how(&self) -> std::result::Result<String, String> {
        Ok("the engine's cgroup memory limit, memory + swap equal to it".into())
    }

    /// Swap limited equal to the memory: the box cannot page out, so an
    /// allocation beyond the limit meets the cgroup's OOM killer.
    async fn create_limited(&self, name: &str, mib: u32) -> Result<ContainerBox> {
        let bytes = u64::from(mib) << 20;
        self.create_with(name, bytes, Some(bytes)).await
    }

    async fn start(&self, b: &mut ContainerBox) -> Result<Started> {
        self.engine
            .start(&b.id)
            .await
            .with_context(|| format!("start container box {}", b.name))?;
        b.host_pid = self.engine.inspect(&b.id).await?.host_pid;
        Ok(Started::default())
    }

    async fn exec(
        &self,
        b: &mut ContainerBox,
        argv: &[String],
        stdin: &[u8],
    ) -> Result<ExecOutput> {
        let r = self
            .engine
            .exec_with_stdin(&b.id, argv, stdin)
            .await
            .with_context(|| format!("box {}: exec {argv:?}", b.name))?;
        Ok(ExecOutput {
            exit_code: r.exit_code as i32,
            stdout: r.stdout,
            stderr: r.stderr,
        })
    }

    async fn stop(&self, b: &mut ContainerBox) -> Result<()> {
        self.engine
            .stop(&b.id, 5)
            .await
            .with_context(|| format!("stop container box {}", b.name))
    }

    async fn remove(&self, mut b: ContainerBox) -> Result<()> {
        self.engine
            .remove(&b.id)
            .await
            .with_context(|| format!("remove container box {}", b.name))?;
        b.live = false;
        Ok(())
    }

    /// The engine's exec API runs each exec as its own process in the
    /// container: the `n` execs really run at once.
    async fn exec_at_once(
        &self,
        b: &mut ContainerBox,
        argv: &[String],
        n: usize,
    ) -> (
        crate::results::boxaxes::ParallelMode,
        Vec<Result<(ExecOutput, std::time::Duration)>>,
    ) {
        let t = std::time::Instant::now();
        let b = &*b;
        let one = || async move {
            let r = self.exec_shared(b, argv).await;
            r.map(|o| (o, t.elapsed()))
        };
        let all = futures_util::future::join_all((0..n).map(|_| one())).await;
        (crate::results::boxaxes::ParallelMode::Concurrent, all)
    }

    fn init_pid(&self, b: &ContainerBox) -> Option<i32> {
        b.host_pid
    }

    /// The container's containerd shim and everything under it (the
    /// container's processes; for gVisor also the sandbox and the gofer,
    /// which are the shim's children beside the container's init): all of
    /// it is per-box cost just as the VMM is.
    fn host_pids(&self, b: &ContainerBox) -> Vec<i32> {
        let Some(root) = b.host_pid else {
            return Vec::new();
        };
        if let Some(shim) = parent(root) {
            let comm = std::fs::read_to_string(format!("/proc/{shim}/comm")).unwrap_or_default();
            if comm.starts_with("containerd-shim") {
                return descendants(shim);
            }
        }
        descendants(root)
    }

    fn cannot_copy(&self) -> Option<String> {
        None
    }

    /// Through the engine's archive API: a one-file tar PUT into the
    /// path's directory.
    async fn copy_in(&self, b: &mut ContainerBox, path: &str, data: &[u8]) -> Result<()> {
        let (dir, name) = path
            .rsplit_once('/')
            .with_context(|| format!("copy into {path}: not an absolute path"))?;
        self.engine
            .upload_file(
                &b.id,
                if dir.is_empty() { "/" } else { dir },
                name,
                0o644,
                data,
            )
            .await
            .with_context(|| format!("box {}: copy into {path}", b.name))
    }

    async fn copy_out(&self, b: &mut ContainerBox, path: &str, len: usize) -> Result<Vec<u8>> {
        let data = self
            .engine
            .download_file(&b.id, path)
            .await
            .with_context(|| format!("box {}: copy out of {path}", b.name))?;
        if data.len() != len {
            anyhow::bail!(
                "box {}: {path} came out with {} bytes; {len} were copied in",
                b.name,
                data.len()
            );
        }
        Ok(data)
    }

    fn no_network(&self) -> Option<String> {
        (!self.host_network).then(|| {
            "container boxes run with network mode none (isolated by design): no interface to connect to".into()
        })
    }

    /// The static box agent (built by `cargo xtask setup`) written into
    /// the box through an exec's stdin: the box's own view of its files
    /// (gVisor keeps /tmp in the sandbox, where the archive API's upload
    /// into the rootfs does not show); its sink listens on 127.0.0.1 of the
    /// host's network namespace, which the box shares.
    async fn tcp_into(&self, b: &mut ContainerBox) -> Result<super::TcpPath> {
        if let Some(why) = self.no_network() {
            anyhow::bail!("box {}: {why}", b.name);
        }
        write_agent(self, b, &b.name.clone()).await?;
        Ok(super::TcpPath {
            agent: AGENT_AT.into(),
            listen: "127.0.0.1:0".into(),
            host_port: None,
            via: "loopback in the host's network namespace (network mode host), no NAT".into(),
        })
    }
}

/// Writes the static box agent (built by `cargo xtask setup`) to
/// `AGENT_AT` in the box through an exec's stdin, for its TCP sink.
pub(super) async fn write_agent<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    name: &str,
) -> Result<String> {
    let root = crate::cmd::repo_root()?;
    let bin = super::guest::agent_bin(&root);
    let data = std::fs::read(&bin).with_context(|| {
        format!(
            "the static box agent {} (the TCP sink): run `cargo xtask setup`",
            bin.display()
        )
    })?;
    let argv: Vec<String> = ["sh", "-c", "cat >\"$0\" && chmod 755 \"$0\"", AGENT_AT]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let o = b.exec(h, &argv, &data).await?;
    if o.exit_code != 0 {
        anyhow::bail!(
            "box {name}: writing the box agent to {AGENT_AT} exited {}: {}",
            o.exit_code,
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(AGENT_AT.into())
}

/// The block device under the engine's data root (a partition's whole
/// disk: the engine's throttle takes only whole devices). Local engines
/// only: the device is found through this host's /sys.
async fn data_disk(engine: &Engine) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let root = engine.root_dir().await?;
    let dev = std::fs::metadata(&root)
        .with_context(|| {
            format!(
                "disk_bps: stat the engine's data root {root} (a disk limit needs a local engine)"
            )
        })?
        .dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let sys = std::path::PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    let sys = std::fs::canonicalize(&sys).map_err(|_| {
        crate::error::BadInput(format!(
            "disk_bps: the engine's data root {root} is on no block device (device {major}:{minor}); a disk limit cannot be set on this host"
        ))
    })?;
    let whole = if sys.join("partition").exists() {
        sys.parent().map(|p| p.to_path_buf()).unwrap_or(sys)
    } else {
        sys
    };
    let uevent = std::fs::read_to_string(whole.join("uevent"))
        .with_context(|| format!("read {}/uevent", whole.display()))?;
    let name = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .with_context(|| format!("no DEVNAME in {}/uevent", whole.display()))?;
    Ok(format!("/dev/{name}"))
}

impl ContainerBackend {
    async fn create_with(
        &self,
        name: &str,
        memory_bytes: u64,
        memory_swap_bytes: Option<u64>,
    ) -> Result<ContainerBox> {
        let cname = format!("runcost-{}-{name}", self.run_id);
        let device = match self.disk_bps {
            Some(_) => Some(data_disk(&self.engine).await?),
            None => None,
        };
        let id = self
            .engine
            .create_isolated(&IsolatedContainer {
                name: &cname,
                image: &self.image,
                entrypoint: &["sleep".into(), "infinity".into()],
                run_id: &self.run_id,
                cell: name,
                memory_bytes,
                memory_swap_bytes,
                runtime: self.runtime.as_deref(),
                disk_bps: device.as_deref().zip(self.disk_bps),
                host_network: self.host_network,
            })
            .await
            .with_context(|| format!("create container box {cname}"))?;
        Ok(ContainerBox {
            name: name.to_string(),
            id,
            host_pid: None,
            live: true,
        })
    }

    async fn exec_shared(&self, b: &ContainerBox, argv: &[String]) -> Result<ExecOutput> {
        let r = self
            .engine
            .exec_with_stdin(&b.id, argv, &[])
            .await
            .with_context(|| format!("box {}: exec {argv:?}", b.name))?;
        Ok(ExecOutput {
            exit_code: r.exit_code as i32,
            stdout: r.stdout,
            stderr: r.stderr,
        })
    }
}

fn parent(pid: i32) -> Option<i32> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    crate::probe::parse::parse_stat(&st).ok().map(|s| s.ppid)
}

/// `pid` and all its descendants.
pub(crate) fn descendants(pid: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(d) = std::fs::read_dir("/proc") {
        for e in d.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(pp) = parent(p) {
                children.entry(pp).or_default().push(p);
            }
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        out.push(p);
        if let Some(k) = children.get(&p) {
            stack.extend(k);
        }
    }
    out
}
