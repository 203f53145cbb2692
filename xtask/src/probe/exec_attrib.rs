//! Attribution in exec-stream mode: a SECOND long-lived `docker exec` of
//! a shell loop (builtins only, no fork per read) that prints, for the
//! container PIDs the main loop read last, each process's stat, cmdline,
//! exe, mountinfo (once per read), status, every thread's stat and
//! syscall, and its smaps. The same pure parsers as the host read
//! ([`super::smaps`], [`super::threads`], through
//! [`super::attrib::fold_process`]) turn it into the same
//! [`AttribRead`], so reports, compare and run.json get it unchanged.
//!
//! Why a second stream and not a second verb of the main loop: the loop
//! is one shell, and an smaps dump through `read`/`printf` takes tens to
//! hundreds of milliseconds (dash reads a byte per syscall); on the main
//! loop it would stall the 20 Hz sampler for that long once a second and
//! skew its timing. The second stream costs one idle shell in the
//! container (≈ 1 MiB, in the container's cgroup like the main loop's)
//! and its CPU at [`super::attrib::ATTRIB_HZ`] (about 11 ms of reader CPU
//! and 85 ms of wall time per read on the gateway here, measured by hand;
//! not yet a `selfcheck sampling` row).
//!
//! The shell has no readlink: the executable is the path of the first
//! line of `/proc/PID/maps` (the lowest mapping, the program's own image
//! for PIE and non-PIE builds alike) when `[ /proc/PID/exe -ef PATH ]`
//! confirms it; otherwise none (its mappings count as files). Thread
//! names come from each task's stat (its comm field), as in the host
//! read; the separate `comm` files would only repeat it.

use super::attrib::{fold_process, AttribRead, AttribReader, PidSink};
use super::parse::parse_stat;
use super::smaps;
use super::threads::{fold_thread_name, process_label, ThreadRead, ThreadSnapshot};
use crate::engine::{Engine, ExecChunk, ExecStream};
use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// The attribution loop. A request is `a PID...` (numbers the main loop
/// printed, never profile strings); `q` ends it. A process gone before its
/// stat prints `@@gone`; a thread gone before its stat prints `@@tgone`;
/// a process gone after its stat leaves an empty smaps (counted alike).
const LOOP: &str = r#"
dump() { while IFS= read -r l; do printf '%s\n' "$l"; done < "$1"; }
while read -r cmd pids; do
  [ "$cmd" = q ] && exit 0
  mi=""
  for p in $pids; do
    d=/proc/$p
    printf '@@pid %s\n' "$p"
    st=""; { read -r st < $d/stat; } 2>/dev/null
    [ -n "$st" ] || { printf '@@gone\n'; continue; }
    printf '@@stat\n%s\n' "$st"
    cl=""; { read -r cl < $d/cmdline; } 2>/dev/null
    printf '@@cmdline\n%s\n' "$cl"
    m=""; { read -r m < $d/maps; } 2>/dev/null
    f=/${m#*/}
    if [ -n "$m" ] && [ "$f" != "/$m" ] && [ $d/exe -ef "$f" ]; then printf '@@exe\n%s\n' "$f"; fi
    if [ -z "$mi" ]; then mi=1; printf '@@mountinfo\n'; { dump $d/mountinfo; } 2>/dev/null; fi
    printf '@@status\n'; { dump $d/status; } 2>/dev/null
    for t in $d/task/[0-9]*; do
      ts=""; { read -r ts < $t/stat; } 2>/dev/null
      [ -n "$ts" ] || { printf '@@tgone\n'; continue; }
      sc=""; { read -r sc < $t/syscall; } 2>/dev/null
      printf '@@task\n%s\n%s\n' "$ts" "$sc"
    done
    printf '@@smaps\n'; { dump $d/smaps; } 2>/dev/null
  done
  printf '@@end\n'
done
"#;

/// The attribution reader over the second loop.
pub struct ExecAttrib {
    pub(super) rt: tokio::runtime::Handle,
    pub(super) engine: Engine,
    pub(super) container: String,
    /// The container PIDs the main exec loop read last.
    pub(super) pids: PidSink,
    pub(super) origin: Instant,
    /// None until the first read, and after the stream broke (the
    /// container restarted): opened again, at most once per second.
    pub(super) session: Option<(ExecStream, String)>,
    pub(super) last_open: Option<Instant>,
}

impl ExecAttrib {
    async fn open(engine: &Engine, container: &str) -> Result<(ExecStream, String)> {
        let argv = vec!["sh".to_string(), "-c".into(), LOOP.into(), "sh".into()];
        let exec = engine
            .exec_stream(container, &argv)
            .await
            .context("start the exec-stream attribution loop")?;
        Ok((exec, String::new()))
    }

    async fn request(session: &mut (ExecStream, String), pids: &[i32]) -> Result<String> {
        let (exec, pending) = session;
        let mut line = String::from("a");
        for p in pids {
            line.push_str(&format!(" {p}"));
        }
        line.push('\n');
        exec.input
            .write_all(line.as_bytes())
            .await
            .context("write to the attribution loop")?;
        exec.input.flush().await?;
        loop {
            if let Some(end) = pending.find("@@end\n") {
                let block = pending[..end].to_string();
                pending.drain(..end + "@@end\n".len());
                return Ok(block);
            }
            match tokio::time::timeout(Duration::from_secs(20), exec.output.next()).await {
                Ok(Some(Ok(ExecChunk::Stdout(m)))) => {
                    pending.push_str(&String::from_utf8_lossy(&m))
                }
                Ok(Some(Ok(ExecChunk::Stderr(m)))) => {
                    tracing::debug!("attribution loop: {}", String::from_utf8_lossy(&m))
                }
                Ok(Some(Err(e))) => return Err(e).context("attribution loop stream"),
                Ok(None) => bail!("the attribution loop ended (container stopped?)"),
                Err(_) => bail!("the attribution loop did not answer within 20 s"),
            }
        }
    }
}

impl AttribReader for ExecAttrib {
    fn read(&mut self) -> Result<AttribRead> {
        let mut pids = Vec::new();
        // The main loop publishes its first set within one of its ticks.
        for _ in 0..20 {
            pids = self.pids.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if !pids.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if pids.is_empty() {
            bail!("no process to attribute yet");
        }
        let rt = self.rt.clone();
        if self.session.is_none() {
            if self
                .last_open
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
            {
                bail!("attribution loop: waiting to re-attach");
            }
            self.last_open = Some(Instant::now());
            self.session = Some(block(&rt, Self::open(&self.engine, &self.container))?);
        }
        let Some(session) = self.session.as_mut() else {
            bail!("attribution loop: no session");
        };
        let t = self.origin.elapsed().as_secs_f64();
        match block(&rt, Self::request(session, &pids)) {
            Ok(block) => parse_attrib_block(&block, t),
            Err(e) => {
                self.session = None;
                Err(e)
            }
        }
    }
}

/// Runs `f` to completion from the ticker thread, or from the lane's
/// async task (the end read of [`super::attrib::AttribSampler::finish`]),
/// where blocking needs `block_in_place` (the runtime is multi-threaded).
fn block<F: std::future::Future>(rt: &tokio::runtime::Handle, f: F) -> F::Output {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::task::block_in_place(|| rt.block_on(f))
    } else {
        rt.block_on(f)
    }
}

impl Drop for ExecAttrib {
    fn drop(&mut self) {
        // Ask the loop to exit; the exec also ends with the container.
        let rt = self.rt.clone();
        if let Some((exec, _)) = self.session.as_mut() {
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = rt.block_on(async { exec.input.write_all(b"q\n").await });
            }
        }
    }
}

/// One process's sections, as the loop printed them.
#[derive(Default)]
struct Sections<'a> {
    stat: &'a str,
    cmdline: &'a str,
    exe: Option<&'a str>,
    mountinfo: Option<String>,
    status: String,
    /// (stat, syscall) of each thread.
    tasks: Vec<(&'a str, &'a str)>,
    gone_threads: u32,
}

fn sections(head: &str) -> Sections<'_> {
    let mut s = Sections::default();
    let mut lines = head.lines().peekable();
    while let Some(marker) = lines.next() {
        let mut body = || -> String {
            let mut out = String::new();
            while let Some(l) = lines.next_if(|l| !l.starts_with("@@")) {
                out.push_str(l);
                out.push('\n');
            }
            out
        };
        match marker {
            "@@stat" => s.stat = lines.next().unwrap_or(""),
            "@@cmdline" => s.cmdline = lines.next().unwrap_or(""),
            "@@exe" => s.exe = lines.next(),
            "@@mountinfo" => s.mountinfo = Some(body()),
            "@@status" => s.status = body(),
            "@@task" => {
                let st = lines.next().unwrap_or("");
                let sc = lines.next_if(|l| !l.starts_with("@@")).unwrap_or("");
                s.tasks.push((st, sc));
            }
            "@@tgone" => s.gone_threads += 1,
            _ => {}
        }
    }
    s
}

/// Parses one `@@pid … @@end` block of the attribution loop into an
/// [`AttribRead`] taken at `t` (seconds since the cell's origin). The
/// mountinfo printed with the first process holds for all: a container's
/// processes share its mount namespace. A process or thread gone mid-read
/// is skipped and counted; a block with no process read is an error.
pub fn parse_attrib_block(block: &str, t: f64) -> Result<AttribRead> {
    let mut out = AttribRead {
        threads: ThreadSnapshot {
            t,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut tmpfs = None;
    for proc_block in block.split("@@pid ").skip(1) {
        let (pid, rest) = proc_block
            .split_once('\n')
            .context("attribution block: no pid line")?;
        let pid: i32 = pid.trim().parse().context("attribution block: pid")?;
        let (head, smaps_text) = rest.split_once("@@smaps\n").unwrap_or((rest, ""));
        let s = sections(head);
        let Ok(st) = parse_stat(s.stat) else {
            out.vanished += 1; // @@gone, or a torn stat
            continue;
        };
        if let Some(mi) = &s.mountinfo {
            tmpfs = Some(smaps::tmpfs_devices(mi));
        }
        let process = process_label(&st.comm, s.cmdline);
        let mut threads = Vec::new();
        let mut sps = Vec::new();
        out.threads.vanished += s.gone_threads;
        for (ts, sc) in &s.tasks {
            let (Ok(tst), Some(tid)) = (
                parse_stat(ts),
                ts.split_whitespace().next().and_then(|t| t.parse().ok()),
            ) else {
                out.threads.vanished += 1;
                continue;
            };
            if let Some(sp) = smaps::parse_syscall_sp(sc) {
                sps.push(sp);
            }
            threads.push(ThreadRead {
                pid,
                tid,
                process: process.clone(),
                group: fold_thread_name(&tst.comm),
                ticks: tst.cpu_ticks,
            });
        }
        let none = Default::default();
        let ctx = smaps::Context {
            exe: s.exe,
            tmpfs: tmpfs.as_ref().unwrap_or(&none),
            stack_pointers: &sps,
        };
        if fold_process(&mut out, smaps_text, &ctx, &s.status, threads).is_none() {
            out.vanished += 1; // exited after its stat: empty smaps
        }
    }
    if out.procs == 0 {
        bail!(
            "every attributed process exited during the read ({} vanished)",
            out.vanished
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::smaps::{Category, Mem};

    const SMAPS: &str = "\
55d0c0000000-55d0c0001000 r-xp 00000000 08:01 1234 /usr/local/bin/gateway
Rss:                   4 kB
Pss:                   4 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         4 kB
Private_Dirty:         0 kB
Swap:                  0 kB
55d0c1000000-55d0c1100000 rw-p 00000000 00:00 0                          [heap]
Rss:                1024 kB
Pss:                1024 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:      1024 kB
Swap:                  0 kB
7f0000000000-7f0000100000 rw-s 00000000 00:2c 77                         /tmp/seg
Rss:                 512 kB
Pss:                 512 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:       512 kB
Swap:                  0 kB
";

    fn proc_block(pid: i32) -> String {
        format!(
            "@@pid {pid}\n@@stat\n{pid} (gateway) S 0 1 1 0 -1 0 0 0 0 0 30 20 0 0 20 0 2 0 1 0 0\n\
             @@cmdline\n/usr/local/bin/gateway\n@@exe\n/usr/local/bin/gateway\n\
             @@mountinfo\n22 1 0:44 / /tmp rw - tmpfs tmpfs rw\n\
             @@status\nName:\tgateway\nVmPTE:\t      8 kB\nThreads:\t2\n\
             @@task\n{pid} (gateway) S 0 1 1 0 -1 0 0 0 0 0 10 5 0 0 20 0 2 0 1 0 0\n\
             0 0x0 0x7ffc2e86495f 0x1\n\
             @@task\n{} (refresh-3) S 0 1 1 0 -1 0 0 0 0 0 20 15 0 0 20 0 2 0 1 0 0\n\
             running\n@@tgone\n@@smaps\n{SMAPS}",
            pid + 1
        )
    }

    #[test]
    fn parses_processes_threads_and_categories_like_the_host_read() {
        let a = parse_attrib_block(&proc_block(1), 2.5).unwrap();
        assert_eq!((a.procs, a.vanished), (1, 0));
        assert_eq!(a.threads.t, 2.5);
        assert_eq!(a.page_tables, 8 * 1024);
        let uss = |c: &Category| a.memory.get(c).map(|m| m.uss);
        assert_eq!(uss(&Category::Binary), Some(4096), "{:?}", a.memory);
        assert_eq!(uss(&Category::Heap), Some(1024 * 1024));
        assert_eq!(
            uss(&Category::Tmpfs),
            Some(512 * 1024),
            "by mountinfo's device"
        );
        let mut sum = Mem::default();
        a.memory.values().for_each(|m| sum.add(m));
        assert_eq!(sum, a.total, "the categories add up to the rollup");
        let groups: Vec<(&str, i32, u64)> = a
            .threads
            .threads
            .iter()
            .map(|t| (t.group.as_str(), t.tid, t.ticks))
            .collect();
        assert_eq!(groups, vec![("gateway", 1, 15), ("refresh-N", 2, 35)]);
        assert_eq!(a.threads.vanished, 1, "the @@tgone thread");
    }

    #[test]
    fn a_process_gone_mid_read_is_skipped_and_counted() {
        // Gone before its stat, and gone after it (empty smaps); the
        // mountinfo printed with the first process serves the others.
        let block = format!(
            "@@pid 7\n@@gone\n{}@@pid 9\n@@stat\n9 (x) Z 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\n\
             @@cmdline\n\n@@status\n@@smaps\n",
            proc_block(1)
        );
        let a = parse_attrib_block(&block, 0.0).unwrap();
        assert_eq!((a.procs, a.vanished), (1, 2));
        assert!(parse_attrib_block("@@pid 7\n@@gone\n", 0.0).is_err());
        assert!(parse_attrib_block("", 0.0).is_err());
        // No exe line (the shell could not confirm it): the image is a file.
        let no_exe = proc_block(1).replace("@@exe\n/usr/local/bin/gateway\n", "");
        let a = parse_attrib_block(&no_exe, 0.0).unwrap();
        assert!(!a.memory.contains_key(&Category::Binary), "{:?}", a.memory);
    }
}
