//! A small client for memcached's text protocol, for filling a memcached
//! target with a known number of items and reading its counters back
//! (`stats`). One connection to 127.0.0.1:<port>; every operation is bounded
//! by the client's timeout. Writes are pipelined in bounded batches and
//! every reply is read (no `noreply`), so a refused item is seen and named.
//!
//! After an operation fails (an unexpected reply, a timeout, a closed
//! connection) the replies still in flight are unknown, so the client
//! refuses further operations: connect again.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

/// Bound on the connect and on each operation, unless connected with another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Commands written before their replies are read.
const BATCH: u64 = 256;
/// memcached's limit on key length.
const MAX_KEY: usize = 250;
/// Longest reply line read (stats lines are far shorter).
const MAX_LINE: u64 = 64 * 1024;
/// Most `STAT` lines accepted in one `stats` reply (1.6 sends about 90).
const MAX_STATS: usize = 10_000;

pub struct Memcached {
    port: u16,
    timeout: Duration,
    stream: BufStream<TcpStream>,
    /// Set while an operation runs; still set after one failed.
    broken: bool,
}

impl Memcached {
    /// Connects to memcached on 127.0.0.1:`port` with `DEFAULT_TIMEOUT`
    /// on the connect and on each operation.
    pub async fn connect(port: u16) -> Result<Self> {
        Self::connect_with_timeout(port, DEFAULT_TIMEOUT).await
    }

    /// Connects to memcached on 127.0.0.1:`port`; `timeout` bounds the
    /// connect and then each operation (one batch of a populate,
    /// one `stats`).
    pub async fn connect_with_timeout(port: u16, timeout: Duration) -> Result<Self> {
        let stream = tokio::time::timeout(
            timeout,
            TcpStream::connect((crate::engine::endpoint::target_ip(), port)),
        )
        .await
        .with_context(|| {
            format!("connect to memcached at 127.0.0.1:{port}: timed out after {timeout:?}")
        })?
        .with_context(|| format!("connect to memcached at 127.0.0.1:{port}"))?;
        stream.set_nodelay(true).ok();
        Ok(Self {
            port,
            timeout,
            stream: BufStream::new(stream),
            broken: false,
        })
    }

    /// Sets keys `{prefix}{i}` for i in 0..n, each to a value of exactly
    /// `value_bytes` bytes, `BATCH` commands at a time. Any reply other than
    /// `STORED` (e.g. `SERVER_ERROR out of memory storing object`) is an
    /// error naming the key and the reply.
    pub async fn populate(&mut self, n: u64, value_bytes: usize, prefix: &str) -> Result<()> {
        check_key(&format!("{prefix}{}", n.saturating_sub(1)))?;
        let value = filler(value_bytes);
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            let mut out = Vec::with_capacity((end - start) as usize * (value_bytes + 48));
            for i in start..end {
                out.extend_from_slice(format!("set {prefix}{i} 0 0 {value_bytes}\r\n").as_bytes());
                out.extend_from_slice(&value);
                out.extend_from_slice(b"\r\n");
            }
            let what = format!("set {prefix}{start}..{prefix}{}", end - 1);
            let replies = self.exchange(&what, &out, end - start).await?;
            for (i, reply) in (start..end).zip(&replies) {
                if reply != "STORED" {
                    self.broken = true;
                    bail!("set {prefix}{i} ({value_bytes} B): memcached replied {reply:?}");
                }
            }
            start = end;
        }
        Ok(())
    }

    /// The `stats` command's counters, by name.
    pub async fn stats(&mut self) -> Result<BTreeMap<String, String>> {
        self.begin("stats")?;
        let port = self.port;
        let timeout = self.timeout;
        let lines = tokio::time::timeout(timeout, async {
            self.stream.write_all(b"stats\r\n").await?;
            self.stream.flush().await?;
            let mut lines = Vec::new();
            loop {
                let line = self.read_line().await?;
                let last = !line.starts_with("STAT ");
                lines.push(line);
                if last {
                    break;
                }
                if lines.len() > MAX_STATS {
                    bail!("more than {MAX_STATS} STAT lines");
                }
            }
            Ok(lines)
        })
        .await
        .with_context(|| format!("stats on 127.0.0.1:{port}: timed out after {timeout:?}"))?
        .with_context(|| format!("stats on 127.0.0.1:{port}"))?;
        let stats = parse_stats(&lines).with_context(|| format!("stats on 127.0.0.1:{port}"))?;
        self.broken = false;
        Ok(stats)
    }

    /// One counter of `stats` as an integer (e.g. `curr_items`, `bytes`).
    pub async fn stat_u64(&mut self, name: &str) -> Result<u64> {
        let stats = self.stats().await?;
        let v = stats
            .get(name)
            .with_context(|| format!("memcached stats have no {name:?}"))?;
        v.parse()
            .with_context(|| format!("memcached stat {name} is not an integer: {v:?}"))
    }

    fn begin(&mut self, what: &str) -> Result<()> {
        if self.broken {
            bail!(
                "{what} on 127.0.0.1:{}: the connection is out of step after an earlier \
                 error; connect again",
                self.port
            );
        }
        self.broken = true;
        Ok(())
    }

    /// Writes `out`, then reads `replies` single-line replies, within the
    /// timeout. Leaves the client broken until the caller has checked them.
    async fn exchange(&mut self, what: &str, out: &[u8], replies: u64) -> Result<Vec<String>> {
        self.begin(what)?;
        let port = self.port;
        let timeout = self.timeout;
        let lines = tokio::time::timeout(timeout, async {
            self.stream.write_all(out).await?;
            self.stream.flush().await?;
            let mut lines = Vec::with_capacity(replies as usize);
            for _ in 0..replies {
                lines.push(self.read_line().await?);
            }
            Ok::<_, anyhow::Error>(lines)
        })
        .await
        .with_context(|| format!("{what} on 127.0.0.1:{port}: timed out after {timeout:?}"))?
        .with_context(|| format!("{what} on 127.0.0.1:{port}"))?;
        self.broken = false;
        Ok(lines)
    }

    async fn read_line(&mut self) -> Result<String> {
        let mut buf = Vec::new();
        (&mut self.stream)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
            .context("read a reply")?;
        reply_line(&buf)
    }
}

/// One reply line as text without its line end. Errors on a connection
/// closed mid-line, a line longer than `MAX_LINE` and non-UTF-8.
pub fn reply_line(raw: &[u8]) -> Result<String> {
    if raw.is_empty() {
        bail!("memcached closed the connection");
    }
    let Some(body) = raw.strip_suffix(b"\n") else {
        if raw.len() as u64 >= MAX_LINE {
            bail!("reply line longer than {MAX_LINE} bytes");
        }
        bail!(
            "memcached closed the connection mid-line: {:?}",
            String::from_utf8_lossy(raw)
        );
    };
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    String::from_utf8(body.to_vec()).context("reply line is not UTF-8")
}

/// A `stats` reply: `STAT <name> <value>` lines, then `END`. Any other
/// final line (`ERROR`, `SERVER_ERROR ...`) is an error carrying it.
pub fn parse_stats(lines: &[String]) -> Result<BTreeMap<String, String>> {
    let mut stats = BTreeMap::new();
    let Some((last, stat_lines)) = lines.split_last() else {
        bail!("empty stats reply");
    };
    if last != "END" {
        bail!("stats reply ends with {last:?}, not END");
    }
    for line in stat_lines {
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("STAT"), Some(name), Some(value)) if !name.is_empty() => {
                stats.insert(name.to_string(), value.to_string());
            }
            _ => bail!("malformed stats line {line:?}"),
        }
    }
    Ok(stats)
}

/// A key memcached accepts: 1..=250 bytes, no whitespace or control
/// characters (they would end the command early or corrupt the stream).
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY {
        bail!(
            "memcached key {key:?} is {} bytes; keys must be 1..={MAX_KEY}",
            key.len()
        );
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("memcached key {key:?} contains whitespace or a control character");
    }
    Ok(())
}

/// A value of exactly `n` printable bytes.
fn filler(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};
    use std::time::Instant;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reply_lines() {
        assert_eq!(reply_line(b"STORED\r\n").unwrap(), "STORED");
        assert_eq!(reply_line(b"END\n").unwrap(), "END");
        assert_eq!(
            reply_line(b"SERVER_ERROR out of memory storing object\r\n").unwrap(),
            "SERVER_ERROR out of memory storing object"
        );
        let e = reply_line(b"").unwrap_err().to_string();
        assert!(e.contains("closed the connection"), "{e}");
        let e = reply_line(b"STOR").unwrap_err().to_string();
        assert!(e.contains("mid-line"), "{e}");
        assert!(reply_line(b"\xff\r\n").is_err());
    }

    #[test]
    fn stats_block() {
        let s = parse_stats(&lines(&[
            "STAT pid 1",
            "STAT version 1.6.18",
            "STAT libevent 2.1.12-stable",
            "STAT curr_items 10000",
            "STAT rusage_user 0.1 extra words",
            "END",
        ]))
        .unwrap();
        assert_eq!(s["curr_items"], "10000");
        assert_eq!(s["version"], "1.6.18");
        assert_eq!(s["rusage_user"], "0.1 extra words");
        assert_eq!(s.len(), 5);
        assert!(parse_stats(&lines(&["END"])).unwrap().is_empty());
        let e = parse_stats(&lines(&["STAT pid 1", "SERVER_ERROR busy"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SERVER_ERROR busy"), "{e}");
        assert!(parse_stats(&lines(&["STAT pid", "END"])).is_err());
        assert!(parse_stats(&lines(&["VALUE x 0 1", "END"])).is_err());
        assert!(parse_stats(&[]).is_err());
    }

    #[test]
    fn keys() {
        check_key("key:99999").unwrap();
        check_key(&"k".repeat(250)).unwrap();
        assert!(check_key(&"k".repeat(251)).is_err());
        assert!(check_key("").is_err());
        assert!(check_key("a b").is_err());
        assert!(check_key("a\r\nflush_all").is_err());
        assert_eq!(filler(3), b"abc");
        assert_eq!(filler(100).len(), 100);
    }

    /// A server that accepts and never answers: every operation must end
    /// with a timeout error, not hang.
    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (_sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let mut mc = Memcached::connect_with_timeout(port, Duration::from_millis(200))
            .await
            .unwrap();
        let t = Instant::now();
        let e = format!("{:#}", mc.stats().await.unwrap_err());
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
        let e = format!("{:#}", mc.populate(10, 10, "k").await.unwrap_err());
        assert!(e.contains("out of step"), "{e}");
        server.abort();
    }

    const MEMCACHED: &str = "/usr/bin/memcached";

    /// A memcached process on a free loopback port, killed on drop.
    struct Server {
        child: Child,
        port: u16,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    async fn start_memcached() -> Server {
        assert!(
            std::path::Path::new(MEMCACHED).exists(),
            "{MEMCACHED} is missing: this test runs a real memcached; run scripts/setup \
             (or apt-get install memcached)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(MEMCACHED);
        cmd.args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-m",
            "64",
        ]);
        if nix::unistd::geteuid().is_root() {
            cmd.args(["-u", "root"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {MEMCACHED}: {e}"));
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if tokio::net::TcpStream::connect((crate::engine::endpoint::target_ip(), port))
                .await
                .is_ok()
            {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("{MEMCACHED} on port {port} exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{MEMCACHED} did not listen on 127.0.0.1:{port} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn real_memcached() {
        let server = start_memcached().await;
        let mut mc = Memcached::connect(server.port).await.unwrap();

        let t = Instant::now();
        mc.populate(10_000, 100, "key:").await.unwrap();
        let took = t.elapsed();
        eprintln!("populate 10000 x 100 B: {took:?}");
        assert_eq!(mc.stat_u64("curr_items").await.unwrap(), 10_000);
        assert_eq!(mc.stat_u64("total_items").await.unwrap(), 10_000);
        assert_eq!(mc.stat_u64("evictions").await.unwrap(), 0);
        assert!(mc.stats().await.unwrap().contains_key("version"));
        let e = format!("{:#}", mc.stat_u64("version").await.unwrap_err());
        assert!(e.contains("not an integer"), "{e}");

        // An item over the 1 MiB item size limit is refused: the error names
        // the key and memcached's reply, and the connection is then unusable.
        let e = format!("{:#}", mc.populate(1, 2 << 20, "big:").await.unwrap_err());
        assert!(e.contains("big:0"), "{e}");
        assert!(e.contains("SERVER_ERROR"), "{e}");
        assert!(mc.stats().await.is_err());
        let mut mc = Memcached::connect(server.port).await.unwrap();
        assert_eq!(mc.stat_u64("curr_items").await.unwrap(), 10_000);

        let e = format!("{:#}", mc.populate(1, 1, "bad key").await.unwrap_err());
        assert!(e.contains("whitespace"), "{e}");
    }
}
