//! A CPU quota for the load selfcheck's generators (cgroup v1 `cpu`
//! controller): both generators get the same share of their core, so the
//! generator, not the target, is what limits each round and the throughput
//! ratio is the ratio of the generators' efficiency. Without it the target
//! on its one core is the limit at ~30 k req/s, and a round's ratio follows
//! the target's noise.
//!
//! The cgroup is named for this process (`runcost-generator-<pid>-<n>`), so a
//! leftover of a killed run is recognised by its dead owner and removed by
//! `clean`; a live run removes its own on drop.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CPU_ROOT: &str = "/sys/fs/cgroup/cpu";
const PREFIX: &str = "runcost-generator-";
/// CFS period: 10 ms, so a 25 % quota is 2.5 ms of every 10 ms rather than
/// 25 ms of every 100 ms (shorter stalls for the closed loop's connections).
const PERIOD_US: u64 = 10_000;

/// One quota cgroup; removed on drop once its threads have left.
#[derive(Debug)]
pub struct CpuQuota {
    dir: PathBuf,
}

impl CpuQuota {
    /// `percent` of one core (5–100).
    pub fn create(percent: u32) -> Result<CpuQuota> {
        if !(5..=100).contains(&percent) {
            bail!(crate::error::BadInput(format!(
                "--generator-cpu {percent}: give a share of one core from 5 to 100 (percent)"
            )));
        }
        let root = Path::new(CPU_ROOT);
        if !root.join("cpu.cfs_quota_us").is_file() {
            bail!(crate::error::BadInput(format!(
                "--generator-cpu needs the cgroup v1 cpu controller at {CPU_ROOT} (not mounted here); run without it"
            )));
        }
        // Unique within the process too (tests create several at once).
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = root.join(format!("{PREFIX}{}-{seq}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let q = CpuQuota { dir };
        q.write("cpu.cfs_period_us", &PERIOD_US.to_string())?;
        q.write(
            "cpu.cfs_quota_us",
            &(PERIOD_US * u64::from(percent) / 100).to_string(),
        )?;
        Ok(q)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&self, file: &str, value: &str) -> Result<()> {
        let p = self.dir.join(file);
        std::fs::write(&p, value).with_context(|| format!("write {value} to {}", p.display()))
    }
}

/// Moves the calling thread into the quota cgroup at `dir`; threads and
/// processes it starts afterwards inherit it.
pub fn enter(dir: &Path) -> Result<()> {
    let tid = nix::unistd::gettid();
    let p = dir.join("tasks");
    std::fs::write(&p, tid.to_string()).with_context(|| format!("join {}", p.display()))
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        // The generator threads have been joined, but a runtime's pool
        // threads may take a moment to go: rmdir is refused until then.
        let deadline = Instant::now() + Duration::from_secs(2);
        while std::fs::remove_dir(&self.dir).is_err() && self.dir.exists() {
            if Instant::now() > deadline {
                tracing::warn!(
                    "{} still has tasks; `cargo xtask clean` removes it",
                    self.dir.display()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Removes quota cgroups whose owning process is gone (a run killed before
/// its drop); a live run's is left alone. Returns how many were removed.
pub fn reap_orphans() -> usize {
    let Ok(d) = std::fs::read_dir(CPU_ROOT) else {
        return 0;
    };
    d.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        })
        .filter(|e| std::fs::remove_dir(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real cgroup: a busy thread in a 20 % quota gets about a fifth of a
    /// core's wall time, and the cgroup is gone after drop.
    #[test]
    fn a_busy_thread_in_the_quota_gets_its_share_and_the_cgroup_goes() {
        let q = CpuQuota::create(20).unwrap();
        let dir = q.dir().to_path_buf();
        let cpu = std::thread::scope(|s| {
            s.spawn(|| {
                enter(&dir).unwrap();
                let t0 = Instant::now();
                let c0 = thread_cpu();
                while t0.elapsed() < Duration::from_millis(500) {
                    std::hint::black_box(0u64);
                }
                thread_cpu() - c0
            })
            .join()
            .unwrap()
        });
        // At most the quota (plus a period's slack); the floor is loose:
        // the machine is shared.
        assert!(cpu < 0.5 * 0.2 + 0.03, "{cpu} s of CPU in 0.5 s at 20 %");
        assert!(cpu > 0.02, "{cpu}");
        drop(q);
        assert!(!dir.exists());
        assert!(CpuQuota::create(3).is_err());
    }

    /// `clean` removes a quota whose owner died, never a live run's.
    #[test]
    fn only_quotas_of_dead_owners_are_reaped() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let orphan = Path::new(CPU_ROOT).join(format!("{PREFIX}{dead}-0"));
        std::fs::create_dir(&orphan).unwrap();
        let live = CpuQuota::create(50).unwrap();
        assert!(reap_orphans() >= 1);
        assert!(!orphan.exists());
        assert!(live.dir().exists());
    }

    fn thread_cpu() -> f64 {
        let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
        t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9
    }
}
