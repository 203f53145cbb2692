//! Host-wide readings (memory, process count) and the harness's own (anon
//! memory, open fds), for the box lanes. Each is an error when /proc cannot
//! be read: a reading of 0 would pass for a real one.

use super::parse::{count_pid_entries, parse_meminfo, parse_smaps_rollup, Meminfo};
use anyhow::{Context, Result};

fn meminfo() -> Result<Meminfo> {
    let text = std::fs::read_to_string("/proc/meminfo").context("read /proc/meminfo")?;
    parse_meminfo(&text).context("/proc/meminfo")
}

/// MemAvailable: what the host can still give without swapping, bytes.
pub fn mem_available() -> Result<u64> {
    meminfo()?
        .mem_available
        .context("/proc/meminfo has no MemAvailable (kernel older than 3.14)")
}

/// MemTotal − MemAvailable, bytes.
pub fn mem_used() -> Result<u64> {
    let m = meminfo()?;
    let avail = m
        .mem_available
        .context("/proc/meminfo has no MemAvailable (kernel older than 3.14)")?;
    Ok(m.mem_total.saturating_sub(avail))
}

/// Unreclaimable kernel slab (SUnreclaim), bytes.
pub fn slab_unreclaimable() -> Result<u64> {
    meminfo()?
        .s_unreclaim
        .context("/proc/meminfo has no SUnreclaim")
}

/// Processes on the host (in this PID namespace).
pub fn process_count() -> Result<usize> {
    let names: Vec<String> = std::fs::read_dir("/proc")
        .context("list /proc")?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    Ok(count_pid_entries(names.iter().map(String::as_str)))
}

/// The harness's own anonymous PSS, bytes.
pub fn self_pss_anon() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup")
        .context("read /proc/self/smaps_rollup")?;
    Ok(parse_smaps_rollup(&text)
        .context("/proc/self/smaps_rollup")?
        .pss_anon)
}

/// The harness's own open file descriptors (the listing's own fd included,
/// as every reading counts it alike).
pub fn self_fds() -> Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")
        .context("list /proc/self/fd")?
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_of_this_host_are_plausible() {
        let avail = mem_available().unwrap();
        let used = mem_used().unwrap();
        let total = meminfo().unwrap().mem_total;
        assert!(avail > 0 && avail <= total);
        assert!(used > 0 && used < total);
        assert!(process_count().unwrap() >= 1);
        assert!(self_pss_anon().unwrap() > 0);
        // stdin, stdout, stderr and the listing itself.
        assert!(self_fds().unwrap() >= 3);
        assert!(slab_unreclaimable().unwrap() > 0);
    }
}
