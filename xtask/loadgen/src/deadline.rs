//! One timer per connection, moved forward for each exchange.
//!
//! `tokio::time::timeout_at` around every read made a timer-wheel entry
//! per request (insert when the read has to wait, remove when the answer
//! comes): with answers in well under a millisecond and a timeout of
//! seconds, almost all of that work was undone unused. A connection's
//! timer is instead created once and `reset` to each exchange's deadline;
//! moving an armed entry to a later instant is tokio's lock-free fast path
//! (the wheel sees the change only if the old instant comes first).

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use tokio::time::Sleep;

/// The deadline of a connection's current exchange.
pub(crate) struct Deadline {
    sleep: Pin<Box<Sleep>>,
}

impl Deadline {
    pub(crate) fn new() -> Self {
        Deadline {
            sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
        }
    }

    /// Arms the timer for `at`.
    pub(crate) fn set(&mut self, at: Instant) {
        self.sleep.as_mut().reset(at.into());
    }

    /// `f`'s output, or `None` when the deadline passes first. `f` is polled
    /// first, so an operation that is ready never looks at the timer.
    pub(crate) async fn within<F: Future>(&mut self, f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            out = f => Some(out),
            () = &mut self.sleep => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn ready_work_wins_and_a_late_one_times_out_at_its_deadline() {
        let mut d = Deadline::new();
        let t = Instant::now();
        d.set(t + Duration::from_millis(50));
        assert_eq!(d.within(async { 7 }).await, Some(7));
        let never = std::future::pending::<()>();
        assert_eq!(d.within(never).await, None);
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
        // Moved later, the same timer waits again.
        let t = Instant::now();
        d.set(t + Duration::from_millis(30));
        let slow = tokio::time::sleep(Duration::from_millis(5));
        assert_eq!(d.within(slow).await, Some(()));
        assert_eq!(d.within(std::future::pending::<()>()).await, None);
        assert!(t.elapsed() >= Duration::from_millis(30));
    }
}
