//! Host mode: read /proc/<pid>/{smaps_rollup,status,stat,fd} of the target's
//! processes and the container's cgroup files directly. Buffers are reused
//! so a read allocates nothing in the steady state.

use super::parse::{cgroup_path, parse_smaps_rollup, parse_stat, parse_status};
use super::{clock_ticks, Probe, Reading, Target};
use crate::error::BadInput;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

pub struct HostProbe {
    target: Target,
    pids: Vec<i32>,
    /// The container's cgroup.procs: it outlives the container's processes
    /// (an engine restart gives new PIDs under the same cgroup path), so the
    /// probe finds the target again after a restart through it.
    cg_procs: Option<PathBuf>,
    buf: String,
    ticks: f64,
    cg_mem: Option<PathBuf>,
    cg_cpu: Option<PathBuf>,
}

impl HostProbe {
    pub fn new(target: Target) -> Result<HostProbe> {
        let pids = find_processes(target.host_pid, &target.processes)?;
        // Reading another user's smaps_rollup needs root or CAP_SYS_PTRACE.
        let probe_path = format!("/proc/{}/smaps_rollup", pids[0]);
        if let Err(e) = std::fs::read_to_string(&probe_path) {
            return Err(BadInput(format!(
                "host sampler cannot read {probe_path} ({e}); run as root (or with CAP_SYS_PTRACE), \
                 or use `--sampler exec`"
            ))
            .into());
        }
        let cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", target.host_pid))
            .unwrap_or_default();
        let (cg_mem, cg_cpu) = cgroup_files(&cgroups);
        let cg_procs = cgroup_procs_file(&cgroups);
        Ok(HostProbe {
            target,
            pids,
            cg_procs,
            buf: String::with_capacity(4096),
            ticks: clock_ticks(),
            cg_mem,
            cg_cpu,
        })
    }

    fn slurp(&mut self, path: &str) -> Result<&str> {
        self.buf.clear();
        File::open(path)
            .and_then(|mut f| f.read_to_string(&mut self.buf))
            .with_context(|| format!("read {path}"))?;
        Ok(&self.buf)
    }

    fn read_pid(&mut self, pid: i32, acc: &mut Reading) -> Result<()> {
        let m = parse_smaps_rollup(self.slurp(&format!("/proc/{pid}/smaps_rollup"))?)?;
        let s = parse_status(self.slurp(&format!("/proc/{pid}/status"))?)?;
        let st = parse_stat(self.slurp(&format!("/proc/{pid}/stat"))?)?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .with_context(|| format!("list /proc/{pid}/fd"))?
            .count() as u32;
        acc.rss += m.rss;
        acc.pss += m.pss;
        acc.pss_anon += m.pss_anon;
        acc.uss += m.uss;
        acc.swap += m.swap;
        acc.vm_hwm += s.vm_hwm;
        acc.threads += s.threads;
        acc.fds += fds;
        acc.cpu_s += st.cpu_ticks as f64 / self.ticks;
        acc.procs += 1;
        Ok(())
    }
}

impl Probe for HostProbe {
    fn read(&mut self) -> Result<Reading> {
        let mut acc = Reading::default();
        if self.pids.is_empty() {
            self.reattach()?;
        }
        let pids = self.pids.clone();
        for pid in pids {
            if let Err(e) = self.read_pid(pid, &mut acc) {
                // The process set changed (a worker restarted, or the engine
                // restarted the container): look again on the next tick.
                self.pids.clear();
                let _ = self.reattach();
                return Err(e.context(format!("pid {pid} vanished")));
            }
        }
        if let Some(p) = self.cg_mem.clone() {
            acc.cgroup_mem = self
                .slurp(&p.to_string_lossy())
                .ok()
                .and_then(|t| t.trim().parse().ok());
        }
        if let Some(p) = self.cg_cpu.clone() {
            acc.cgroup_cpu_s = self
                .slurp(&p.to_string_lossy())
                .ok()
                .and_then(|t| cgroup_cpu_seconds(t, &p));
        }
        Ok(acc)
    }
}

impl HostProbe {
    /// Finds the target's processes again: in the container's cgroup when
    /// it is known (this survives an engine restart), else under the
    /// original main process.
    fn reattach(&mut self) -> Result<()> {
        let pids = match &self.cg_procs {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("read {}", path.display()))?;
                let members: Vec<i32> =
                    text.lines().filter_map(|l| l.trim().parse().ok()).collect();
                select_members(&members, &self.target.processes, |pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .ok()
                        .and_then(|t| parse_stat(&t).ok())
                        .map(|st| (st.ppid, st.comm))
                })
            }
            None => find_processes(self.target.host_pid, &self.target.processes)?,
        };
        if pids.is_empty() {
            bail!("no target process in the container (restarting?)");
        }
        // Every named process must be back, or the sum would quietly
        // shrink to the ones that started first.
        let comm = |pid: &i32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|c| c.trim_end().to_string())
        };
        let comms: Vec<String> = pids.iter().filter_map(|p| comm(p).ok()).collect();
        if let Some(n) = self.target.processes.iter().find(|n| !comms.contains(n)) {
            bail!("`{n}` is not running yet (restarting?)");
        }
        self.pids = pids;
        Ok(())
    }
}

/// From a cgroup's members, the processes to sample: those whose comm is
/// named, or the main process (the member whose parent is not a member)
/// when no name is given. `stat` gives a pid's (ppid, comm).
pub fn select_members(
    members: &[i32],
    names: &[String],
    stat: impl Fn(i32) -> Option<(i32, String)>,
) -> Vec<i32> {
    let info: Vec<(i32, i32, String)> = members
        .iter()
        .filter_map(|&p| stat(p).map(|(pp, c)| (p, pp, c)))
        .collect();
    let mut out: Vec<i32> = if names.is_empty() {
        info.iter()
            .filter(|(_, pp, _)| !members.contains(pp))
            .map(|(p, _, _)| *p)
            .take(1)
            .collect()
    } else {
        info.iter()
            .filter(|(_, _, c)| names.contains(c))
            .map(|(p, _, _)| *p)
            .collect()
    };
    out.sort_unstable();
    out
}

/// The cgroup.procs file of the process's memory (v1) or unified (v2) cgroup.
fn cgroup_procs_file(proc_cgroup: &str) -> Option<PathBuf> {
    let root = PathBuf::from("/sys/fs/cgroup");
    let v1 = cgroup_path(proc_cgroup, "memory").map(|p| {
        root.join("memory")
            .join(p.trim_start_matches('/'))
            .join("cgroup.procs")
    });
    let v2 = || {
        cgroup_path(proc_cgroup, "")
            .map(|p| root.join(p.trim_start_matches('/')).join("cgroup.procs"))
    };
    v1.filter(|p| p.is_file())
        .or_else(|| v2().filter(|p| p.is_file()))
}

/// cpuacct.usage is nanoseconds; v2 cpu.stat has `usage_usec`.
fn cgroup_cpu_seconds(text: &str, path: &std::path::Path) -> Option<f64> {
    if path.ends_with("cpu.stat") {
        let line = text.lines().find(|l| l.starts_with("usage_usec"))?;
        line.split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
            .map(|u| u / 1e6)
    } else {
        text.trim().parse::<f64>().ok().map(|n| n / 1e9)
    }
}

fn cgroup_files(proc_cgroup: &str) -> (Option<PathBuf>, Option<PathBuf>) {
    let root = PathBuf::from("/sys/fs/cgroup");
    let existing = |p: PathBuf| p.is_file().then_some(p);
    let v1_mem = cgroup_path(proc_cgroup, "memory").and_then(|p| {
        existing(
            root.join("memory")
                .join(p.trim_start_matches('/'))
                .join("memory.usage_in_bytes"),
        )
    });
    let v1_cpu = cgroup_path(proc_cgroup, "cpuacct").and_then(|p| {
        existing(
            root.join("cpuacct")
                .join(p.trim_start_matches('/'))
                .join("cpuacct.usage"),
        )
    });
    if v1_mem.is_some() || v1_cpu.is_some() {
        return (v1_mem, v1_cpu);
    }
    let v2 = cgroup_path(proc_cgroup, "").map(|p| root.join(p.trim_start_matches('/')));
    match v2 {
        Some(dir) => (
            existing(dir.join("memory.current")),
            existing(dir.join("cpu.stat")),
        ),
        None => (None, None),
    }
}

/// The target's processes: the container's main process and its
/// descendants whose comm is one of `names` (all of them, summed: a
/// pre-forking server's workers are its cost), or the main process alone.
pub fn find_processes(root_pid: i32, names: &[String]) -> Result<Vec<i32>> {
    if names.is_empty() {
        return Ok(vec![root_pid]);
    }
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let mut comms: HashMap<i32, String> = HashMap::new();
    for entry in std::fs::read_dir("/proc").context("list /proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Ok(st) = parse_stat(&text) else { continue };
        children.entry(st.ppid).or_default().push(pid);
        comms.insert(pid, st.comm);
    }
    let mut found = Vec::new();
    let mut stack = vec![root_pid];
    while let Some(pid) = stack.pop() {
        if comms.get(&pid).is_some_and(|c| names.contains(c)) {
            found.push(pid);
        }
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    // Every name must match something: a typo would otherwise go unnoticed
    // behind the processes that do match.
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !found.iter().any(|p| comms.get(p) == Some(*n)))
        .collect();
    if !missing.is_empty() {
        let running: Vec<String> = {
            let mut s = vec![root_pid];
            let mut running = Vec::new();
            while let Some(p) = s.pop() {
                if let Some(c) = comms.get(&p) {
                    running.push(c.clone());
                }
                if let Some(k) = children.get(&p) {
                    s.extend(k);
                }
            }
            running.sort();
            running.dedup();
            running
        };
        let missing: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
        bail!(BadInput(format!(
            "no process named {} in the container (it runs: {}); fix `process:` in the profile",
            missing.join(", "),
            running.join(", ")
        )));
    }
    found.sort_unstable();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id() as i32;
        let mut p = HostProbe::new(Target {
            container_id: String::new(),
            host_pid: me,
            processes: vec![],
        })
        .unwrap();
        let r = p.read().unwrap();
        assert!(r.rss > 0 && r.uss > 0 && r.uss <= r.rss);
        assert!(r.threads >= 1 && r.fds >= 3);
        assert_eq!(r.procs, 1);
    }

    #[test]
    fn finds_children_by_comm_and_names_what_runs() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let pids = find_processes(me, &["sleep".into()]).unwrap();
        assert_eq!(pids, vec![child.id() as i32]);
        let err = find_processes(me, &["nosuchproc".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("sleep"), "{err:#}");
        // One name matching does not hide another that matches nothing.
        let err = find_processes(me, &["sleep".into(), "nosuchproc".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("`nosuchproc`"), "{err:#}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn cgroup_members_by_name_or_main_process() {
        // A restarted container: init 900 (sh) with workers 901, 902 and a
        // helper 903 whose parent is outside the cgroup listing order.
        let table = |pid: i32| match pid {
            900 => Some((1, "sh".to_string())),
            901 | 902 => Some((900, "worker".to_string())),
            903 => Some((900, "logger".to_string())),
            _ => None,
        };
        let members = [903, 901, 900, 902, 904];
        assert_eq!(select_members(&members, &[], table), vec![900]);
        assert_eq!(
            select_members(&members, &["worker".into()], table),
            vec![901, 902]
        );
        assert_eq!(
            select_members(&members, &["worker".into(), "logger".into()], table),
            vec![901, 902, 903]
        );
        assert!(select_members(&members, &["gone".into()], table).is_empty());
        assert!(select_members(&[], &[], table).is_empty());
    }

    #[test]
    fn cgroup_cpu_units() {
        assert_eq!(
            cgroup_cpu_seconds("2000000000\n", std::path::Path::new("/x/cpuacct.usage")),
            Some(2.0)
        );
        assert_eq!(
            cgroup_cpu_seconds(
                "usage_usec 1500000\nuser_usec 1\n",
                std::path::Path::new("/x/cpu.stat")
            ),
            Some(1.5)
        );
    }
}
