//! Host fingerprint (what makes runs comparable) and tool identity.

use crate::engine::{ComposeCli, EngineInfo};
use crate::results::{HostFingerprint, ToolInfo};
use procfs::{Current, Meminfo};
use std::path::Path;
use std::process::Command;

pub fn host(engine: &EngineInfo, compose: &ComposeCli) -> HostFingerprint {
    if crate::engine::endpoint::reach().is_remote() {
        return remote_host(engine, compose);
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim())
        })
        .unwrap_or("unknown")
        .to_string();
    let uname = nix::sys::utsname::uname().ok();
    HostFingerprint {
        hostname: uname
            .as_ref()
            .map(|u| u.nodename().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cpu_model,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        mem_total_bytes: Meminfo::current().map(|m| m.mem_total).unwrap_or(0),
        kernel: uname
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cgroup_version: engine.cgroup_version.clone(),
        engine_version: engine.server_version.clone(),
        engine_api: engine.api_version.clone(),
        compose: format!("{:?} {}", compose.variant, compose.version).to_lowercase(),
    }
}

/// The fingerprint of the engine's host, from the engine's own `info`: the
/// target ran there, so that machine is what makes runs comparable. The CPU
/// model is not in the engine's API.
fn remote_host(engine: &EngineInfo, compose: &ComposeCli) -> HostFingerprint {
    HostFingerprint {
        hostname: engine.hostname.clone(),
        cpu_model: "unknown (remote engine)".into(),
        cores: engine.ncpu.max(0) as usize,
        mem_total_bytes: engine.mem_total.max(0) as u64,
        kernel: engine.kernel.clone(),
        cgroup_version: engine.cgroup_version.clone(),
        engine_version: format!("{} {}", engine.kind, engine.server_version),
        engine_api: engine.api_version.clone(),
        compose: format!("{:?} {}", compose.variant, compose.version).to_lowercase(),
    }
}

pub fn tool(repo_root: &Path) -> ToolInfo {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(repo_root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    ToolInfo {
        name: "runcost".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_sha: git(&["rev-parse", "HEAD"]),
        git_dirty: git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
    }
}
