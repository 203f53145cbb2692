//! Process CPU time and peak memory, for the generator's own footprint.

use std::time::Duration;

/// User + system CPU time of the whole process so far.
#[cfg(unix)]
pub(crate) fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the zero-initialised struct we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return Duration::ZERO;
        }
        ru
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(not(unix))]
pub(crate) fn process_cpu_time() -> Duration {
    Duration::ZERO
}

/// Pins the calling thread (and threads it creates later) to one CPU;
/// a failure only costs the separation, so it is logged to stderr.
#[cfg(target_os = "linux")]
pub(crate) fn pin_current_thread(cpu: usize) {
    // SAFETY: the set is a plain bitmask we own; sched_setaffinity(0, ..)
    // acts on the calling thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("runcost-loadgen: could not pin to CPU {cpu}");
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn pin_current_thread(_cpu: usize) {}

/// Peak resident set size (VmHWM) in KiB; `None` off Linux.
pub(crate) fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_advances_and_rss_is_read() {
        let a = process_cpu_time();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(process_cpu_time() > a);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib().unwrap() > 100);
        }
    }
}
