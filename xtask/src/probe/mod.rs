//! Samplers. A [`Probe`] reads the current cost of the target's processes;
//! the [`sampler`] calls it at a fixed rate. Host mode reads the host's
//! /proc directly (~0.1 ms); exec-stream mode keeps ONE `docker exec` shell
//! loop open for engines whose /proc we cannot see, plus one exec of the
//! uploaded `runcost-groupmem` for group-unique memory ([`pagemap`]).

pub mod cgroup;
pub mod exec;
pub mod fingerprint;
pub mod host;
pub mod hostload;
pub mod pagemap;
pub mod parse;
pub mod sampler;
pub mod system;

pub use crate::results::SamplerMode;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// One reading, summed over the target's processes. The `Option` fields
/// are `None` where the probe cannot read them (see the probe's
/// `unavailable` list for why), never 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reading {
    pub rss: u64,
    pub pss: u64,
    pub pss_anon: u64,
    pub uss: u64,
    pub swap: u64,
    pub vm_hwm: u64,
    pub threads: u32,
    pub fds: u32,
    /// Cumulative utime + stime of the processes, seconds.
    pub cpu_s: f64,
    /// Number of processes summed.
    pub procs: u32,
    /// Container cgroup memory usage (bytes), where readable.
    pub cgroup_mem: Option<u64>,
    /// Container cgroup cumulative CPU (seconds), where readable.
    pub cgroup_cpu_s: Option<f64>,
    /// Processes listed for this read that exited before they were read
    /// (skipped, not an error).
    pub vanished: u32,
    /// Resident bytes no process outside the group maps: what stopping the
    /// service frees of its mapped memory ([`pagemap`]). Read at its own
    /// lower rate: `None` on the samples in between.
    pub group_unique: Option<u64>,
    /// The private-anonymous part of `group_unique` (the rest is file and shmem).
    pub group_unique_anon: Option<u64>,
    /// The container cgroup's memory by kind ([`cgroup`]), bytes.
    pub cgroup_anon: Option<u64>,
    pub cgroup_shmem: Option<u64>,
    pub cgroup_file_active: Option<u64>,
    /// Reclaimable page cache: the first to go under memory pressure.
    pub cgroup_file_inactive: Option<u64>,
    pub cgroup_kernel: Option<u64>,
    pub cgroup_sock: Option<u64>,
    pub cgroup_swap: Option<u64>,
}

impl Reading {
    /// Fills the cgroup fields from one whole-cgroup reading.
    pub fn set_cgroup(&mut self, c: &cgroup::CgroupReading) {
        self.cgroup_mem = c.usage;
        self.cgroup_cpu_s = c.cpu_s;
        self.cgroup_anon = c.stat.anon;
        self.cgroup_shmem = c.stat.shmem;
        self.cgroup_file_active = c.stat.active_file;
        self.cgroup_file_inactive = c.stat.inactive_file;
        self.cgroup_kernel = c.stat.kernel;
        self.cgroup_sock = c.stat.sock;
        self.cgroup_swap = c.stat.swap;
    }
}

pub trait Probe: Send {
    fn read(&mut self) -> Result<Reading>;

    /// Metrics this probe cannot read, each with the reason (a missing
    /// cgroup file, no CAP_SYS_ADMIN for PFNs): recorded in the cell's
    /// sampler stats when the sampler stops ([`sampler`]).
    fn unavailable(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// Which processes of a container to sample: those whose `comm` is one of
/// `processes`, or the container's main process when that is empty.
#[derive(Clone, Debug)]
pub struct Target {
    pub container_id: String,
    pub host_pid: i32,
    pub processes: Vec<String>,
}

/// Clock ticks per second for utime/stime.
pub fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map(|t| t as f64)
        .unwrap_or(100.0)
}
