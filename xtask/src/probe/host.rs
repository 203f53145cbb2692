//! Host mode: read /proc/<pid>/{smaps_rollup,status,stat,fd} of the target's
//! processes and the container's cgroup files directly. Buffers are reused
//! so a read allocates nothing in the steady state.
//!
//! The sampled set follows the service: with `process:` names, every read
//! lists the container's cgroup.procs (one small file) and keeps the
//! members with those names, so forks join and exits leave. A process that
//! exits between the listing and its read is skipped and counted in
//! [`Reading::vanished`], never an error. Group-unique memory
//! ([`super::pagemap`]) costs far more than this read (a walk of every
//! mapped page), so it runs on a thread of its own ([`GroupReader`]) at
//! its own rate: it never delays a tick of the main sampler.

use super::cgroup::CgroupFiles;
use super::pagemap::GroupReader;
use super::parse::{cgroup_path, parse_smaps_rollup, parse_stat, parse_status, Stat};
use super::{clock_ticks, Probe, Reading, Target};
use crate::error::BadInput;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

pub struct HostProbe {
    target: Target,
    pids: Vec<i32>,
    /// The container's cgroup.procs: listed on every read when processes
    /// are named, and after a restart (an engine restart gives new PIDs
    /// under the same cgroup path).
    cg_procs: Option<PathBuf>,
    buf: String,
    ticks: f64,
    cgroup: Option<CgroupFiles>,
    /// The group-unique reader (started on the first read).
    group: Option<GroupReader>,
    /// Whether group-unique memory is read at all.
    group_on: bool,
    /// Why group-unique memory is unavailable, once a read failed.
    group_error: Option<String>,
    /// The PIDs of the last read, for the attribution reader.
    sink: Option<super::attrib::PidSink>,
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
        let cgroup = CgroupFiles::find(&cgroups, Path::new("/sys/fs/cgroup"));
        let cg_procs = cgroup_procs_file(&cgroups);
        Ok(HostProbe {
            target,
            pids,
            cg_procs,
            buf: String::with_capacity(4096),
            ticks: clock_ticks(),
            cgroup,
            group: None,
            group_on: true,
            group_error: None,
            sink: None,
        })
    }

    /// Without the group-unique reader (to measure the main read alone).
    pub fn without_group(mut self) -> HostProbe {
        self.group_on = false;
        self
    }

    fn slurp(&mut self, path: &str) -> Result<&str> {
        self.buf.clear();
        File::open(path)
            .and_then(|mut f| f.read_to_string(&mut self.buf))
            .with_context(|| format!("read {path}"))?;
        Ok(&self.buf)
    }

    fn stat_of(&mut self, pid: i32) -> Result<Stat> {
        parse_stat(self.slurp(&format!("/proc/{pid}/stat"))?)
    }

    /// Adds one process; `st` is its stat when the listing already read it.
    fn read_pid(&mut self, pid: i32, st: Option<Stat>, acc: &mut Reading) -> Result<()> {
        let m = parse_smaps_rollup(self.slurp(&format!("/proc/{pid}/smaps_rollup"))?)?;
        let s = parse_status(self.slurp(&format!("/proc/{pid}/status"))?)?;
        let st = match st {
            Some(st) => st,
            None => self.stat_of(pid)?,
        };
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

    /// The processes to read now, with their stat where the listing read it.
    fn current(&mut self, acc: &mut Reading) -> Result<Vec<(i32, Option<Stat>)>> {
        let names = self.target.processes.clone();
        let Some(cg) = self.cg_procs.clone().filter(|_| !names.is_empty()) else {
            // The main process alone (or no cgroup to list): the set is
            // fixed until it dies, then found again through the cgroup.
            if self.pids.is_empty() || self.pids.iter().all(|&p| !alive(p)) {
                self.pids.clear();
                self.reattach()?;
            }
            return Ok(self.pids.iter().map(|&p| (p, None)).collect());
        };
        let text =
            std::fs::read_to_string(&cg).with_context(|| format!("read {}", cg.display()))?;
        let mut out = Vec::new();
        let mut seen: Vec<&String> = Vec::new();
        for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let st = match self.stat_of(pid) {
                Ok(st) => st,
                Err(_) => {
                    // Listed, gone before its stat could be read.
                    acc.vanished += 1;
                    continue;
                }
            };
            if st.state == 'Z' {
                continue; // exited, not yet reaped: it has left
            }
            if let Some(n) = names.iter().find(|n| **n == st.comm) {
                seen.push(n);
                out.push((pid, Some(st)));
            }
        }
        // Every named process must be there, or the sum would quietly
        // shrink to the ones that started first (restarting).
        if let Some(n) = names.iter().find(|n| !seen.contains(n)) {
            bail!("`{n}` is not running in the container (restarting?)");
        }
        Ok(out)
    }

    /// Hands the current set to the group reader and attaches its newest
    /// value, if one came since the last sample.
    fn read_group(&mut self, pids: &[i32], acc: &mut Reading) {
        if !self.group_on {
            return;
        }
        self.group
            .get_or_insert_with(GroupReader::in_process)
            .exchange_into(pids, acc, &mut self.group_error);
    }
}

impl Probe for HostProbe {
    fn read(&mut self) -> Result<Reading> {
        let mut acc = Reading::default();
        let set = self.current(&mut acc)?;
        let mut read = Vec::with_capacity(set.len());
        for (pid, st) in set {
            match self.read_pid(pid, st, &mut acc) {
                Ok(()) => read.push(pid),
                // Exited between the listing and its read: it has left.
                // ESRCH comes while it is still exiting (its memory gone,
                // its stat not yet a zombie's), when `alive` says yes.
                Err(e) if !alive(pid) || exiting(&e) => acc.vanished += 1,
                Err(e) => return Err(e.context(format!("pid {pid}"))),
            }
        }
        if acc.procs == 0 {
            // Everything exited under us: look again on the next tick.
            self.pids.clear();
            bail!("no target process left to read (restarting?)");
        }
        if let Some(sink) = &self.sink {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone_from(&read);
        }
        self.read_group(&read, &mut acc);
        if let Some(cg) = self.cgroup.as_mut() {
            acc.set_cgroup(&cg.read());
        }
        Ok(acc)
    }

    fn unavailable(&self) -> Vec<(&'static str, String)> {
        let mut out = self
            .cgroup
            .as_ref()
            .map(|c| c.unavailable.clone())
            .unwrap_or_else(|| vec![("cgroup", "the target has no cgroup directory".into())]);
        if let Some(e) = &self.group_error {
            out.push(("group_unique", e.clone()));
        }
        out
    }

    fn pid_sink(&mut self) -> Option<super::attrib::PidSink> {
        Some(self.sink.get_or_insert_with(Default::default).clone())
    }
}

/// Whether a read failed because its process is exiting: /proc answers
/// ESRCH once the process has released its memory, before it is a zombie.
fn exiting(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.raw_os_error() == Some(nix::libc::ESRCH))
}

/// Whether a process still exists and has not exited (a zombie's /proc
/// entry stays until it is reaped, with empty smaps).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| parse_stat(&t).ok())
        .is_some_and(|st| st.state != 'Z' && st.state != 'X')
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
    fn esrch_anywhere_in_the_chain_means_exiting() {
        let gone = anyhow::Error::from(std::io::Error::from_raw_os_error(nix::libc::ESRCH))
            .context("read /proc/1/smaps_rollup");
        assert!(exiting(&gone));
        let denied = anyhow::Error::from(std::io::Error::from_raw_os_error(nix::libc::EACCES))
            .context("read /proc/1/smaps_rollup");
        assert!(!exiting(&denied), "a refused read stays an error");
    }

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
}
