//! Which accelerator a qemu box uses. /dev/kvm existing is not enough: on
//! these machines it is a nested PVM hypervisor on which a stock Debian
//! kernel hangs before its first message. So KVM counts only when a probe
//! VM boots to its agent under it within a timeout; otherwise TCG. The
//! answer is cached (keyed by qemu, guest kernel and host kernel) so a lane
//! does not pay the probe timeout on every run.

use super::guest::GuestImage;
use super::qemu::{qemu_version, QemuBackend};
use super::{Accel, AccelChoice, BoxBackend, BoxSpec};
use crate::error::BadInput;
pub use crate::results::boxes::AccelProbe;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize)]
struct Cache {
    key: String,
    kvm_boots: bool,
    reason: String,
}

fn cache_key(qemu: &Path, guest: &GuestImage) -> String {
    let meta = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)))
            .map(|(l, t)| format!("{l}@{t:?}"))
            .unwrap_or_default()
    };
    let host = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "{} | {} {} | host {host}",
        qemu_version(qemu).unwrap_or_default(),
        guest.kernel.display(),
        meta(&guest.kernel)
    )
}

fn cache_path(root: &Path) -> PathBuf {
    super::guest::assets_dir(root).join("accel.json")
}

/// Boots one probe VM under KVM. Ok(()) when its agent answered.
async fn kvm_boots(base: &QemuBackend, timeout: Duration) -> Result<()> {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        anyhow::bail!("/dev/kvm cannot be opened ({e})");
    }
    let probe = QemuBackend {
        accel: Accel::Kvm,
        boot_timeout: timeout,
        run_id: format!("accel-probe-{}", std::process::id()),
        spec: BoxSpec::default(),
        disk_mib: None,
        nic: false,
        ..base.clone()
    };
    let mut b = probe.create("probe").await?;
    let r = async {
        probe.start(&mut b).await?;
        let out = probe.exec(&mut b, &["true".to_string()], &[]).await?;
        anyhow::ensure!(out.exit_code == 0, "`true` exited {}", out.exit_code);
        probe.stop(&mut b).await
    }
    .await;
    probe.remove(b).await?;
    let _ = std::fs::remove_dir(super::track::vms_dir(&base.root).join(&probe.run_id));
    r
}

/// Resolves `--accel`. `base` carries everything but the accelerator.
pub async fn resolve(
    base: &QemuBackend,
    choice: AccelChoice,
    timeout: Duration,
) -> Result<AccelProbe> {
    match choice {
        AccelChoice::Tcg => Ok(AccelProbe {
            accel: Accel::Tcg,
            choice,
            reason: "--accel tcg".into(),
            cached: false,
        }),
        AccelChoice::Kvm => {
            let t = Instant::now();
            match kvm_boots(base, timeout).await {
                Ok(()) => Ok(AccelProbe {
                    accel: Accel::Kvm,
                    choice,
                    reason: format!(
                        "--accel kvm; the probe VM booted in {:.1} s",
                        t.elapsed().as_secs_f64()
                    ),
                    cached: false,
                }),
                Err(e) => Err(BadInput(format!(
                    "--accel kvm: KVM does not boot the guest on this host: {e:#}\n\
                     use --accel tcg (software emulation) or --accel auto"
                ))
                .into()),
            }
        }
        AccelChoice::Auto => {
            let key = cache_key(&base.qemu, &base.guest);
            let path = cache_path(&base.root);
            if let Some(c) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<Cache>(&t).ok())
                .filter(|c| c.key == key)
            {
                return Ok(AccelProbe {
                    accel: if c.kvm_boots { Accel::Kvm } else { Accel::Tcg },
                    choice,
                    reason: c.reason,
                    cached: true,
                });
            }
            let t = Instant::now();
            let (kvm, reason) = match kvm_boots(base, timeout).await {
                Ok(()) => (
                    true,
                    format!(
                        "KVM booted the probe VM in {:.1} s",
                        t.elapsed().as_secs_f64()
                    ),
                ),
                Err(e) => {
                    // Keep the first line: the console tail is for --accel kvm.
                    let first = format!("{e:#}");
                    let first = first.lines().next().unwrap_or("").to_string();
                    (false, format!("KVM unusable, using TCG: {first}"))
                }
            };
            let cache = Cache {
                key,
                kvm_boots: kvm,
                reason: reason.clone(),
            };
            let _ =
                crate::fs::write_atomic(&path, serde_json::to_string_pretty(&cache)?.as_bytes());
            Ok(AccelProbe {
                accel: if kvm { Accel::Kvm } else { Accel::Tcg },
                choice,
                reason,
                cached: false,
            })
        }
    }
}
