//! One box backend of any kind, so the lanes can hold several runtimes in
//! one list and interleave them (the trait's async fns are not `dyn`-safe).

use super::command::{CommandBackend, CommandBox};
use super::container::{ContainerBackend, ContainerBox};
use super::qemu::QemuBackend;
use super::{BackendKind, BoxBackend, ExecOutput, Started};
use anyhow::{bail, Result};

pub enum AnyBackend {
    Qemu(QemuBackend),
    Engine(ContainerBackend),
    Command(CommandBackend),
}

pub enum AnyBox {
    Qemu(<QemuBackend as BoxBackend>::Handle),
    Engine(ContainerBox),
    Command(CommandBox),
}

impl AnyBackend {
    /// The disk limit the backend's boxes run under (a profile's `disk_bps`).
    pub fn disk_limit(&self) -> Option<u64> {
        match self {
            AnyBackend::Qemu(b) => b.disk_bps,
            AnyBackend::Engine(b) => b.disk_bps,
            AnyBackend::Command(_) => None,
        }
    }

    /// Gives a qemu backend a scratch disk of `mib` MiB per box (the
    /// throughput lane); the other backends have their own disk.
    pub fn with_scratch_disk(&mut self, mib: u32) {
        if let AnyBackend::Qemu(b) = self {
            b.disk_mib = Some(mib);
        }
    }

    /// Gives the backend's boxes a network the host reaches on loopback
    /// (the throughput lane's TCP part): a qemu box a user-mode NIC with
    /// one port forwarded from 127.0.0.1, a container the host's network
    /// namespace, a CLI runtime's bundle the host's network namespace.
    pub fn with_loopback_network(&mut self) {
        match self {
            AnyBackend::Qemu(b) => b.nic = true,
            AnyBackend::Engine(b) => b.host_network = true,
            AnyBackend::Command(b) => b.host_network = true,
        }
    }
}

fn mismatch() -> anyhow::Error {
    anyhow::anyhow!("a box handle was given to another backend")
}

impl BoxBackend for AnyBackend {
    type Handle = AnyBox;

    fn kind(&self) -> BackendKind {
        match self {
            AnyBackend::Qemu(b) => b.kind(),
            AnyBackend::Engine(b) => b.kind(),
            AnyBackend::Command(b) => b.kind(),
        }
    }

    async fn create(&self, name: &str) -> Result<AnyBox> {
        Ok(match self {
            AnyBackend::Qemu(b) => AnyBox::Qemu(b.create(name).await?),
            AnyBackend::Engine(b) => AnyBox::Engine(b.create(name).await?),
            AnyBackend::Command(b) => AnyBox::Command(b.create(name).await?),
        })
    }

    async fn start(&self, h: &mut AnyBox) -> Result<Started> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.start(h).await,
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.start(h).await,
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.start(h).await,
            _ => Err(mismatch()),
        }
    }

    async fn exec(&self, h: &mut AnyBox, argv: &[String], stdin: &[u8]) -> Result<ExecOutput> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.exec(h, argv, stdin).await,
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.exec(h, argv, stdin).await,
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.exec(h, argv, stdin).await,
            _ => Err(mismatch()),
        }
    }

    async fn stop(&self, h: &mut AnyBox) -> Result<()> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.stop(h).await,
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.stop(h).await,
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.stop(h).await,
            _ => Err(mismatch()),
        }
    }

    async fn remove(&self, h: AnyBox) -> Result<()> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.remove(h).await,
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.remove(h).await,
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.remove(h).await,
            // The handle's own guard removes it as it drops here.
            _ => bail!("a box handle was given to another backend"),
        }
    }

    async fn exec_at_once(
        &self,
        h: &mut AnyBox,
        argv: &[String],
        n: usize,
    ) -> (
        crate::results::boxaxes::ParallelMode,
        Vec<Result<(ExecOutput, std::time::Duration)>>,
    ) {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.exec_at_once(h, argv, n).await,
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.exec_at_once(h, argv, n).await,
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.exec_at_once(h, argv, n).await,
            _ => (
                crate::results::boxaxes::ParallelMode::Queued,
                (0..n).map(|_| Err(mismatch())).collect(),
            ),
        }
    }

    fn cannot_restart(&self) -> Option<String> {
        match self {
            AnyBackend::Qemu(b) => b.cannot_restart(),
            AnyBackend::Engine(b) => b.cannot_restart(),
            AnyBackend::Command(b) => b.cannot_restart(),
        }
    }

    fn scratch(&self) -> std::result::Result<super::Scratch, String> {
        match self {
            AnyBackend::Qemu(b) => b.scratch(),
            AnyBackend::Engine(b) => b.scratch(),
            AnyBackend::Command(b) => b.scratch(),
        }
    }

    fn cannot_copy(&self) -> Option<String> {
        match self {
            AnyBackend::Qemu(b) => b.cannot_copy(),
            AnyBackend::Engine(b) => b.cannot_copy(),
            AnyBackend::Command(b) => b.cannot_copy(),
        }
    }

    async fn copy_in(&self, h: &mut AnyBox, path: &str, data: &[u8]) -> Result<()> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.copy_in(h, path, data).await,
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.copy_in(h, path, data).await,
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.copy_in(h, path, data).await,
            _ => Err(mismatch()),
        }
    }

    async fn copy_out(&self, h: &mut AnyBox, path: &str, len: usize) -> Result<Vec<u8>> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.copy_out(h, path, len).await,
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.copy_out(h, path, len).await,
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.copy_out(h, path, len).await,
            _ => Err(mismatch()),
        }
    }

    fn memory_limit_how(&self) -> std::result::Result<String, String> {
        match self {
            AnyBackend::Qemu(b) => b.memory_limit_how(),
            AnyBackend::Engine(b) => b.memory_limit_how(),
            AnyBackend::Command(b) => b.memory_limit_how(),
        }
    }

    async fn create_limited(&self, name: &str, mib: u32) -> Result<AnyBox> {
        Ok(match self {
            AnyBackend::Qemu(b) => AnyBox::Qemu(b.create_limited(name, mib).await?),
            AnyBackend::Engine(b) => AnyBox::Engine(b.create_limited(name, mib).await?),
            AnyBackend::Command(b) => AnyBox::Command(b.create_limited(name, mib).await?),
        })
    }

    fn no_network(&self) -> Option<String> {
        match self {
            AnyBackend::Qemu(b) => b.no_network(),
            AnyBackend::Engine(b) => b.no_network(),
            AnyBackend::Command(b) => b.no_network(),
        }
    }

    async fn tcp_into(&self, h: &mut AnyBox) -> Result<super::TcpPath> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.tcp_into(h).await,
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.tcp_into(h).await,
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.tcp_into(h).await,
            _ => Err(mismatch()),
        }
    }

    fn live_pids(&self, h: &AnyBox) -> super::LivePids {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.live_pids(h),
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.live_pids(h),
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.live_pids(h),
            _ => super::LivePids::Fixed(Vec::new()),
        }
    }

    fn init_pid(&self, h: &AnyBox) -> Option<i32> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.init_pid(h),
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.init_pid(h),
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.init_pid(h),
            _ => None,
        }
    }

    fn oom_kill_file(&self, h: &AnyBox) -> Option<std::path::PathBuf> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.oom_kill_file(h),
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.oom_kill_file(h),
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.oom_kill_file(h),
            _ => None,
        }
    }

    fn host_pids(&self, h: &AnyBox) -> Vec<i32> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.host_pids(h),
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.host_pids(h),
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.host_pids(h),
            _ => Vec::new(),
        }
    }
}
