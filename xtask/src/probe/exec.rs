//! Exec-stream mode: ONE long-lived `docker exec` running a shell loop in
//! the container. Each request line makes the loop print the target's
//! /proc files using shell builtins only, so a sample costs no fork and no
//! new exec (three `docker exec cat` per sample cost ~277 ms here).

use super::parse::{parse_smaps_rollup, parse_stat, parse_status};
use super::{clock_ticks, Probe, Reading, Target};
use crate::engine::{Engine, ExecChunk, ExecStream};
use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The reader loop. Its arguments are the process names (none: PID 1);
/// they are passed as arguments, never spliced into the script. Every
/// request lists /proc again, so forks join and exits leave; a process
/// that exits before its files are read prints `@@gone`. The container's
/// own cgroup (mounted at /sys/fs/cgroup inside, v1 or v2) is printed
/// first: the whole service's memory by kind and CPU, forks included.
/// Group-unique memory is not read here: PFNs need CAP_SYS_ADMIN and a
/// binary reader, which an unprivileged shell loop has neither of.
const LOOP: &str = r#"
dump() { while IFS= read -r l; do printf '%s\n' "$l"; done < "$1"; }
nfd() { if [ -e "$1" ]; then printf '@@fd %s\n' "$#"; else printf '@@fd 0\n'; fi; }
cgdump() { [ -r "$2" ] && { printf '%s\n' "$1"; dump "$2"; } 2>/dev/null; }
c=/sys/fs/cgroup
if [ -r $c/memory/memory.stat ]; then cgv=1; elif [ -r $c/memory.stat ]; then cgv=2; else cgv=""; fi
cpuacct=$c/cpuacct/cpuacct.usage; [ -r "$cpuacct" ] || cpuacct=$c/cpu,cpuacct/cpuacct.usage
while read -r cmd; do
  [ "$cmd" = q ] && exit 0
  pids=""
  if [ "$#" -eq 0 ]; then pids=1; else
    for d in /proc/[0-9]*; do
      n=""
      { read -r n < "$d/comm"; } 2>/dev/null || continue
      for name in "$@"; do
        [ "$n" = "$name" ] && pids="$pids ${d#/proc/}"
      done
    done
  fi
  [ -n "$pids" ] || { printf '@@error no process named %s\n' "$*"; exit 3; }
  if [ "$cgv" = 1 ]; then
    printf '@@cg 1\n'; dump $c/memory/memory.stat
    cgdump @@cgusage $c/memory/memory.usage_in_bytes
    cgdump @@cgcpu "$cpuacct"
    cgdump @@cgextra $c/memory/memory.kmem.usage_in_bytes
  elif [ "$cgv" = 2 ]; then
    printf '@@cg 2\n'; dump $c/memory.stat
    cgdump @@cgusage $c/memory.current
    cgdump @@cgcpu $c/cpu.stat
    cgdump @@cgextra $c/memory.swap.current
  fi
  for p in $pids; do
    printf '@@pid %s\n' "$p"
    { dump "/proc/$p/smaps_rollup" && printf '@@status\n' && dump "/proc/$p/status" \
      && printf '@@stat\n' && dump "/proc/$p/stat"; } 2>/dev/null || { printf '@@gone\n'; continue; }
    nfd /proc/$p/fd/*
  done
  printf '@@end\n'
done
"#;

/// One running exec of the loop.
struct Session {
    exec: ExecStream,
    pending: String,
}

pub struct ExecProbe {
    rt: tokio::runtime::Handle,
    engine: Engine,
    target: Target,
    /// None after the stream broke (the container restarted): the next
    /// read opens a new one, at most once per [`REOPEN_EVERY`].
    session: Option<Session>,
    last_open: std::time::Instant,
    ticks: f64,
}

const REOPEN_EVERY: Duration = Duration::from_millis(500);

impl ExecProbe {
    pub async fn start(engine: &Engine, target: &Target) -> Result<ExecProbe> {
        let session = Session::open(engine, target).await?;
        Ok(ExecProbe {
            rt: tokio::runtime::Handle::current(),
            engine: engine.clone(),
            target: target.clone(),
            session: Some(session),
            last_open: std::time::Instant::now(),
            ticks: clock_ticks(),
        })
    }
}

impl Session {
    async fn open(engine: &Engine, target: &Target) -> Result<Session> {
        let mut cmd = vec!["sh".to_string(), "-c".into(), LOOP.into(), "sh".into()];
        cmd.extend(target.processes.iter().cloned());
        let exec = engine
            .exec_stream(&target.container_id, &cmd)
            .await
            .context("start the exec-stream sampler")?;
        Ok(Session {
            exec,
            pending: String::new(),
        })
    }

    async fn request(&mut self) -> Result<String> {
        let input = &mut self.exec.input;
        input
            .write_all(b"r\n")
            .await
            .context("write to exec stream")?;
        input.flush().await?;
        loop {
            if let Some(end) = self.pending.find("@@end\n") {
                let block = self.pending[..end].to_string();
                self.pending.drain(..end + "@@end\n".len());
                return Ok(block);
            }
            if let Some(pos) = self.pending.find("@@error ") {
                bail!(
                    "exec sampler: {}",
                    self.pending[pos + 8..].lines().next().unwrap_or("")
                );
            }
            match tokio::time::timeout(Duration::from_secs(10), self.exec.output.next()).await {
                Ok(Some(Ok(ExecChunk::Stdout(message)))) => {
                    self.pending.push_str(&String::from_utf8_lossy(&message))
                }
                Ok(Some(Ok(ExecChunk::Stderr(message)))) => {
                    tracing::debug!("exec sampler stderr: {}", String::from_utf8_lossy(&message))
                }
                Ok(Some(Err(e))) => return Err(e).context("exec stream"),
                Ok(None) => bail!("exec sampler ended (container stopped?)"),
                Err(_) => bail!("exec sampler did not answer within 10 s"),
            }
        }
    }
}

/// The cgroup section at the head of a block: `@@cg V`, memory.stat, then
/// the optional `@@cgusage`, `@@cgcpu` and `@@cgextra` files.
fn parse_cgroup_head(head: &str) -> Option<super::cgroup::CgroupReading> {
    use super::cgroup::*;
    let rest = head.strip_prefix("@@cg ")?;
    let (version, rest) = rest.split_once('\n')?;
    let mut parts = rest.split("@@cg");
    let stat = parts.next().unwrap_or("");
    let v1 = version.trim() == "1";
    let mut r = CgroupReading {
        stat: if v1 {
            parse_memory_stat_v1(stat)
        } else {
            parse_memory_stat_v2(stat)
        },
        ..Default::default()
    };
    for part in parts {
        let (name, body) = part.split_once('\n').unwrap_or((part, ""));
        let n = body.trim().parse::<u64>().ok();
        match name {
            "usage" => r.usage = n,
            "cpu" if v1 => r.cpu_s = parse_cpuacct_usage(body),
            "cpu" => r.cpu_s = parse_cpu_stat_v2(body),
            "extra" if v1 => r.stat.kernel = n,
            "extra" => r.stat.swap = n,
            _ => {}
        }
    }
    Some(r)
}

/// Parses one `[@@cg …] @@pid … @@end` block into a summed reading. A
/// process marked `@@gone` (or a zombie's empty smaps) is counted as
/// vanished and skipped.
pub fn parse_block(block: &str, ticks: f64) -> Result<Reading> {
    let mut acc = Reading::default();
    let mut blocks = block.split("@@pid ");
    if let Some(c) = blocks.next().and_then(parse_cgroup_head) {
        acc.set_cgroup(&c);
    }
    for proc_block in blocks {
        let (_, rest) = proc_block
            .split_once('\n')
            .context("exec block: no pid line")?;
        if rest.contains("@@gone") || rest.starts_with("@@status") {
            acc.vanished += 1;
            continue;
        }
        let (smaps, rest) = rest
            .split_once("@@status\n")
            .context("exec block: no status")?;
        let (status, rest) = rest.split_once("@@stat\n").context("exec block: no stat")?;
        let (stat, rest) = rest
            .split_once("@@fd ")
            .context("exec block: no fd count")?;
        let m = parse_smaps_rollup(smaps)?;
        let s = parse_status(status)?;
        let st = parse_stat(stat)?;
        let fds: u32 = rest.trim().parse().context("exec block: fd count")?;
        acc.rss += m.rss;
        acc.pss += m.pss;
        acc.pss_anon += m.pss_anon;
        acc.uss += m.uss;
        acc.swap += m.swap;
        acc.vm_hwm += s.vm_hwm;
        acc.threads += s.threads;
        acc.fds += fds;
        acc.cpu_s += st.cpu_ticks as f64 / ticks;
        acc.procs += 1;
    }
    if acc.procs == 0 {
        bail!("exec block had no process ({} vanished)", acc.vanished);
    }
    Ok(acc)
}

impl Probe for ExecProbe {
    fn read(&mut self) -> Result<Reading> {
        let rt = self.rt.clone();
        if self.session.is_none() {
            if self.last_open.elapsed() < REOPEN_EVERY {
                bail!("exec sampler: waiting to re-attach");
            }
            self.last_open = std::time::Instant::now();
            self.session = Some(rt.block_on(Session::open(&self.engine, &self.target))?);
        }
        let Some(session) = self.session.as_mut() else {
            bail!("exec sampler: no session");
        };
        match rt.block_on(session.request()) {
            Ok(block) => parse_block(&block, self.ticks),
            Err(e) => {
                // A broken stream is re-opened on a later tick: after an
                // engine restart the loop must find the new processes.
                self.session = None;
                Err(e)
            }
        }
    }
}

impl Drop for ExecProbe {
    fn drop(&mut self) {
        // Ask the loop to exit; the exec also ends with the container.
        let rt = self.rt.clone();
        if let Some(session) = self.session.as_mut() {
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = rt.block_on(async { session.exec.input.write_all(b"q\n").await });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_two_process_block() {
        let data = |n: &str| {
            std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/data")
                    .join(n),
            )
            .unwrap()
        };
        let one = format!(
            "@@pid 1\n{}@@status\n{}@@stat\n{}\n@@fd 4\n",
            data("smaps_rollup.txt"),
            data("status.txt"),
            data("stat.txt").trim_end()
        );
        let r = parse_block(&format!("{one}{one}"), 100.0).unwrap();
        assert_eq!(r.procs, 2);
        assert_eq!(r.fds, 8);
        assert_eq!(r.uss, 2 * (72 + 112) * 1024);
        assert!(parse_block("", 100.0).is_err());
        assert!(parse_block("@@pid 1\nRss: 1 kB\n", 100.0).is_err());
        // A process gone between listing and reading, and a zombie (empty
        // smaps): skipped and counted.
        let r = parse_block(
            &format!("{one}@@pid 7\n@@gone\n@@pid 8\n@@status\n@@gone\n"),
            100.0,
        )
        .unwrap();
        assert_eq!((r.procs, r.vanished), (1, 2));
        assert_eq!(r.cgroup_mem, None);
        // The cgroup head (v1, as read inside a container here).
        let head = format!(
            "@@cg 1\n{}@@cgusage\n5000\n@@cgcpu\n3000000000\n@@cgextra\n42\n",
            data("cgroup_v1_memory.stat")
        );
        let r = parse_block(&format!("{head}{one}"), 100.0).unwrap();
        assert_eq!(r.cgroup_mem, Some(5000));
        assert_eq!(r.cgroup_cpu_s, Some(3.0));
        assert_eq!(r.cgroup_kernel, Some(42));
        assert_eq!(r.cgroup_file_inactive, Some(898101248));
        // v2 without the optional files.
        let r = parse_block(&format!("@@cg 2\nanon 4096\nsock 1\n{one}"), 100.0).unwrap();
        assert_eq!(
            (r.cgroup_anon, r.cgroup_sock, r.cgroup_mem),
            (Some(4096), Some(1), None)
        );
    }
}
