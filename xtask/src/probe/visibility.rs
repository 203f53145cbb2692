//! Which sampler can read a container: the host's /proc only when the
//! engine's processes are this host's. Detected per container, never
//! assumed from the engine URL: a tcp:// engine may be local, and a local
//! socket may front an engine in another PID namespace (a nested or
//! rootless engine), whose PIDs name other processes here or none.

use super::{SamplerMode, Target};
use crate::error::BadInput;
use crate::results::CgroupPlacement;
use std::sync::OnceLock;

/// Whether a process's `/proc/PID/cgroup` places it in the container: every
/// engine puts the full container id in the cgroup path (cgroupfs
/// `/docker/ID`, systemd `docker-ID.scope`, Podman `libpod-ID`).
pub fn cgroup_names_container(cgroup: &str, container_id: &str) -> bool {
    !container_id.is_empty() && cgroup.lines().any(|l| l.contains(container_id))
}

/// Where a visible container's memory cgroup is: the `memory` controller's
/// line under cgroup v1, the `0::` line under v2. `mounted` says whether a
/// controller directory exists here (`/sys/fs/cgroup/memory/PATH` or
/// `/sys/fs/cgroup/PATH`).
pub fn placement(cgroup: &str, mounted: impl Fn(&str) -> bool) -> Option<CgroupPlacement> {
    let v1 = cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctl, path) = (parts.next()?, parts.next()?, parts.next()?);
        ctl.split(',').any(|c| c == "memory").then_some(path)
    });
    let (version, path, dir) = match v1 {
        Some(p) => ("1", p, format!("/sys/fs/cgroup/memory{p}")),
        None => {
            let p = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
            ("2", p, format!("/sys/fs/cgroup{p}"))
        }
    };
    Some(CgroupPlacement::Visible {
        version: version.into(),
        memory: path.into(),
        mounted_here: mounted(&dir),
    })
}

/// The first target's cgroup placement this process saw (one per run:
/// every cell of a run is on the same engine).
static FIRST: OnceLock<CgroupPlacement> = OnceLock::new();

/// What [`not_visible`] found for the run's first target.
pub fn first_placement() -> Option<CgroupPlacement> {
    FIRST.get().cloned()
}

/// Why the container's processes cannot be read from this host's /proc,
/// or `None` when they can.
pub fn not_visible(target: &Target) -> Option<String> {
    let why = not_visible_here(target);
    let seen = match &why {
        Some(why) => Some(CgroupPlacement::NotVisible { why: why.clone() }),
        None => std::fs::read_to_string(format!("/proc/{}/cgroup", target.host_pid))
            .ok()
            .and_then(|t| placement(&t, |d| std::path::Path::new(d).is_dir())),
    };
    if let Some(p) = seen {
        let _ = FIRST.set(p);
    }
    why
}

fn not_visible_here(target: &Target) -> Option<String> {
    let path = format!("/proc/{}/cgroup", target.host_pid);
    match std::fs::read_to_string(&path) {
        Err(e) => Some(format!(
            "the engine's PID {} for the container is not in this host's /proc ({e})",
            target.host_pid
        )),
        Ok(text) if !cgroup_names_container(&text, &target.container_id) => Some(format!(
            "PID {} in this host's /proc is not the container's process (its cgroup does not \
             name container {}): the engine runs in another PID namespace or on another host",
            target.host_pid,
            short(&target.container_id)
        )),
        Ok(_) => None,
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The sampler a cell uses: `auto` becomes host or exec by what
/// [`not_visible`] finds; an explicit `host` the host cannot serve is
/// refused with the fix.
pub fn resolve(asked: SamplerMode, target: &Target) -> Result<SamplerMode, BadInput> {
    match (asked, not_visible(target)) {
        (SamplerMode::Exec, _) => Ok(SamplerMode::Exec),
        (SamplerMode::Host | SamplerMode::Auto, None) => Ok(SamplerMode::Host),
        (SamplerMode::Auto, Some(why)) => {
            tracing::info!("sampler: exec ({why})");
            Ok(SamplerMode::Exec)
        }
        (SamplerMode::Host, Some(why)) => Err(BadInput(format!(
            "--sampler host cannot read this container: {why}; use `--sampler auto` (the \
             default) or `--sampler exec`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c0a9e6b2d4c8e9a7f3b1d5e6c7a8b9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a";

    #[test]
    fn finds_the_container_in_each_engines_cgroup_layout() {
        let v1 = format!("12:memory:/docker/{ID}\n11:cpu,cpuacct:/docker/{ID}\n0::/\n");
        let systemd = format!("0::/system.slice/docker-{ID}.scope\n");
        let podman = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
        for text in [&v1, &systemd, &podman] {
            assert!(cgroup_names_container(text, ID), "{text}");
        }
        assert!(!cgroup_names_container("0::/init.scope\n", ID));
        assert!(!cgroup_names_container(&v1, ""));
    }

    #[test]
    fn the_memory_cgroup_is_read_from_either_layout() {
        let docker = format!("12:memory:/docker/{ID}\n11:cpu,cpuacct:/docker/{ID}\n0::/\n");
        assert_eq!(
            placement(&docker, |d| d
                == format!("/sys/fs/cgroup/memory/docker/{ID}")),
            Some(CgroupPlacement::Visible {
                version: "1".into(),
                memory: format!("/docker/{ID}"),
                mounted_here: true
            })
        );
        let podman =
            format!("4:memory:/libpod_parent/libpod-{ID}\n0::/libpod_parent/libpod-{ID}\n");
        let Some(CgroupPlacement::Visible { memory, .. }) = placement(&podman, |_| false) else {
            panic!("v1 podman layout");
        };
        assert_eq!(memory, format!("/libpod_parent/libpod-{ID}"));
        let v2 = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
        assert_eq!(
            placement(&v2, |_| false),
            Some(CgroupPlacement::Visible {
                version: "2".into(),
                memory: format!("/machine.slice/libpod-{ID}.scope/container"),
                mounted_here: false
            })
        );
        assert_eq!(placement("", |_| true), None);
    }

    #[test]
    fn a_pid_of_another_namespace_means_exec() {
        // PID 1 here is this host's init (or the sandbox's), never in a
        // container whose id is made up.
        let target = Target {
            container_id: ID.into(),
            host_pid: 1,
            processes: vec![],
        };
        assert_eq!(
            resolve(SamplerMode::Auto, &target).unwrap(),
            SamplerMode::Exec
        );
        let e = resolve(SamplerMode::Host, &target).unwrap_err();
        assert!(e.0.contains("--sampler exec"), "{}", e.0);
        let gone = Target {
            host_pid: i32::MAX,
            ..target
        };
        assert!(not_visible(&gone)
            .unwrap()
            .contains("not in this host's /proc"));
        assert_eq!(
            resolve(SamplerMode::Exec, &gone).unwrap(),
            SamplerMode::Exec
        );
    }

    #[test]
    fn this_process_is_visible_in_its_own_cgroup() {
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        // The last path segment of our own cgroup stands in for an id.
        let seg = text
            .lines()
            .filter_map(|l| l.rsplit('/').next())
            .find(|s| s.len() >= 3);
        if let Some(seg) = seg {
            let me = Target {
                container_id: seg.into(),
                host_pid: std::process::id() as i32,
                processes: vec![],
            };
            assert_eq!(resolve(SamplerMode::Auto, &me).unwrap(), SamplerMode::Host);
        }
    }
}
