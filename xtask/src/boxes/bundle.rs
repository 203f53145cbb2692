//! OCI bundles for runtimes driven through their CLI: the base image's
//! root filesystem, exported once per image id into
//! `target/runcost-box/rootfs/<image id>/` (a cache like the guest kernel,
//! built under a run-named temporary directory and renamed, so a killed
//! export leaves only a directory `clean --run` removes), and per box a
//! `config.json` that points at it read-only, runs `sleep infinity` as the
//! box's init, and puts the box in its own cgroup.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `runc spec` of runc 1.1.5: the OCI runtime's own defaults (namespaces,
/// mounts, capabilities, masked paths), patched per box.
const TEMPLATE: &str = include_str!("oci-config.json");

pub fn rootfs_cache(root: &Path) -> PathBuf {
    super::guest::assets_dir(root).join("rootfs")
}

/// The temporary export directory of a run (removed by the run's reap).
pub fn tmp_name(run_id: &str) -> String {
    format!(".tmp-{run_id}")
}

/// The image's rootfs, exported on first use: `docker create` (labelled with
/// the run, so the run's reap removes it if this is killed), `docker export`
/// piped into `tar -x` (argv only), `docker rm`.
pub fn rootfs(root: &Path, run_id: &str, image: &str) -> Result<PathBuf> {
    let id = image_id(image)?;
    let short: String = id.trim_start_matches("sha256:").chars().take(16).collect();
    let dir = rootfs_cache(root).join(&short);
    if dir.join("bin").exists() {
        return Ok(dir);
    }
    let tmp = rootfs_cache(root).join(tmp_name(run_id));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    let out = Command::new("docker")
        .args(["create", "--label"])
        .arg(format!("{}={run_id}", crate::engine::labels::RUN))
        .args([image, "true"])
        .output()
        .context("docker create (rootfs export)")?;
    if !out.status.success() {
        bail!(
            "docker create {image}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let cid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let exported = export(&cid, &tmp);
    let _ = Command::new("docker")
        .args(["rm", "-f", &cid])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    exported.with_context(|| format!("export the rootfs of {image}"))?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another run exported the same image meanwhile.
        Err(_) if dir.join("bin").exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(e).with_context(|| format!("rename into {}", dir.display())),
    }
}

fn export(cid: &str, into: &Path) -> Result<()> {
    let mut exp = Command::new("docker")
        .args(["export", cid])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawn docker export")?;
    let stdout = exp.stdout.take().context("docker export stdout")?;
    let tar = Command::new("tar")
        .arg("-C")
        .arg(into)
        .args(["-x", "-f", "-"])
        .stdin(stdout)
        .output()
        .context("run tar -x")?;
    let st = exp.wait().context("wait docker export")?;
    if !st.success() || !tar.status.success() {
        bail!(
            "docker export | tar -x failed: {}",
            String::from_utf8_lossy(&tar.stderr).trim()
        );
    }
    Ok(())
}

fn image_id(image: &str) -> Result<String> {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .output()
        .context("docker image inspect")?;
    if !out.status.success() {
        bail!("image {image} is not built; run `cargo xtask setup`");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The memory of one box's cgroup: a limit, and for the resource lane's
/// pressure box the same limit on memory + swap (OCI's `swap` is the
/// total), so the kernel OOM-kills at the limit instead of swapping.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub limit: u64,
    pub no_swap: bool,
}

/// What a box's bundle gives it besides its rootfs.
#[derive(Clone, Copy, Debug)]
pub struct BoxShape {
    pub memory: Memory,
    /// Keep the host's network namespace (no `network` entry): the
    /// throughput lane's host → box TCP over loopback.
    pub host_network: bool,
}

/// The OCI config of one box. Pure. The rootfs is shared and read-only;
/// what a box writes goes to `/tmp` (a small tmpfs: the lanes' scripts'
/// scratch files) and `/var/tmp`, a bind mount of `disk`, a directory of
/// the box's own on the host's disk (the throughput lane's dd target),
/// removed with the box.
pub fn config(
    rootfs: &Path,
    disk: &Path,
    cgroup: &str,
    hostname: &str,
    shape: BoxShape,
) -> Result<Value> {
    let memory = shape.memory;
    let mut c: Value = serde_json::from_str(TEMPLATE).context("parse the OCI template")?;
    c["process"]["args"] = json!(["sleep", "infinity"]);
    c["process"]["terminal"] = json!(false);
    c["root"] = json!({"path": rootfs, "readonly": true});
    c["hostname"] = json!(hostname);
    let mounts = c["mounts"]
        .as_array_mut()
        .context("the OCI template has no mounts")?;
    mounts.push(json!({
        "destination": "/tmp",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777", "size=16m"]
    }));
    mounts.push(json!({
        "destination": "/var/tmp",
        "type": "bind",
        "source": disk,
        "options": ["rbind", "rw"]
    }));
    if shape.host_network {
        c["linux"]["namespaces"]
            .as_array_mut()
            .context("the OCI template has no namespaces")?
            .retain(|n| n["type"] != "network");
    }
    c["linux"]["cgroupsPath"] = json!(cgroup);
    c["linux"]["resources"]["memory"] = if memory.no_swap {
        json!({ "limit": memory.limit, "swap": memory.limit })
    } else {
        json!({ "limit": memory.limit })
    };
    Ok(c)
}

/// Writes `<dir>/config.json` for one box.
pub fn write(
    dir: &Path,
    rootfs: &Path,
    cgroup: &str,
    hostname: &str,
    shape: BoxShape,
) -> Result<()> {
    let disk = dir.join("disk");
    std::fs::create_dir_all(&disk).with_context(|| format!("create {}", disk.display()))?;
    let c = config(rootfs, &disk, cgroup, hostname, shape)?;
    crate::fs::write_atomic(
        &dir.join("config.json"),
        serde_json::to_string_pretty(&c)?.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_points_at_the_shared_rootfs_read_only() {
        let mem = Memory {
            limit: 256 << 20,
            no_swap: false,
        };
        let shape = BoxShape {
            memory: mem,
            host_network: false,
        };
        let c = config(
            Path::new("/r/rootfs"),
            Path::new("/b/disk"),
            "/runcost-r1-b0",
            "b0",
            shape,
        )
        .unwrap();
        assert_eq!(c["root"]["path"], "/r/rootfs");
        assert_eq!(c["root"]["readonly"], true);
        assert_eq!(c["process"]["args"], json!(["sleep", "infinity"]));
        assert_eq!(c["linux"]["cgroupsPath"], "/runcost-r1-b0");
        assert_eq!(c["linux"]["resources"]["memory"]["limit"], 256u64 << 20);
        assert!(c["linux"]["resources"]["memory"]["swap"].is_null());
        let limited = Memory {
            limit: 64 << 20,
            no_swap: true,
        };
        let shape = BoxShape {
            memory: limited,
            host_network: true,
        };
        let l = config(Path::new("/r/rootfs"), Path::new("/d"), "/c", "p", shape).unwrap();
        let ns = l["linux"]["namespaces"].as_array().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "network"), "{ns:?}");
        assert!(ns.iter().any(|n| n["type"] == "pid"));
        assert_eq!(
            l["linux"]["resources"]["memory"],
            json!({ "limit": 64u64 << 20, "swap": 64u64 << 20 })
        );
        // Writable: a small tmpfs and the box's own directory on disk.
        let m = c["mounts"].as_array().unwrap();
        assert!(m
            .iter()
            .any(|m| m["destination"] == "/tmp" && m["type"] == "tmpfs"));
        assert!(m
            .iter()
            .any(|m| m["destination"] == "/var/tmp" && m["source"] == "/b/disk"));
        // The runtime's own defaults stay: a new pid namespace, masked paths.
        let ns = c["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.iter().any(|n| n["type"] == "pid"));
        assert!(!c["linux"]["maskedPaths"].as_array().unwrap().is_empty());
    }
}
