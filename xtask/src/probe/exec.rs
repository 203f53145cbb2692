//! Exec-stream mode: ONE long-lived `docker exec` running a shell loop in
//! the container. Each request line makes the loop print the target's
//! /proc files using shell builtins only, so a sample costs no fork and no
//! new exec (three `docker exec cat` per sample cost ~277 ms here).
//!
//! Group-unique memory needs a binary reader and CAP_SYS_ADMIN, which a
//! shell loop has neither of: the static `runcost-groupmem` (built by
//! `cargo xtask setup`) is uploaded into the container through the
//! engine's archive API and kept running as a second exec stream
//! ([`GroupStream`]), fed the PIDs the loop found, on the shared group
//! reader thread at its own rate. Without CAP_SYS_ADMIN in the container
//! (compose `cap_add: [SYS_ADMIN]`) the metric is unavailable with that
//! reason, never zero.

use super::pagemap::{GroupError, GroupRead, GroupReader};
use super::parse::{parse_smaps_rollup, parse_stat, parse_status};
use super::{clock_ticks, Probe, Reading, Target};
use crate::engine::{Engine, ExecChunk, ExecStream};
use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use runcost_groupmem::{has_sys_admin, Reply};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The reader loop. Its arguments are the process names (none: PID 1);
/// they are passed as arguments, never spliced into the script. Every
/// request lists /proc again, so forks join and exits leave; a process
/// that exits before its files are read prints `@@gone`. The container's
/// own cgroup (mounted at /sys/fs/cgroup inside, v1 or v2) is printed
/// first: the whole service's memory by kind and CPU, forks included.
/// Group-unique memory is read by [`GroupStream`], not here.
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
    /// The group-unique reader, or why group-unique memory is unavailable.
    group: Result<GroupReader, String>,
    /// The reason of the newest failed group read, cleared by a good one.
    group_error: Option<String>,
    /// The container PIDs the loop read last, for the attribution loop
    /// ([`super::exec_attrib::ExecAttrib`]); created when a lane asks for attribution.
    sink: Option<super::attrib::PidSink>,
}

const REOPEN_EVERY: Duration = Duration::from_millis(500);

impl ExecProbe {
    pub async fn start(engine: &Engine, target: &Target) -> Result<ExecProbe> {
        let session = Session::open(engine, target).await?;
        let group = match GroupStream::open(engine, &target.container_id).await {
            Ok(stream) => Ok(stream.into_reader(
                tokio::runtime::Handle::current(),
                engine.clone(),
                target.container_id.clone(),
            )),
            Err(why) => {
                tracing::info!("exec sampler: group-unique memory unavailable: {why}");
                Err(why)
            }
        };
        Ok(ExecProbe {
            rt: tokio::runtime::Handle::current(),
            engine: engine.clone(),
            target: target.clone(),
            session: Some(session),
            last_open: std::time::Instant::now(),
            ticks: clock_ticks(),
            group,
            group_error: None,
            sink: None,
        })
    }
}

/// Where `cargo xtask setup` builds the static group-memory reader.
const GROUPMEM_DIR: &str = "target/runcost-groupmem";
const GROUPMEM_BIN: &str = "runcost-groupmem";
/// Where it goes in the container (in its own filesystem: removed with it).
const GROUPMEM_AT: (&str, &str) = ("/tmp", "runcost-groupmem");

/// The static reader built by setup.
pub fn groupmem_bin(root: &Path) -> PathBuf {
    crate::boxes::guest::static_bin_path(&root.join(GROUPMEM_DIR), GROUPMEM_BIN)
}

/// `cargo xtask setup`: builds [`groupmem_bin`].
pub fn build_groupmem(root: &Path) -> Result<PathBuf> {
    crate::boxes::guest::build_static(
        root,
        "runcost-groupmem",
        GROUPMEM_BIN,
        &root.join(GROUPMEM_DIR),
    )
}

/// How a user gives the exec sampler what PFNs need.
pub const CAP_FIX: &str = "add `cap_add: [SYS_ADMIN]` to the service in the profile's compose \
                           file (`docker exec --privileged` is not used: it fails where the \
                           engine may not apply capabilities)";

/// The `runcost-groupmem` binary running in the target container, fed one
/// line of container PIDs per read.
pub struct GroupStream {
    exec: ExecStream,
    pending: String,
}

impl GroupStream {
    /// Uploads the reader, starts it and checks its capabilities. The error
    /// is the reason group-unique memory is unavailable, with the fix.
    pub async fn open(engine: &Engine, container: &str) -> Result<GroupStream, String> {
        let root = crate::cmd::repo_root().map_err(|e| format!("{e:#}"))?;
        let bin = groupmem_bin(&root);
        let data = std::fs::read(&bin).map_err(|e| {
            format!(
                "no group-memory reader at {} ({e}): run `cargo xtask setup`",
                bin.display()
            )
        })?;
        let (dir, name) = GROUPMEM_AT;
        engine
            .upload_file(container, dir, name, 0o755, &data)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let argv = vec![format!("{dir}/{name}")];
        let exec = engine
            .exec_stream(container, &argv)
            .await
            .map_err(|e| format!("start the group-memory reader: {e:#}"))?;
        let mut g = GroupStream {
            exec,
            pending: String::new(),
        };
        match g.reply().await.map_err(|e| format!("{e:#}"))? {
            Reply::Ready { cap_eff } if has_sys_admin(cap_eff) => Ok(g),
            Reply::Ready { cap_eff } => {
                let _ = g.exec.input.write_all(b"q\n").await;
                Err(format!(
                    "the container's processes lack CAP_SYS_ADMIN (CapEff {cap_eff:016x}), \
                     which reading page frame numbers from /proc/PID/pagemap needs: {CAP_FIX}"
                ))
            }
            other => Err(format!(
                "the group-memory reader began with {:?}, not `ready`",
                other.to_line()
            )),
        }
    }

    /// One read of the group `pids` (container PIDs).
    pub async fn read(&mut self, pids: &[i32]) -> Result<Result<GroupRead, GroupError>> {
        let mut line = pids
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        line.push('\n');
        self.exec
            .input
            .write_all(line.as_bytes())
            .await
            .context("write to the group-memory reader")?;
        self.exec.input.flush().await?;
        match self.reply().await? {
            Reply::Read(r) => Ok(r),
            other => bail!("group-memory reader answered {:?}", other.to_line()),
        }
    }

    async fn reply(&mut self) -> Result<Reply> {
        loop {
            if let Some(end) = self.pending.find('\n') {
                let line: String = self.pending.drain(..=end).collect();
                return Reply::parse(&line)
                    .with_context(|| format!("group-memory reader said {line:?}"));
            }
            // A read walks every resident page: allow far more than a sample.
            match tokio::time::timeout(Duration::from_secs(30), self.exec.output.next()).await {
                Ok(Some(Ok(ExecChunk::Stdout(m)))) => {
                    self.pending.push_str(&String::from_utf8_lossy(&m))
                }
                Ok(Some(Ok(ExecChunk::Stderr(m)))) => {
                    tracing::debug!("group-memory reader: {}", String::from_utf8_lossy(&m))
                }
                Ok(Some(Err(e))) => return Err(e).context("group-memory reader stream"),
                Ok(None) => bail!("the group-memory reader ended (container stopped?)"),
                Err(_) => bail!("the group-memory reader did not answer within 30 s"),
            }
        }
    }

    /// The shared group reader thread over this stream. A broken stream
    /// (the container restarted) is opened again on a later read, uploading
    /// the reader again (a new container has no copy).
    fn into_reader(
        self,
        rt: tokio::runtime::Handle,
        engine: Engine,
        container: String,
    ) -> GroupReader {
        let mut stream = Some(self);
        GroupReader::spawn(Box::new(move |pids| {
            if stream.is_none() {
                stream = Some(rt.block_on(GroupStream::open(&engine, &container))?);
            }
            let Some(s) = stream.as_mut() else {
                return Err("the group-memory reader is not running".into());
            };
            match rt.block_on(s.read(pids)) {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(GroupError::NoPfns)) => Err(format!(
                    "pagemap shows no page frame numbers inside the container (no \
                     CAP_SYS_ADMIN): {CAP_FIX}"
                )),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => {
                    stream = None;
                    Err(format!("{e:#}"))
                }
            }
        }))
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

/// Parses one `[@@cg …] @@pid … @@end` block into a summed reading and
/// the (container) PIDs it read. A process marked `@@gone` (or a zombie's
/// empty smaps) is counted as vanished and skipped.
pub fn parse_block(block: &str, ticks: f64) -> Result<(Reading, Vec<i32>)> {
    let mut acc = Reading::default();
    let mut pids = Vec::new();
    let mut blocks = block.split("@@pid ");
    if let Some(c) = blocks.next().and_then(parse_cgroup_head) {
        acc.set_cgroup(&c);
    }
    for proc_block in blocks {
        let (pid, rest) = proc_block
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
        pids.push(pid.trim().parse().context("exec block: pid")?);
    }
    if acc.procs == 0 {
        bail!("exec block had no process ({} vanished)", acc.vanished);
    }
    Ok((acc, pids))
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
            Ok(block) => {
                let (mut acc, pids) = parse_block(&block, self.ticks)?;
                if let Some(sink) = &self.sink {
                    *sink.lock().unwrap_or_else(|e| e.into_inner()) = pids.clone();
                }
                if let Ok(group) = &self.group {
                    group.exchange_into(&pids, &mut acc, &mut self.group_error);
                }
                Ok(acc)
            }
            Err(e) => {
                // A broken stream is re-opened on a later tick: after an
                // engine restart the loop must find the new processes.
                self.session = None;
                Err(e)
            }
        }
    }

    /// Container PIDs are not the host's: the attribution reader is a
    /// second loop in the container ([`super::exec_attrib::ExecAttrib`]), fed the PIDs this
    /// probe read last.
    fn attrib_reader(
        &mut self,
        origin: std::time::Instant,
    ) -> Option<Box<dyn super::attrib::AttribReader>> {
        let pids = self.sink.get_or_insert_with(Default::default).clone();
        Some(Box::new(super::exec_attrib::ExecAttrib {
            rt: self.rt.clone(),
            engine: self.engine.clone(),
            container: self.target.container_id.clone(),
            pids,
            origin,
            session: None,
            last_open: None,
        }))
    }

    fn unavailable(&self) -> Vec<(&'static str, String)> {
        self.group_unavailable()
            .map(|why| vec![("group_unique", why.to_string())])
            .unwrap_or_default()
    }
}

impl ExecProbe {
    /// Why group-unique memory is not being read, if it is not.
    pub fn group_unavailable(&self) -> Option<&str> {
        match &self.group {
            Err(why) => Some(why),
            Ok(_) => self.group_error.as_deref(),
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
        let (r, pids) = parse_block(&format!("{one}{one}"), 100.0).unwrap();
        assert_eq!(pids, vec![1, 1]);
        assert_eq!(r.procs, 2);
        assert_eq!(r.fds, 8);
        assert_eq!(r.uss, 2 * (72 + 112) * 1024);
        assert!(parse_block("", 100.0).is_err());
        assert!(parse_block("@@pid 1\nRss: 1 kB\n", 100.0).is_err());
        // A process gone between listing and reading, and a zombie (empty
        // smaps): skipped and counted.
        let (r, pids) = parse_block(
            &format!("{one}@@pid 7\n@@gone\n@@pid 8\n@@status\n@@gone\n"),
            100.0,
        )
        .unwrap();
        assert_eq!((r.procs, r.vanished), (1, 2));
        assert_eq!(
            pids,
            vec![1],
            "only the processes read go to the group reader"
        );
        assert_eq!(r.cgroup_mem, None);
        // The cgroup head (v1, as read inside a container here).
        let head = format!(
            "@@cg 1\n{}@@cgusage\n5000\n@@cgcpu\n3000000000\n@@cgextra\n42\n",
            data("cgroup_v1_memory.stat")
        );
        let (r, _) = parse_block(&format!("{head}{one}"), 100.0).unwrap();
        assert_eq!(r.cgroup_mem, Some(5000));
        assert_eq!(r.cgroup_cpu_s, Some(3.0));
        assert_eq!(r.cgroup_kernel, Some(42));
        assert_eq!(r.cgroup_file_inactive, Some(898101248));
        // v2 without the optional files.
        let (r, _) = parse_block(&format!("@@cg 2\nanon 4096\nsock 1\n{one}"), 100.0).unwrap();
        assert_eq!(
            (r.cgroup_anon, r.cgroup_sock, r.cgroup_mem),
            (Some(4096), Some(1), None)
        );
    }
}
