//! Memory primitives whose effect on RSS is exactly what the harness expects.

/// Allocates `len` bytes and writes every one of them with a non-zero byte.
///
/// `vec![b; n]` with `b != 0` is `malloc` + `memset`, so every page is written
/// and becomes resident and private. A zero fill could be served by `calloc`
/// with lazily mapped zero pages, which would not show up in RSS.
pub fn touched(len: usize, pattern: u8) -> Box<[u8]> {
    let pattern = if pattern == 0 { 0xA5 } else { pattern };
    vec![pattern; len].into_boxed_slice()
}

/// Resident set size of this process, from `/proc/self/statm`; 0 if unknown.
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    resident * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

/// The glibc mmap threshold set by [`tune_malloc`].
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Pins glibc's mmap threshold at its documented default (128 KiB).
///
/// By default glibc raises the threshold after freeing an mmapped chunk, so the
/// second large fault snapshot would come from the heap and stay resident
/// after it is freed. A fixed threshold keeps "large buffer freed => memory
/// returned to the OS via munmap" true for the whole run. An explicit
/// `MALLOC_MMAP_THRESHOLD_` from the environment wins, so the harness can
/// still study other settings. Returns the threshold in force, if we set it.
pub fn tune_malloc() -> Option<usize> {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return None;
    }
    set_mmap_threshold()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_mmap_threshold() -> Option<usize> {
    // SAFETY: mallopt only changes allocator parameters; called before any
    // other thread exists.
    let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) };
    (ok == 1).then_some(MMAP_THRESHOLD)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_mmap_threshold() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_is_fully_written_and_non_zero() {
        let b = touched(10_000, 0);
        assert_eq!(b.len(), 10_000);
        assert!(b.iter().all(|&x| x == 0xA5));
        assert!(touched(3, 7).iter().all(|&x| x == 7));
        assert!(touched(0, 7).is_empty());
    }

    #[test]
    fn rss_grows_with_touched_memory() {
        let before = rss_bytes();
        assert!(before > 0);
        let big = touched(64 << 20, 1);
        let after = rss_bytes();
        std::hint::black_box(&big);
        // Other tests run concurrently, so only check a generous lower bound.
        assert!(
            after >= before + (48 << 20),
            "before={before} after={after}"
        );
    }
}
