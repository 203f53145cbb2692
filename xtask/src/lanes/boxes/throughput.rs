//! Throughput: how fast data moves on a box's disk, into and out of the
//! box, and over the network into it.
//!
//! Setup: one box, started, with a disk (a VM's scratch virtio-blk disk;
//! a container's writable layer). The size is checked against the disk
//! (a VM's scratch size; `df` of the container's directory) before any
//! measurement: too large is bad input. Warm-up: one small write, read
//! and copy each, unrecorded. Measurement, per repeat: a sequential `dd`
//! of zeros with O_DIRECT and an fsync (`oflag=direct conv=fsync`), then a
//! sequential O_DIRECT read of the same bytes (`iflag=direct`: the page
//! cache cannot answer it, so it is a real read of the disk), each timed
//! by the box's own clock around dd (exec overhead excluded); then
//! `size` bytes of pseudo-random data copied into the box and back out
//! through the runtime's file path (the engine's archive API; the VM
//! agent's chunked file protocol), timed on the host, and the copy out
//! checked byte for byte against what went in. Then host → box TCP where
//! the runtime can give the box a network reachable on loopback only (a
//! container in the host's network namespace, its sink on 127.0.0.1; a
//! qemu box's virtio-net NIC on qemu's user-mode network with
//! `restrict=on`, one port forwarded from the host's 127.0.0.1): the box
//! agent's sink (`boxagent --sink`, uploaded into a container, /init in a
//! VM) runs in the box in the background and serves one connection per
//! repeat; the host connects, writes `size` bytes of the same
//! pseudo-random data, shuts down its writing half and reads back the
//! count the sink received, which must equal what was sent; the rate is
//! that count over first byte written → count read back. SKIPPED with the
//! reason where the box has no network (CLI-runtime boxes, a guest without
//! virtio_net). Analysis: bytes/s per repeat; the report gives the median
//! and range.

use super::{teardown, timed_exec};
use crate::boxes::{BoxBackend, Scratch, TcpPath};
use crate::error::BadInput;
use crate::events::{Event, Events};
use crate::results::boxaxes::ThroughputResult;
use anyhow::{bail, Context, Result};
use rand::RngCore;
use rand::SeedableRng;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct ThroughputOpts {
    pub size_mib: u32,
    pub repeats: u32,
    /// The disk limit the backend was built with (for the record).
    pub disk_limit_bps: Option<u64>,
}

/// dd's block: 1 MiB, so `count` is the size in MiB.
const BLOCK: &str = "1048576";

/// `sh -c` script: clock, dd, clock; prints "t0 t1". The dd arguments come
/// as positional parameters ($1 = path, $2 = MiB), never spliced in.
fn timed_dd(clock: &[String], dd: &str) -> String {
    let c = clock.join(" ");
    format!(
        "t0=$({c}) || exit 90; {dd} 2>/tmp/runcost-dd.err || {{ s=$?; cat /tmp/runcost-dd.err >&2; exit $s; }}; t1=$({c}) || exit 90; echo \"$t0 $t1\""
    )
}

fn write_script(clock: &[String]) -> String {
    timed_dd(
        clock,
        &format!("dd if=/dev/zero of=\"$1\" bs={BLOCK} count=\"$2\" oflag=direct conv=fsync"),
    )
}

fn read_script(clock: &[String]) -> String {
    timed_dd(
        clock,
        &format!("dd if=\"$1\" of=/dev/null bs={BLOCK} count=\"$2\" iflag=direct"),
    )
}

/// Bytes per second from the box's "t0 t1" (seconds with a fraction).
pub fn rate_of(stdout: &str, bytes: u64) -> Result<f64> {
    let line = stdout.lines().last().unwrap_or("").trim();
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("the box's clock printed {line:?}, not two numbers"))?;
    let [t0, t1] = v[..] else {
        bail!("the box's clock printed {line:?}, not \"t0 t1\"");
    };
    let dt = t1 - t0;
    if dt.is_nan() || dt <= 0.0 {
        bail!("the box's clock did not advance over dd ({t0} → {t1})");
    }
    Ok(bytes as f64 / dt)
}

/// Where the sink writes its bound port and its output, in the box.
const SINK_PORT_FILE: &str = "/tmp/runcost-sink.port";
const SINK_LOG: &str = "/tmp/runcost-sink.log";
/// How long the sink may take to listen after it was started.
const SINK_READY: Duration = Duration::from_secs(20);
/// How long one TCP transfer may take.
const TCP_TIMEOUT: Duration = Duration::from_secs(120);

/// `sh -c` script starting the sink in the background: $0 = the agent,
/// $1 = address, $2 = connections, $3 = port file, $4 = log; none spliced.
const SINK_SCRIPT: &str = "\"$0\" --sink \"$1\" \"$2\" \"$3\" </dev/null >\"$4\" 2>&1 &";

/// The box's sink, listening: the host's 127.0.0.1 port that reaches it.
struct Sink {
    port: u16,
}

impl Sink {
    /// Starts the sink for `connections` transfers and waits until it
    /// listens (its port file is there).
    async fn start<B: BoxBackend>(
        b: &B,
        h: &mut B::Handle,
        path: &TcpPath,
        connections: u32,
    ) -> Result<Sink> {
        let argv: Vec<String> = [
            "sh",
            "-c",
            SINK_SCRIPT,
            &path.agent,
            &path.listen,
            &connections.to_string(),
            SINK_PORT_FILE,
            SINK_LOG,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let o = b.exec(h, &argv, &[]).await?;
        if o.exit_code != 0 {
            bail!(
                "starting the TCP sink exited {}: {}",
                o.exit_code,
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
        let t = Instant::now();
        let cat = vec!["cat".to_string(), SINK_PORT_FILE.to_string()];
        let box_port = loop {
            let o = b.exec(h, &cat, &[]).await?;
            if o.exit_code == 0 {
                if let Some(p) = sink_port(&String::from_utf8_lossy(&o.stdout)) {
                    break p;
                }
            }
            if t.elapsed() > SINK_READY {
                let log = b
                    .exec(h, &["cat".into(), SINK_LOG.into()], &[])
                    .await
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default();
                bail!(
                    "the box's TCP sink ({} --sink {}) did not listen within {SINK_READY:?}; its output: {}\n(an agent without --sink is out of date: run `cargo xtask setup`)",
                    path.agent,
                    path.listen,
                    if log.is_empty() { "(none)" } else { &log }
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Ok(Sink {
            port: path.host_port.unwrap_or(box_port),
        })
    }

    /// One transfer of `data`: bytes/s the box received.
    async fn send(&self, data: &[u8]) -> Result<f64> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let (n, dt) = tokio::time::timeout(TCP_TIMEOUT, send_counted(addr, data))
            .await
            .with_context(|| format!("TCP to {addr}: no count within {TCP_TIMEOUT:?}"))?
            .with_context(|| format!("TCP to {addr}"))?;
        if n != data.len() as u64 {
            bail!(
                "TCP to {addr}: the box's sink counted {n} bytes; {} were sent",
                data.len()
            );
        }
        Ok(n as f64 / dt.as_secs_f64())
    }
}

/// Connects, writes `data`, shuts down writing, reads the sink's count:
/// the count and first byte written → count read.
async fn send_counted(addr: std::net::SocketAddr, data: &[u8]) -> Result<(u64, Duration)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(addr)
        .await
        .context("connect")?;
    let t = Instant::now();
    c.write_all(data).await.context("write")?;
    c.shutdown().await.context("shut down writing")?;
    let mut answer = Vec::new();
    // An answer is one short line; more is not the sink.
    (&mut c)
        .take(64)
        .read_to_end(&mut answer)
        .await
        .context("read the sink's count")?;
    let dt = t.elapsed();
    let n = runcost_boxagent::sink::parse_answer(&answer).with_context(|| {
        format!(
            "the sink answered {:?}, not a byte count",
            String::from_utf8_lossy(&answer)
        )
    })?;
    Ok((n, dt))
}

/// The port in the sink's port file: one number, 1..=65535.
fn sink_port(text: &str) -> Option<u16> {
    text.trim().parse::<u16>().ok().filter(|p| *p != 0)
}

/// Free bytes under `dir` in the box, from POSIX `df -Pk`.
pub fn df_available(stdout: &str) -> Option<u64> {
    let line = stdout.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

async fn dd<B: BoxBackend>(
    b: &B,
    h: &mut B::Handle,
    script: String,
    s: &Scratch,
    mib: u32,
) -> Result<f64> {
    let argv = vec![
        "sh".into(),
        "-c".into(),
        script,
        "sh".into(),
        s.path.clone(),
        mib.to_string(),
    ];
    let (out, _) = timed_exec(b, h, &argv).await?;
    rate_of(&String::from_utf8_lossy(&out.stdout), u64::from(mib) << 20)
}

/// The size against the box's disk: too large is bad input (exit 2).
async fn check_size<B: BoxBackend>(b: &B, h: &mut B::Handle, s: &Scratch, size: u64) -> Result<()> {
    // A VM's copy lands on its scratch device over dd's bytes; a
    // container's copy is a second file beside dd's.
    let need = if s.capacity.is_some() { size } else { 2 * size };
    let (cap, what) = match s.capacity {
        Some(c) => (c, format!("the box's scratch disk ({} MiB)", c >> 20)),
        None => {
            let dir = s.path.rsplit_once('/').map(|d| d.0).unwrap_or("/");
            let dir = if dir.is_empty() { "/" } else { dir };
            let (out, _) = timed_exec(b, h, &["df".into(), "-Pk".into(), dir.into()]).await?;
            let avail = df_available(&String::from_utf8_lossy(&out.stdout))
                .with_context(|| format!("`df -Pk {dir}` in the box: no free space figure"))?;
            (
                avail,
                format!("the free space of {dir} in the box ({} MiB)", avail >> 20),
            )
        }
    };
    if need > cap {
        bail!(BadInput(format!(
            "--size-mib {}: needs {} MiB, more than {what}; give a smaller --size-mib{}",
            size >> 20,
            need >> 20,
            if s.capacity.is_some() {
                " or a larger --disk-mib"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

pub async fn run<B: BoxBackend>(
    b: &B,
    o: &ThroughputOpts,
    events: &dyn Events,
) -> Result<ThroughputResult> {
    let size = u64::from(o.size_mib) << 20;
    let mut h = b.create("tp").await?;
    let r = async {
        b.start(&mut h).await?;
        timed_exec(b, &mut h, &super::trivial()).await?;
        let scratch = b.scratch();
        if let Ok(s) = &scratch {
            check_size(b, &mut h, s, size).await?;
        }
        let mut r = ThroughputResult {
            size_bytes: size,
            repeats: o.repeats,
            disk_target: scratch
                .as_ref()
                .map(|s| s.path.clone())
                .unwrap_or_default(),
            disk_method: "dd bs=1M of zeros, write oflag=direct conv=fsync, read iflag=direct (no page cache), timed by the box's clock".into(),
            disk_limit_bps: o.disk_limit_bps,
            write_bps: Vec::new(),
            read_bps: Vec::new(),
            disk_skipped: scratch.as_ref().err().cloned(),
            copy_path: match b.kind() {
                crate::boxes::BackendKind::Qemu => "the VM agent's file protocol (1 MiB chunks, each acknowledged)".into(),
                crate::boxes::BackendKind::Container => "the engine's archive API (PUT/GET /containers/ID/archive)".into(),
                crate::boxes::BackendKind::Command => "the runtime CLI's exec stdio (`cat` in the box: an OCI runtime has no copy command)".into(),
            },
            copy_in_bps: Vec::new(),
            copy_out_bps: Vec::new(),
            copy_skipped: b.cannot_copy(),
            tcp_bps: Vec::new(),
            tcp_skipped: b.no_network(),
            tcp_path: None,
        };
        let tcp = match &r.tcp_skipped {
            Some(_) => None,
            None => Some(b.tcp_into(&mut h).await.context("ready the box for TCP")?),
        };
        r.tcp_path = tcp.as_ref().map(|t| t.via.clone());
        // The copy's file: beside dd's on the disk (a VM's copy lands on
        // its raw scratch device, which has no filesystem).
        let copy_path = match &scratch {
            Ok(s) if s.capacity.is_some() => s.path.clone(),
            _ => format!("{}/runcost-copy", crate::boxes::container::SCRATCH_DIR),
        };
        let mut data = vec![0u8; size as usize];
        rand_pcg::Pcg64::seed_from_u64(0x7470).fill_bytes(&mut data);

        events.emit(Event::Note(format!("{} throughput: warm-up", b.kind())));
        let warm = o.size_mib.min(4);
        if let Ok(s) = &scratch {
            dd(b, &mut h, write_script(&s.clock), s, warm).await.context("warm-up write")?;
            dd(b, &mut h, read_script(&s.clock), s, warm).await.context("warm-up read")?;
        }
        if r.copy_skipped.is_none() {
            let w = &data[..(warm as usize) << 20];
            b.copy_in(&mut h, &copy_path, w).await.context("warm-up copy in")?;
            b.copy_out(&mut h, &copy_path, w.len()).await.context("warm-up copy out")?;
        }
        // One connection for the warm-up, one per repeat.
        let sink = match &tcp {
            Some(t) => Some(Sink::start(b, &mut h, t, o.repeats + 1).await?),
            None => None,
        };
        if let Some(s) = &sink {
            s.send(&data[..(warm as usize) << 20]).await.context("warm-up TCP")?;
        }

        for i in 0..o.repeats {
            events.emit(Event::Note(format!(
                "{} throughput: repeat {}/{} ({} MiB)",
                b.kind(),
                i + 1,
                o.repeats,
                o.size_mib
            )));
            if let Ok(s) = &scratch {
                r.write_bps.push(dd(b, &mut h, write_script(&s.clock), s, o.size_mib).await.context("disk write")?);
                r.read_bps.push(dd(b, &mut h, read_script(&s.clock), s, o.size_mib).await.context("disk read")?);
            }
            if r.copy_skipped.is_none() {
                let t = Instant::now();
                b.copy_in(&mut h, &copy_path, &data).await?;
                r.copy_in_bps.push(size as f64 / t.elapsed().as_secs_f64());
                let t = Instant::now();
                let back = b.copy_out(&mut h, &copy_path, data.len()).await?;
                r.copy_out_bps.push(size as f64 / t.elapsed().as_secs_f64());
                if back != data {
                    let at = back.iter().zip(&data).position(|(x, y)| x != y);
                    bail!(
                        "the copy out of {copy_path} differs from what was copied in (first difference at byte {})",
                        at.map(|a| a.to_string()).unwrap_or_else(|| "past the end".into())
                    );
                }
            }
            if let Some(s) = &sink {
                r.tcp_bps.push(s.send(&data).await.context("host → box TCP")?);
            }
        }
        Ok(r)
    }
    .await;
    let down = teardown(b, h).await;
    let r = r?;
    down?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_from_the_box_clock() {
        let r = rate_of("noise\n100.5 102.5\n", 64 << 20).unwrap();
        assert_eq!(r, (32 << 20) as f64);
        assert!(rate_of("100.5 100.5", 1).is_err(), "no time passed");
        assert!(rate_of("101 100", 1).is_err(), "clock went back");
        assert!(
            rate_of("1796216441.%N 1796216441.%N", 1).is_err(),
            "busybox date"
        );
        assert!(rate_of("", 1).is_err());
    }

    #[test]
    fn sink_port_file() {
        assert_eq!(sink_port("40123\n"), Some(40123));
        assert_eq!(sink_port(""), None, "not written yet");
        assert_eq!(sink_port("0\n"), None);
        assert_eq!(sink_port("65536\n"), None);
        assert_eq!(sink_port("40 123\n"), None);
    }

    #[test]
    fn the_sink_script_takes_everything_as_parameters() {
        assert!(!SINK_SCRIPT.contains(SINK_LOG) && SINK_SCRIPT.contains("\"$4\""));
        assert!(SINK_SCRIPT.trim_end().ends_with('&'), "in the background");
    }

    /// The host side against the agent's own sink on loopback: the count
    /// comes back and a short count is an error.
    #[tokio::test]
    async fn a_transfer_is_counted_by_the_sink() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let serve = std::thread::spawn(move || runcost_boxagent::sink::serve(&l, 1).unwrap());
        let data = vec![7u8; 1 << 20];
        let rate = Sink { port }.send(&data).await.unwrap();
        assert!(rate > 0.0);
        assert_eq!(serve.join().unwrap(), vec![1 << 20]);

        // A sink that drops a byte is caught.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let liar = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut c, _) = l.accept().unwrap();
            let mut v = Vec::new();
            c.read_to_end(&mut v).unwrap();
            c.write_all(runcost_boxagent::sink::answer(v.len() as u64 - 1).as_bytes())
                .unwrap();
        });
        let e = Sink { port }.send(&data).await.unwrap_err();
        assert!(format!("{e:#}").contains("counted 1048575 bytes"), "{e:#}");
        liar.join().unwrap();
    }

    #[test]
    fn df_free_space() {
        let out = "Filesystem     1024-blocks      Used Available Capacity Mounted on\noverlay          263174212  18000000  77000000      19% /\n";
        assert_eq!(df_available(out), Some(77000000 * 1024));
        assert_eq!(df_available("Filesystem\n"), None);
    }

    #[test]
    fn scripts_take_path_and_size_as_parameters() {
        let s = write_script(&["/init".into(), "--now".into()]);
        assert!(s.contains("of=\"$1\"") && s.contains("count=\"$2\""), "{s}");
        assert!(s.contains("$(/init --now)"), "{s}");
        assert!(read_script(&["date".into(), "+%s.%N".into()]).contains("iflag=direct"));
    }
}
