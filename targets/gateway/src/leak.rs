//! Deliberate leaks. The pointers are really lost (never stored anywhere), so
//! valgrind reports the blocks as "definitely lost" and heaptrack as leaked,
//! with `leak_tick` / `leak_on_delete` as the allocating frame.

use std::hint::black_box;

/// Period of the background leak.
pub const TICK_MS: u64 = 100;

/// Leaks `bytes` written bytes; called by the background leak task.
#[inline(never)]
pub fn leak_tick(bytes: usize) {
    // The fill differs from `leak_on_delete` ('L' vs 'D') so the two
    // functions can never be merged into one symbol by the optimiser.
    let buf = vec![b'L'; bytes];
    // black_box makes the pointer escape, so LLVM cannot delete an
    // allocation that is never read; forget then loses it for good.
    std::mem::forget(black_box(buf));
}

/// Leaks `bytes` written bytes; called once per successful DELETE.
#[inline(never)]
pub fn leak_on_delete(bytes: usize) {
    let buf = vec![b'D'; bytes];
    std::mem::forget(black_box(buf));
}

/// Bytes to leak on tick number `tick` (1-based) for a rate in bytes/s.
///
/// Computed as "due after this tick minus due after the previous one" so the
/// long-run rate is exact even when the rate is not a multiple of the ten
/// ticks per second.
pub fn bytes_for_tick(rate_per_s: u64, tick: u64) -> u64 {
    let ticks_per_s = u128::from(1000 / TICK_MS);
    let due = |t: u64| (u128::from(rate_per_s) * u128::from(t) / ticks_per_s) as u64;
    due(tick) - due(tick.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_sizes_add_up_to_the_rate() {
        assert_eq!(bytes_for_tick(100_000, 1), 10_000);
        for rate in [0u64, 1, 7, 15, 100_000, 123_457] {
            let second: u64 = (1..=10).map(|t| bytes_for_tick(rate, t)).sum();
            assert_eq!(second, rate);
            let ten: u64 = (1..=100).map(|t| bytes_for_tick(rate, t)).sum();
            assert_eq!(ten, rate * 10);
        }
    }

    #[test]
    fn leak_functions_run() {
        leak_tick(16);
        leak_on_delete(16);
        leak_tick(0);
    }
}
