//! The attribution read: where the sampled processes' memory is (every
//! mapping of `/proc/<pid>/smaps`, [`super::smaps`]) and which threads use
//! the CPU (`/proc/<pid>/task/*/stat`, [`super::threads`]). It reads far
//! more than the main sampler (hundreds of mappings, one file per thread),
//! so it runs on a ticker of its own at [`ATTRIB_HZ`] and once more at the
//! end of the window; its thread CPU is the cost `selfcheck sampling`
//! reports beside the main sampler's.
//!
//! The PIDs come from the main probe's own listing
//! ([`super::Probe::attrib_reader`]), so the set follows forks and exits
//! the same way: host PIDs read from this host's /proc ([`HostAttrib`]),
//! or container PIDs read by a second shell loop in the container when
//! the sampler is the exec stream ([`super::exec_attrib::ExecAttrib`]). Both fold
//! through [`fold_process`] into the same [`AttribRead`]. A process or
//! thread that exits mid-read is skipped and counted, never an error.

use super::parse::parse_stat;
use super::sampler::{Ticker, TickerStats, Timed};
use super::smaps::{self, Category, Mem};
use super::threads::{fold_thread_name, process_label, ThreadRead, ThreadSnapshot};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Attribution reads per second (and one at the window's end).
pub const ATTRIB_HZ: f64 = 1.0;

/// The PIDs the main probe read last; the attribution reader reads them.
pub type PidSink = Arc<Mutex<Vec<i32>>>;

/// One attribution read of every sampled process, summed by category.
#[derive(Clone, Debug, Default)]
pub struct AttribRead {
    pub memory: BTreeMap<Category, Mem>,
    pub total: Mem,
    /// Page tables (VmPTE), bytes, summed.
    pub page_tables: u64,
    pub threads: ThreadSnapshot,
    /// Processes that exited before or during their read.
    pub vanished: u32,
    /// Mappings skipped as torn or malformed.
    pub skipped_mappings: u32,
    pub procs: u32,
}

/// Reads the processes in a [`PidSink`] from the host's /proc.
pub struct HostAttrib {
    pids: PidSink,
    origin: std::time::Instant,
    buf: String,
}

impl HostAttrib {
    pub fn new(pids: PidSink, origin: std::time::Instant) -> HostAttrib {
        HostAttrib {
            pids,
            origin,
            buf: String::with_capacity(64 * 1024),
        }
    }

    fn slurp(&mut self, path: &str) -> Option<&str> {
        use std::io::Read;
        self.buf.clear();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut self.buf))
            .ok()?;
        Some(&self.buf)
    }

    pub fn read(&mut self) -> anyhow::Result<AttribRead> {
        let mut pids = Vec::new();
        // The main sampler publishes its first set within one of its ticks.
        for _ in 0..20 {
            pids = self.pids.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if !pids.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if pids.is_empty() {
            anyhow::bail!("no process to attribute yet");
        }
        let mut out = AttribRead {
            threads: ThreadSnapshot {
                t: self.origin.elapsed().as_secs_f64(),
                ..Default::default()
            },
            ..Default::default()
        };
        for pid in pids {
            if self.read_pid(pid, &mut out).is_none() {
                out.vanished += 1;
            }
        }
        if out.procs == 0 {
            anyhow::bail!("every attributed process exited during the read");
        }
        Ok(out)
    }

    /// One process; `None` when it exited before its smaps could be read.
    fn read_pid(&mut self, pid: i32, out: &mut AttribRead) -> Option<()> {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let tmpfs = self
            .slurp(&format!("/proc/{pid}/mountinfo"))
            .map(smaps::tmpfs_devices)
            .unwrap_or_default();
        let comm = self
            .slurp(&format!("/proc/{pid}/stat"))
            .and_then(|t| parse_stat(t).ok())?
            .comm;
        let cmdline = self
            .slurp(&format!("/proc/{pid}/cmdline"))
            .unwrap_or("")
            .to_string();
        let process = process_label(&comm, &cmdline);
        let (threads, sps) = self.read_threads(pid, &process, out);
        let status = self
            .slurp(&format!("/proc/{pid}/status"))
            .unwrap_or("")
            .to_string();
        let text = self.slurp(&format!("/proc/{pid}/smaps"))?;
        let ctx = smaps::Context {
            exe: exe.as_deref(),
            tmpfs: &tmpfs,
            stack_pointers: &sps,
        };
        fold_process(out, text, &ctx, &status, threads)
    }

    /// The process's threads and the stack pointers of those in a call.
    pub(crate) fn read_threads(
        &mut self,
        pid: i32,
        process: &str,
        out: &mut AttribRead,
    ) -> (Vec<ThreadRead>, Vec<u64>) {
        let mut threads = Vec::new();
        let mut sps = Vec::new();
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return (threads, sps);
        };
        let tids: HashSet<i32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        for tid in tids {
            let Some(st) = self
                .slurp(&format!("/proc/{pid}/task/{tid}/stat"))
                .and_then(|t| parse_stat(t).ok())
            else {
                out.threads.vanished += 1; // exited after the listing
                continue;
            };
            if let Some(sp) = self
                .slurp(&format!("/proc/{pid}/task/{tid}/syscall"))
                .and_then(smaps::parse_syscall_sp)
            {
                sps.push(sp);
            }
            threads.push(ThreadRead {
                pid,
                tid,
                process: process.to_string(),
                group: fold_thread_name(&st.comm),
                ticks: st.cpu_ticks,
            });
        }
        (threads, sps)
    }
}

/// Adds one process's smaps breakdown, page tables and threads to `out`;
/// `None` when its smaps is empty (it exited: a zombie's smaps is empty).
/// Shared by the host read and the exec-stream read
/// ([`super::exec_attrib::ExecAttrib`]), so both give the same categories.
pub(crate) fn fold_process(
    out: &mut AttribRead,
    smaps_text: &str,
    ctx: &smaps::Context<'_>,
    status: &str,
    threads: Vec<ThreadRead>,
) -> Option<()> {
    let parsed = smaps::parse_smaps(smaps_text);
    if parsed.mappings.is_empty() {
        return None;
    }
    let b = smaps::breakdown(&parsed, ctx);
    for (c, m) in b.by {
        out.memory.entry(c).or_default().add(&m);
    }
    out.total.add(&b.total);
    out.skipped_mappings += b.skipped;
    out.page_tables += smaps::parse_vm_pte(status).unwrap_or(0);
    out.threads.threads.extend(threads);
    out.procs += 1;
    Some(())
}

/// A source of attribution reads: the host's /proc ([`HostAttrib`]) or
/// the exec stream's second loop ([`super::exec_attrib::ExecAttrib`]).
pub trait AttribReader: Send {
    fn read(&mut self) -> anyhow::Result<AttribRead>;
}

impl AttribReader for HostAttrib {
    fn read(&mut self) -> anyhow::Result<AttribRead> {
        HostAttrib::read(self)
    }
}

/// The attribution ticker of a cell and its reader, for the read at the
/// window's end.
pub struct AttribSampler {
    ticker: Ticker<AttribRead>,
    reader: Arc<Mutex<Box<dyn AttribReader>>>,
}

impl AttribSampler {
    pub fn spawn(reader: Box<dyn AttribReader>, origin: Instant) -> AttribSampler {
        let reader = Arc::new(Mutex::new(reader));
        let r = reader.clone();
        let ticker =
            Ticker::spawn_tolerant("runcost-attrib", ATTRIB_HZ, origin, u32::MAX, move || {
                r.lock().unwrap_or_else(|e| e.into_inner()).read()
            });
        AttribSampler { ticker, reader }
    }

    /// Stops the ticker and reads once more (the window's end); that
    /// read's time and CPU are added to the stats, so the cost is whole.
    /// The flag says whether the end read succeeded.
    pub fn finish(self) -> (Vec<Timed<AttribRead>>, TickerStats, bool) {
        let (mut reads, mut stats) = self.ticker.stop();
        let cpu0 = thread_cpu();
        let t0 = Instant::now();
        let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        let end = reader.read();
        let read_s = t0.elapsed().as_secs_f64();
        stats.thread_cpu_s += thread_cpu() - cpu0;
        let ok = match end {
            Ok(value) => {
                let t = value.threads.t;
                stats.mean_read_s = (stats.mean_read_s * stats.samples as f64 + read_s)
                    / (stats.samples + 1) as f64;
                stats.samples += 1;
                reads.push(Timed { t, read_s, value });
                true
            }
            Err(e) => {
                stats.failed_reads += 1;
                stats.last_error = Some(format!("{e:#}"));
                false
            }
        };
        stats.vanished += reads
            .iter()
            .map(|r| u64::from(r.value.vanished))
            .sum::<u64>();
        (reads, stats, ok)
    }
}

/// CPU time of the calling thread, seconds.
pub fn thread_cpu() -> f64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process_and_its_named_thread() {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let spin = std::thread::Builder::new()
            .name("attrib-spin-7".into())
            .spawn(move || {
                let mut x = 0u64;
                while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            })
            .unwrap();
        let me = std::process::id() as i32;
        let mut r = HostAttrib::new(Arc::new(Mutex::new(vec![me])), std::time::Instant::now());
        let a = r.read().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let b = r.read().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        spin.join().unwrap();
        assert_eq!(b.procs, 1);
        let mut sum = Mem::default();
        b.memory.values().for_each(|m| sum.add(m));
        assert_eq!(sum, b.total);
        assert!(
            b.memory.contains_key(&Category::Binary),
            "{:?}",
            b.memory.keys()
        );
        assert!(b.page_tables > 0);
        let (g, _) = super::super::threads::cores_by_group(
            &a.threads,
            &b.threads,
            super::super::clock_ticks(),
        );
        let spin = g
            .iter()
            .find(|(k, _)| k.group == "attrib-spin-N")
            .map(|(_, v)| v.cores);
        assert!(spin.is_some_and(|c| c > 0.0), "{g:?}");
        // A process that is gone is counted, not an error.
        let mut gone = HostAttrib::new(
            Arc::new(Mutex::new(vec![me, i32::MAX])),
            std::time::Instant::now(),
        );
        let r = gone.read().unwrap();
        assert_eq!((r.procs, r.vanished), (1, 1));
    }
}
