//! Boxes: VM-backed (qemu) and container sandboxes behind one trait, so the
//! box lanes measure both the same way. Every box is tracked from the moment
//! it exists: a pid file per VM (`track`), a run label per container, and a
//! guard that stops it when dropped (error, signal race, panic).

pub mod accel;
pub mod agent;
pub mod any;
pub mod bundle;
pub mod command;
pub mod container;
pub mod guest;
pub mod profile;
pub mod qemu;
pub mod qmp;
pub mod runtimes;
pub mod snapshot;
pub mod track;

// The box vocabulary lives in results/ because run.json records it; what a
// box does with it (qemu names, the default size) is here.
pub use crate::results::boxes::{Accel, AccelChoice, BackendKind, BoxSpec, Transport};
use anyhow::Result;
use std::time::Duration;

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Qemu => "qemu",
            BackendKind::Container => "container",
            BackendKind::Command => "command",
        })
    }
}

impl Accel {
    pub fn qemu_name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Virtio => "virtio",
            Transport::Serial => "serial",
        }
    }
}

impl Default for BoxSpec {
    fn default() -> Self {
        BoxSpec {
            memory_mib: 256,
            vcpus: 1,
        }
    }
}

/// What a command in a box returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// What a box reports when it became ready.
#[derive(Clone, Copy, Debug, Default)]
pub struct Started {
    /// Guest uptime when its agent said hello (VMs only): kernel + init.
    pub guest_uptime: Option<Duration>,
}

/// The life of a box: create (allocate, nothing runs), start (returns when
/// commands can run), exec (argv, never a shell), stop, remove. `host_pids`
/// are the host processes that are the box's cost (the VMM; the container's
/// processes and its shim).
#[allow(async_fn_in_trait)] // used generically, never as `dyn`
pub trait BoxBackend {
    type Handle: Send;
    fn kind(&self) -> BackendKind;
    async fn create(&self, name: &str) -> Result<Self::Handle>;
    async fn start(&self, h: &mut Self::Handle) -> Result<Started>;
    async fn exec(&self, h: &mut Self::Handle, argv: &[String], stdin: &[u8])
        -> Result<ExecOutput>;
    async fn stop(&self, h: &mut Self::Handle) -> Result<()>;
    async fn remove(&self, h: Self::Handle) -> Result<()>;
    fn host_pids(&self, h: &Self::Handle) -> Vec<i32>;

    /// `n` copies of `argv` issued at the same moment in one box, each with
    /// its issue → completion time. The default queues them on the box's
    /// one command channel (the VM agent's stream); backends whose execs
    /// are independent run them concurrently.
    async fn exec_at_once(
        &self,
        h: &mut Self::Handle,
        argv: &[String],
        n: usize,
    ) -> (
        crate::results::boxaxes::ParallelMode,
        Vec<Result<(ExecOutput, Duration)>>,
    ) {
        let t = std::time::Instant::now();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.exec(h, argv, &[]).await.map(|o| (o, t.elapsed())));
        }
        (crate::results::boxaxes::ParallelMode::Queued, out)
    }

    /// Why a stopped box of this backend cannot be started again (None: it
    /// can, `stop` then `start` on the same handle).
    fn cannot_restart(&self) -> Option<String> {
        None
    }

    /// Where the box's disk is for the throughput lane's `dd`, and a
    /// command printing a monotonic clock in seconds with a fraction (the
    /// box times its own dd). Err: why this box has no disk to measure.
    fn scratch(&self) -> std::result::Result<Scratch, String> {
        Ok(Scratch {
            path: "/var/tmp/runcost-io".into(),
            capacity: None,
            clock: vec!["date".into(), "+%s.%N".into()],
        })
    }

    /// Why files cannot be copied into and out of this box through the
    /// runtime's own file path (None: `copy_in`/`copy_out` work).
    fn cannot_copy(&self) -> Option<String> {
        Some("this runtime offers no file copy path to runcost".into())
    }

    /// Copies `data` into the file `path` in the box through the runtime's
    /// own file path (the engine's archive API, the VM agent's protocol).
    async fn copy_in(&self, _h: &mut Self::Handle, path: &str, _data: &[u8]) -> Result<()> {
        anyhow::bail!(
            "copy into {path}: {}",
            self.cannot_copy().unwrap_or_default()
        )
    }

    /// Copies `len` bytes of the file `path` out of the box.
    async fn copy_out(&self, _h: &mut Self::Handle, path: &str, _len: usize) -> Result<Vec<u8>> {
        anyhow::bail!(
            "copy out of {path}: {}",
            self.cannot_copy().unwrap_or_default()
        )
    }

    /// How this backend limits one box's memory (the resource lane's
    /// pressure box), or Err: why it cannot.
    fn memory_limit_how(&self) -> std::result::Result<String, String> {
        Err("this runtime offers runcost no per-box memory limit".into())
    }

    /// Creates a box whose memory is limited to `mib` MiB (see
    /// [`BoxBackend::memory_limit_how`]); the other boxes keep theirs.
    async fn create_limited(&self, name: &str, mib: u32) -> Result<Self::Handle> {
        let why = self.memory_limit_how().err().unwrap_or_default();
        anyhow::bail!("box {name} with {mib} MiB: {why}")
    }

    /// The box's host processes as something that can be read again while
    /// the handle is busy (an exec holds it): what `host_pids` reads.
    fn live_pids(&self, h: &Self::Handle) -> LivePids {
        LivePids::Fixed(self.host_pids(h))
    }

    /// The host process whose end is the box's end (a container's init, a
    /// VMM), for a lane that waits on an exec while the box may be killed:
    /// an engine exec into a container the OOM killer ended can hang
    /// (gVisor's sandbox, seen here), so the waiter watches this process.
    /// None: the exec itself ends with the box (a runtime CLI's exec).
    fn init_pid(&self, _h: &Self::Handle) -> Option<i32> {
        None
    }

    /// A host file whose `oom_kill N` line counts this box's OOM kills
    /// (None: the box's own cgroup files, read inside it).
    fn oom_kill_file(&self, _h: &Self::Handle) -> Option<std::path::PathBuf> {
        None
    }

    /// Why the host cannot open a TCP connection into this box (None: it
    /// can, through [`BoxBackend::tcp_into`]).
    fn no_network(&self) -> Option<String> {
        Some("the box has no network interface".into())
    }

    /// Readies a started box for a TCP sink and says how the host reaches
    /// it (only where [`BoxBackend::no_network`] is None).
    async fn tcp_into(&self, _h: &mut Self::Handle) -> Result<TcpPath> {
        anyhow::bail!(
            "TCP into the box: {}",
            self.no_network().unwrap_or_default()
        )
    }
}

/// A box's host processes, read again on each [`LivePids::read`].
#[derive(Clone, Debug)]
pub enum LivePids {
    /// A set that does not change while the box lives (a VMM; a
    /// container's shim, whose descendants the reader adds).
    Fixed(Vec<i32>),
    /// A cgroup's `cgroup.procs`: whatever is in the box's cgroup now.
    Procs(std::path::PathBuf),
}

impl LivePids {
    pub fn read(&self) -> Vec<i32> {
        match self {
            LivePids::Fixed(p) => p.clone(),
            LivePids::Procs(f) => {
                command::parse_pids(&std::fs::read_to_string(f).unwrap_or_default())
            }
        }
    }
}

/// How the host reaches a TCP sink in a box (see [`BoxBackend::tcp_into`]):
/// loopback only, on the host's side.
#[derive(Clone, Debug)]
pub struct TcpPath {
    /// The box agent binary in the box, which runs the sink (`--sink`).
    pub agent: String,
    /// The address the sink binds in the box (port 0: any free one).
    pub listen: String,
    /// The host's 127.0.0.1 port that reaches the sink; None: the port the
    /// sink bound (the box shares the host's network namespace).
    pub host_port: Option<u16>,
    /// What carries the bytes, for the record.
    pub via: String,
}

/// Where a box's disk I/O goes (see [`BoxBackend::scratch`]).
#[derive(Clone, Debug)]
pub struct Scratch {
    /// A file or block device in the box.
    pub path: String,
    /// Its size when known (a VM's scratch disk); else the lane asks `df`.
    pub capacity: Option<u64>,
    pub clock: Vec<String>,
}

/// Whether `pid` is a running process (not gone, not a zombie).
pub fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
        st.rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X')
    })
}

/// Sum of PSS over `pids` (bytes); processes that vanished count zero.
pub fn pss_of(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|t| crate::probe::parse::parse_smaps_rollup(&t).ok())
        .map(|r| r.pss)
        .sum()
}

/// `doctor`'s box checks: (ok, what, detail); a failed one is a warning,
/// since only the qemu box lanes need it.
pub async fn doctor(root: &std::path::Path) -> Vec<(bool, String, String)> {
    let mut out = Vec::new();
    let Some(q) = qemu::find_qemu() else {
        out.push((
            false,
            "box: qemu".into(),
            "qemu-system-x86_64 missing: qemu box lanes are skipped (`cargo xtask setup` installs it)"
                .into(),
        ));
        return out;
    };
    let version = qemu::qemu_version(&q).unwrap_or_default();
    out.push((true, "box: qemu".into(), version.clone()));
    let guest = match guest::GuestImage::locate(root) {
        Ok(g) => {
            out.push((
                true,
                "box: guest".into(),
                format!(
                    "kernel {} ({}), initramfs {} KiB",
                    g.kernel_version,
                    g.kernel_format,
                    g.initramfs_bytes / 1024
                ),
            ));
            g
        }
        Err(e) => {
            out.push((false, "box: guest".into(), format!("{e:#}")));
            return out;
        }
    };
    let base_virtio = guest.virtio;
    let base = qemu::QemuBackend {
        root: root.to_path_buf(),
        run_id: String::new(),
        qemu: q,
        guest,
        accel: Accel::Tcg,
        transport: if base_virtio {
            Transport::Virtio
        } else {
            Transport::Serial
        },
        spec: BoxSpec::default(),
        boot_timeout: Duration::from_secs(60),
        exec_timeout: Duration::from_secs(30),
        disk_mib: None,
        disk_bps: None,
        nic: false,
    };
    match accel::resolve(&base, AccelChoice::Auto, Duration::from_secs(20)).await {
        Ok(p) => out.push((
            true,
            "box: accel".into(),
            format!(
                "{} — {}{}",
                p.accel.qemu_name(),
                p.reason,
                if p.cached { " (cached probe)" } else { "" }
            ),
        )),
        Err(e) => out.push((false, "box: accel".into(), format!("{e:#}"))),
    }
    match track::live(root, None) {
        Ok(v) if v.is_empty() => out.push((
            true,
            "box: leftovers".into(),
            "no tracked VM running".into(),
        )),
        Ok(v) => out.push((
            false,
            "box: leftovers".into(),
            format!(
                "{} tracked VM(s) still running: `cargo xtask clean`",
                v.len()
            ),
        )),
        Err(e) => out.push((false, "box: leftovers".into(), format!("{e:#}"))),
    }
    out
}
