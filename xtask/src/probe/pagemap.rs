//! Group-unique memory (the resident pages whose every mapping belongs to
//! the service's processes: what stopping it would free). The computation
//! lives in the leaf crate `runcost-groupmem` (xtask/groupmem), so the
//! host sampler calls it in-process and the exec-stream sampler runs the
//! same code as a static binary inside the container. Here: the reader
//! thread both samplers share, and its rate.

pub use runcost_groupmem::{read_group, GroupError, GroupRead};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shortest interval between two group-unique reads. Measured on the
/// forker (4 processes, 112 MiB unique; xtask/tests/groupmem.rs prints it)
/// on this 2-core machine under other jobs' load: a read with pagemap took
/// a median 114 ms of wall time against 18 ms without — pagemap and
/// kpagecount grow with resident size, the rest does not. Inline at 10 Hz
/// that would overrun every tick, hence its own thread and rate.
pub const GROUP_EVERY: Duration = Duration::from_secs(1);

/// The largest share of its wall time the group reader may spend reading:
/// after a read that took `d`, it waits at least `d / GROUP_CPU_SHARE`
/// (a 114 ms read: one read every 2.3 s, 5 % of one core).
pub const GROUP_CPU_SHARE: f64 = 0.05;

/// One group read of `pids`: in-process (host) or through the binary in
/// the container (exec stream).
pub type ReadFn = Box<dyn FnMut(&[i32]) -> Result<GroupRead, String> + Send>;

/// Reads group-unique memory of the pids it is given, on its own thread,
/// at most every [`GROUP_EVERY`] and at most [`GROUP_CPU_SHARE`] of its
/// time: it never delays a tick of the main sampler, and each new value is
/// attached to the next sample.
pub struct GroupReader {
    pids: Arc<Mutex<Vec<i32>>>,
    /// The newest read not yet attached to a sample.
    latest: Arc<Mutex<Option<Result<GroupRead, String>>>>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl GroupReader {
    pub fn spawn(mut read: ReadFn) -> GroupReader {
        let pids = Arc::new(Mutex::new(Vec::<i32>::new()));
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, l, st) = (pids.clone(), latest.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("runcost-groupmem".into())
            .spawn(move || {
                let mut next = Instant::now();
                while !st.load(Ordering::Relaxed) {
                    if Instant::now() < next {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    let set = p.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    if set.is_empty() {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    let t0 = Instant::now();
                    let r = read(&set);
                    let took = t0.elapsed();
                    *l.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    next = t0 + GROUP_EVERY.max(took.div_f64(GROUP_CPU_SHARE));
                }
            })
            .ok();
        GroupReader {
            pids,
            latest,
            stop,
            handle,
        }
    }

    /// The host sampler's reader: [`read_group`] on host PIDs.
    pub fn in_process() -> GroupReader {
        GroupReader::spawn(Box::new(|pids| read_group(pids).map_err(|e| e.to_string())))
    }

    /// Sets the pids of the next read and takes the newest value, if one
    /// came since the last call.
    pub fn exchange(&self, pids: &[i32]) -> Option<Result<GroupRead, String>> {
        *self.pids.lock().unwrap_or_else(|e| e.into_inner()) = pids.to_vec();
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// [`exchange`](Self::exchange) into a sample: the newest value, if one
    /// came, goes into `acc` (with the exits the main read did not see,
    /// between the two reads); `error` keeps the newest failure until a
    /// good read clears it. The one place both samplers attach it.
    pub fn exchange_into(
        &self,
        pids: &[i32],
        acc: &mut super::Reading,
        error: &mut Option<String>,
    ) {
        match self.exchange(pids) {
            Some(Ok(g)) => {
                acc.vanished += g.vanished;
                acc.group_unique = Some(g.unique.total());
                acc.group_unique_anon = Some(g.unique.anon);
                *error = None;
            }
            Some(Err(e)) => *error = Some(e),
            None => {}
        }
    }
}

impl Drop for GroupReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_thread_hands_over_the_newest_read() {
        let r = GroupReader::spawn(Box::new(|pids| {
            Ok(GroupRead {
                vanished: pids.len() as u32,
                ..Default::default()
            })
        }));
        // No pids yet: nothing read.
        assert_eq!(r.exchange(&[]), None);
        let deadline = Instant::now() + Duration::from_secs(5);
        let got = loop {
            if let Some(v) = r.exchange(&[1, 2, 3]) {
                break v;
            }
            assert!(Instant::now() < deadline, "no read within 5 s");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(got.map(|g| g.vanished), Ok(3));
        // The next read waits GROUP_EVERY: taken once, not repeated.
        assert_eq!(r.exchange(&[1]), None);
    }
}
