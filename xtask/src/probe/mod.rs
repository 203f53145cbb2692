//! Samplers. A [`Probe`] reads the current cost of the target's processes;
//! the [`sampler`] calls it at a fixed rate. Host mode reads the host's
//! /proc directly (~0.1 ms); exec-stream mode keeps ONE `docker exec` shell
//! loop open for engines whose /proc we cannot see.

pub mod exec;
pub mod fingerprint;
pub mod host;
pub mod hostload;
pub mod parse;
pub mod sampler;
pub mod system;

pub use crate::results::SamplerMode;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// One reading, summed over the target's processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
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
}

pub trait Probe: Send {
    fn read(&mut self) -> Result<Reading>;
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
