//! The TCP protocol against a line server on 127.0.0.1 started here, which
//! answers every request line in one scripted way, well or badly. Every run
//! is bounded by its duration (about a second) plus its timeout.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{runtime, serial};
use runcost_loadgen::{run, Config, Expect, Framing, LoadResult, Mode, TcpConfig, TcpRequestSpec};

#[derive(Clone, Copy, Debug)]
enum Reply {
    /// `$7\r\nvalue:1\r\n` for each line.
    Value,
    /// `-ERR unknown\r\n`: a well-framed error.
    Error,
    /// `+OK` without its CRLF: the terminator never comes.
    NoTerminator,
    /// 256 KiB of `x` without a CRLF, then silence.
    Huge,
    /// Binary junk.
    Junk,
    /// Half a bulk string, then a TCP reset.
    ResetMidway,
}

struct LineServer {
    port: u16,
    lines: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LineServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl LineServer {
    fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let (l, s) = (l.clone(), s.clone());
                        conns.push(std::thread::spawn(move || serve(sock, reply, &l, &s)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        LineServer {
            port,
            lines,
            stop,
            thread: Some(thread),
        }
    }
}

fn serve(mut sock: TcpStream, reply: Reply, lines: &AtomicU64, stop: &AtomicBool) {
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let n = match sock.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        let k = buf[..n].iter().filter(|&&b| b == b'\n').count();
        lines.fetch_add(k as u64, Ordering::SeqCst);
        let mut out = Vec::new();
        for _ in 0..k {
            match reply {
                Reply::Value => out.extend_from_slice(b"$7\r\nvalue:1\r\n"),
                Reply::Error => out.extend_from_slice(b"-ERR unknown\r\n"),
                Reply::NoTerminator => out.extend_from_slice(b"+OK"),
                Reply::Huge => out.extend(std::iter::repeat_n(b'x', 256 * 1024)),
                Reply::Junk => out.extend_from_slice(b"\x00\xff\xfe\x01garbage"),
                Reply::ResetMidway => {
                    let _ = sock.write_all(b"$100\r\nabc");
                    std::thread::sleep(Duration::from_millis(5));
                    reset(&sock);
                    return;
                }
            }
        }
        if sock.write_all(&out).is_err() {
            return;
        }
    }
}

/// Closes with SO_LINGER 0, which sends a RST instead of a FIN.
fn reset(sock: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = sock.shutdown(std::net::Shutdown::Both);
}

fn get() -> TcpRequestSpec {
    TcpRequestSpec {
        send: r"GET key:{rand}\r\n".into(),
        framing: Framing::Resp,
        expect: Expect {
            contains: Some("value:".into()),
            ..Expect::default()
        },
        weight: 1,
    }
}

fn config(port: u16, mode: Mode, secs: f64, timeout_ms: u64) -> Config {
    let mut c = Config::new(port, mode);
    c.duration = Duration::from_secs_f64(secs);
    c.connections = 2;
    c.timeout = Duration::from_millis(timeout_ms);
    c.tcp = Some(TcpConfig {
        requests: vec![get()],
        max_reply_bytes: 64 * 1024,
    });
    c
}

fn show(name: &str, r: &LoadResult) {
    eprintln!("[{name}] {}", r.summary());
}

#[test]
fn open_loop_resp_round_trip() {
    let _g = serial();
    let server = LineServer::start(Reply::Value);
    let r = runtime()
        .block_on(run(config(
            server.port,
            Mode::Open { rate_per_s: 500.0 },
            1.0,
            500,
        )))
        .unwrap();
    show("resp open", &r);
    assert_eq!(r.protocol, "tcp");
    assert_eq!(r.requests_sent, 500);
    assert_eq!(r.ok, 500);
    assert_eq!(r.error_count(), 0);
    assert_eq!(r.bytes_received, 500 * 13);
    assert!(r.latency_valid());
    assert_eq!(r.latency.count, 500);
    assert_eq!(server.lines.load(Ordering::SeqCst), 500);
}

#[test]
fn closed_loop_pipelining_is_recorded_and_counts_every_reply() {
    let _g = serial();
    let server = LineServer::start(Reply::Value);
    let mut c = config(server.port, Mode::Closed, 0.5, 500);
    c.pipeline = 8;
    let r = runtime().block_on(run(c)).unwrap();
    show("resp pipelined", &r);
    assert_eq!(r.pipeline, 8);
    assert!(r.ok > 1000, "{}", r.summary());
    assert_eq!(r.error_count(), 0);
    assert_eq!(r.ok % 8, 0, "whole batches: {}", r.ok);
    // Every line the server saw was answered and counted (warm-up is 0).
    assert_eq!(server.lines.load(Ordering::SeqCst), r.ok);
    assert!(r.summary().contains("pipeline 8"));
}

#[test]
fn error_replies_are_mismatches_not_latency() {
    let _g = serial();
    let server = LineServer::start(Reply::Error);
    let r = runtime()
        .block_on(run(config(
            server.port,
            Mode::Open { rate_per_s: 200.0 },
            0.5,
            500,
        )))
        .unwrap();
    show("error replies", &r);
    assert_eq!(r.requests_sent, 100);
    assert_eq!(r.mismatches, 100);
    assert_eq!(r.ok, 0);
    assert_eq!(r.latency.count, 0, "mismatches are not latency");
    assert!(!r.latency_valid());
    assert_eq!(r.connect_errors, 0, "a framed reply keeps the connection");
}

#[test]
fn a_terminator_that_never_comes_times_out_at_the_timeout() {
    let _g = serial();
    let server = LineServer::start(Reply::NoTerminator);
    let mut c = config(server.port, Mode::Closed, 1.0, 200);
    c.tcp.as_mut().unwrap().requests[0].framing = Framing::Terminator(r"\r\n".into());
    let r = runtime().block_on(run(c)).unwrap();
    show("no terminator", &r);
    assert!(r.timeouts >= 6, "2 connections x ~5: {}", r.summary());
    assert_eq!(r.timeouts, r.requests_sent);
    assert_eq!(r.ok, 0);
    assert_eq!(r.latency.count, r.timeouts);
    assert!(
        (199_700..=200_300).contains(&r.latency.min_us),
        "{:?}",
        r.latency
    );
    assert!(
        (199_700..=200_300).contains(&r.latency.max_us),
        "{:?}",
        r.latency
    );
    assert!(r.wall_s < 1.0 + 0.2 + 1.0, "no hang: {}", r.wall_s);
}

#[test]
fn misbehaving_servers_are_counted_and_the_lane_goes_on() {
    let _g = serial();
    let rt = runtime();
    for (reply, what) in [
        (Reply::Huge, "reply over the limit"),
        (Reply::Junk, "binary junk"),
        (Reply::ResetMidway, "reset mid-reply"),
    ] {
        let server = LineServer::start(reply);
        let mut c = config(server.port, Mode::Open { rate_per_s: 100.0 }, 1.0, 500);
        if matches!(reply, Reply::Huge) {
            // A terminator framing would accept anything: only the limit
            // stops it.
            c.tcp.as_mut().unwrap().requests[0].framing = Framing::Terminator(r"\r\n".into());
        }
        let r = rt.block_on(run(c)).unwrap();
        show(what, &r);
        assert_eq!(r.ok, 0, "{what}");
        assert_eq!(r.requests_sent + r.dropped, 100, "{what}: all accounted");
        assert!(
            r.requests_sent >= 90,
            "{what}: the lane went on: {}",
            r.summary()
        );
        let counted = match reply {
            Reply::ResetMidway => r.io_errors,
            _ => r.protocol_errors,
        };
        assert_eq!(counted, r.requests_sent, "{what}: {}", r.summary());
        assert_eq!(r.timeouts, 0, "{what}: no hang");
        assert!(r.wall_s < 2.0, "{what}: no hang: {}", r.wall_s);
        assert_eq!(r.latency.count, r.dropped, "{what}: errors are not latency");
        if let Some(kib) = r.peak_rss_kib {
            // Bounded buffers: nowhere near the 25 MiB of junk the Huge
            // server sends over the run.
            assert!(kib < 200 * 1024, "{what}: peak RSS {kib} KiB");
        }
    }
}

#[test]
fn bad_templates_are_refused_with_the_field() {
    let mut c = config(1, Mode::Closed, 1.0, 200);
    c.tcp.as_mut().unwrap().requests[0].send = r"GET \q".into();
    let e = format!("{:#}", c.validate().unwrap_err());
    assert!(
        e.contains("requests[0].send") && e.contains("escape"),
        "{e}"
    );
    let mut c = config(1, Mode::Open { rate_per_s: 10.0 }, 1.0, 200);
    c.pipeline = 4;
    let e = format!("{:#}", c.validate().unwrap_err());
    assert!(e.contains("closed loop"), "{e}");
    let mut c = config(1, Mode::Closed, 1.0, 200);
    c.tcp.as_mut().unwrap().requests[0].framing = Framing::Length {
        bytes: 3,
        big_endian: true,
    };
    assert!(format!("{:#}", c.validate().unwrap_err()).contains("1, 2 or 4"));
}
