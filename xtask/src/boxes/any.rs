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

    fn host_pids(&self, h: &AnyBox) -> Vec<i32> {
        match (self, h) {
            (AnyBackend::Qemu(b), AnyBox::Qemu(h)) => b.host_pids(h),
            (AnyBackend::Engine(b), AnyBox::Engine(h)) => b.host_pids(h),
            (AnyBackend::Command(b), AnyBox::Command(h)) => b.host_pids(h),
            _ => Vec::new(),
        }
    }
}
