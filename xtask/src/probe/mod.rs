//! Samplers. A [`Probe`] reads the current cost of the target's processes;
//! the [`sampler`] calls it at a fixed rate. Host mode reads the host's
//! /proc directly (~0.1 ms); exec-stream mode keeps ONE `docker exec` shell
//! loop open for engines whose /proc we cannot see, plus one exec of the
//! uploaded `runcost-groupmem` for group-unique memory ([`pagemap`]).

pub mod attrib;
pub mod cgroup;
pub mod exec;
pub mod exec_attrib;
pub mod fingerprint;
pub mod host;
pub mod hostload;
pub mod pagemap;
pub mod parse;
pub mod sampler;
pub mod smaps;
pub mod system;
pub mod threads;
pub mod visibility;

use crate::results::MetricKind;
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
    /// cgroup file, no CAP_SYS_ADMIN for PFNs): a lane that judges one
    /// refuses with it; the rest are recorded in the cell's sampler stats
    /// when the sampler stops ([`sampler`]).
    fn unavailable(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Where the probe publishes the host PIDs it read last, for the
    /// attribution reader ([`attrib`]); `None` when its PIDs are not the
    /// host's (exec stream).
    fn pid_sink(&mut self) -> Option<attrib::PidSink> {
        None
    }

    /// The attribution reader of this probe's processes ([`attrib`]):
    /// from the host's /proc where [`Probe::pid_sink`] gives host PIDs;
    /// the exec stream overrides it with a reader inside the container.
    fn attrib_reader(
        &mut self,
        origin: std::time::Instant,
    ) -> Option<Box<dyn attrib::AttribReader>> {
        self.pid_sink().map(|pids| {
            Box::new(attrib::HostAttrib::new(pids, origin)) as Box<dyn attrib::AttribReader>
        })
    }
}

/// The probe facts a metric is computed from, as named in
/// [`Probe::unavailable`]: any of them unavailable makes the metric so.
fn sources(metric: MetricKind) -> &'static [&'static str] {
    use MetricKind as M;
    match metric {
        M::CgroupMem => &["cgroup", "cgroup_mem"],
        M::CgroupAnon | M::CgroupShmem | M::CgroupFileActive | M::CgroupFileInactive => {
            &["cgroup", "cgroup_stat"]
        }
        M::CgroupShmemFile => &["cgroup", "cgroup_stat"],
        M::CgroupKernel => &["cgroup", "cgroup_stat", "cgroup_kernel"],
        M::CgroupSock => &["cgroup", "cgroup_stat", "cgroup_sock"],
        M::CgroupSwap => &["cgroup", "cgroup_stat", "cgroup_swap"],
        M::CgroupCpuCores => &["cgroup", "cgroup_cpu"],
        M::GroupUnique => &["group_unique"],
        _ => &[],
    }
}

/// Why a lane must refuse: the first judged metric this probe cannot read,
/// with the reason and the metrics it can judge instead. `None` when every
/// judged metric is readable.
pub fn refusal(judged: &[MetricKind], unavailable: &[(&'static str, String)]) -> Option<String> {
    let why = |m: MetricKind| {
        sources(m)
            .iter()
            .find_map(|s| unavailable.iter().find(|(n, _)| n == s))
            .map(|(_, why)| why.clone())
    };
    let (metric, reason) = judged.iter().find_map(|&m| why(m).map(|w| (m, w)))?;
    let readable: Vec<&str> = MetricKind::SAMPLED
        .iter()
        .filter(|&&m| why(m).is_none())
        .map(|m| m.name())
        .collect();
    Some(format!(
        "metric `{}` is unavailable for this target: {reason}; judge a metric \
         this sampler can read (--metric, entities.metric, churn.metrics): {}",
        metric.name(),
        readable.join(", ")
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_judged_metric_whose_source_is_missing_is_refused_with_the_reason() {
        let missing = vec![(
            "cgroup_sock",
            "cgroup v1 memory.stat has no socket memory".to_string(),
        )];
        let why = refusal(&[MetricKind::Pss, MetricKind::CgroupSock], &missing).unwrap();
        assert!(why.contains("`cgroup_sock`"), "{why}");
        assert!(why.contains("no socket memory"), "{why}");
        assert!(why.contains("cgroup_shmem"), "alternatives listed: {why}");
        assert!(!why.contains("cgroup_sock,"), "not offered back: {why}");
        assert_eq!(
            refusal(&[MetricKind::Pss, MetricKind::CgroupShmem], &missing),
            None
        );
    }

    #[test]
    fn no_cgroup_at_all_refuses_every_cgroup_metric_but_not_process_metrics() {
        let missing = vec![("cgroup", "the target has no cgroup directory".to_string())];
        for m in MetricKind::SAMPLED {
            let refused = refusal(&[m], &missing).is_some();
            assert_eq!(refused, m.name().starts_with("cgroup"), "{}", m.name());
        }
    }
}
