//! runcost's own HTTP/1.1 client against a raw server on 127.0.0.1 started
//! here, which answers every request in one scripted way: chunked bodies,
//! bodies that end at the close, junk, a reset mid-body. Errors are counted
//! (never latency) and the run ends on time. About a second per case.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{runtime, serial};
use runcost_loadgen::{run, Config, LoadResult, Mode, RequestSpec};

#[derive(Clone, Copy, Debug)]
enum Answer {
    /// `hello world` in three chunks and a trailer.
    Chunked,
    /// HTTP/1.0 without a length: the body ends when the server closes.
    UntilClose,
    /// Not HTTP.
    Junk,
    /// Content-Length 100, 10 bytes, then the connection closes.
    ResetMidway,
}

struct RawServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut s: TcpStream, a: Answer, stop: Arc<AtomicBool>) {
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let n = match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(_) => continue,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let reply: &[u8] = match a {
                Answer::Chunked => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n \r\n5;x=y\r\nworld\r\n0\r\nX-T: 1\r\n\r\n",
                Answer::UntilClose => b"HTTP/1.0 200 OK\r\n\r\nuntil close",
                Answer::Junk => b"\x00\x01\x02 junk junk\r\n\r\n",
                Answer::ResetMidway => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
            };
            if s.write_all(reply).is_err() {
                return;
            }
            if matches!(a, Answer::UntilClose | Answer::ResetMidway | Answer::Junk) {
                return;
            }
        }
    }
}

impl RawServer {
    fn start(a: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = stream {
                    let s = s.clone();
                    conns.push(std::thread::spawn(move || serve(c, a, s)));
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        RawServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

fn closed(a: Answer) -> LoadResult {
    let server = RawServer::start(a);
    let mut cfg = Config::new(server.port, Mode::Closed);
    cfg.connections = 2;
    cfg.duration = Duration::from_millis(800);
    cfg.warmup = Duration::ZERO;
    cfg.timeout = Duration::from_millis(500);
    cfg.mix = vec![RequestSpec::get("/x")];
    let t = std::time::Instant::now();
    let r = runtime().block_on(run(cfg)).unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "bounded: {:?}",
        t.elapsed()
    );
    r
}

#[test]
fn chunked_bodies_are_read_to_their_end_on_a_kept_connection() {
    let _g = serial();
    let r = closed(Answer::Chunked);
    assert!(r.ok > 10, "{}", r.summary());
    assert_eq!(r.error_count(), 0, "{}", r.summary());
    assert_eq!(
        r.bytes_received,
        r.ok * 11,
        "body bytes only: {}",
        r.summary()
    );
}

#[test]
fn a_body_that_ends_at_the_close_is_a_success_then_a_new_connection() {
    let _g = serial();
    let r = closed(Answer::UntilClose);
    assert!(r.ok > 10, "{}", r.summary());
    assert_eq!(r.error_count(), 0, "{}", r.summary());
    assert_eq!(r.bytes_received, r.ok * 11);
}

#[test]
fn junk_and_a_reset_mid_body_are_errors_not_latency() {
    let _g = serial();
    let r = closed(Answer::Junk);
    assert_eq!(r.ok, 0, "{}", r.summary());
    assert!(r.protocol_errors > 0, "{}", r.summary());
    assert!(!r.latency_valid);
    let r = closed(Answer::ResetMidway);
    assert_eq!(r.ok, 0, "{}", r.summary());
    assert!(r.io_errors > 0, "{}", r.summary());
    assert_eq!(r.latency.count, 0, "{}", r.summary());
}
