//! Ground truth for group memory. The parent allocates and touches
//! `PARENT_MIB` (N) MiB, then forks `CHILDREN` (k) children — the first
//! after `FORK_DELAY_MS`, so a probe started earlier must pick them up —
//! each of which touches `CHILD_MIB` (M) MiB of its own. The parent's pages
//! stay shared copy-on-write with every child (no one writes them after the
//! fork), so the group maps N + k·M MiB that nobody else maps, while the
//! per-process private (USS) sum sees only k·M plus small private pages.
//! Everyone sleeps until SIGTERM; the parent passes it on and reaps.
//!
//! Readiness: the parent writes /tmp/forker.ready once every child has
//! touched its memory — or, with `FORK_DELAY_MS` set, before it forks at
//! all, so the harness starts sampling the parent alone and must pick up
//! the children (one per `FORK_EVERY_MS`) as they come.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("forker: {name}={v} is not a non-negative integer");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

/// `mib` MiB, every page written with a value that is not zero (so no page
/// stays the shared zero page), kept alive by the caller.
fn touch(mib: u64, seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; (mib << 20) as usize];
    for (i, b) in v.iter_mut().enumerate().step_by(4096) {
        *b = seed.wrapping_add(i as u8) | 1;
    }
    v
}

fn sleep_until_stopped() {
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    let (n, k, m) = (
        env_u64("PARENT_MIB", 64),
        env_u64("CHILDREN", 3),
        env_u64("CHILD_MIB", 16),
    );
    let delay = Duration::from_millis(env_u64("FORK_DELAY_MS", 0));
    let between = Duration::from_millis(env_u64("FORK_EVERY_MS", 0));
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
    }
    let shared = touch(n, 1);
    let _ = std::fs::remove_file("/tmp/forker.ready");
    let ready = || {
        if let Err(e) = std::fs::write("/tmp/forker.ready", b"ready\n") {
            eprintln!("forker: write /tmp/forker.ready: {e}");
        }
    };
    if !delay.is_zero() {
        ready();
    }
    std::thread::sleep(delay);
    let mut kids = Vec::new();
    for c in 0..k {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        // SAFETY: single-threaded here; the child only touches memory,
        // sleeps and exits.
        match unsafe { libc::fork() } {
            0 => {
                let own = touch(m, 100 + c as u8);
                sleep_until_stopped();
                std::hint::black_box((&shared, &own));
                // Skip destructors: exit as the process it was forked as.
                unsafe { libc::_exit(0) };
            }
            pid if pid > 0 => kids.push(pid),
            _ => {
                eprintln!("forker: fork failed: {}", std::io::Error::last_os_error());
                std::process::exit(1);
            }
        }
        std::thread::sleep(between);
    }
    // The children touch their memory in well under a second; readiness
    // waits a little past that.
    std::thread::sleep(Duration::from_millis(300 + 20 * m));
    if delay.is_zero() {
        ready();
    }
    eprintln!(
        "forker: parent {} MiB, {} children × {} MiB",
        n,
        kids.len(),
        m
    );
    sleep_until_stopped();
    for &pid in &kids {
        // SAFETY: plain syscalls on our own children.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    for &pid in &kids {
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    std::hint::black_box(&shared);
}
