//! The TCP sink of the throughput lane, run in the box (`boxagent --sink`):
//! it accepts connections one after another, reads each until the host
//! shuts down its writing half, and answers on the same connection with
//! the number of bytes it received as one decimal line. The host times
//! first byte written → answer read, so the rate is what the box received,
//! and checks the count against what it sent. Shared by the agent and the
//! harness, so both ends agree on the answer's form.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

/// The sink's read buffer: large, so the box's syscall count is not what
/// bounds a loopback rate.
const READ_BUF: usize = 256 << 10;

/// The answer for `count` received bytes.
pub fn answer(count: u64) -> String {
    format!("{count}\n")
}

/// The count in an answer: one decimal line and nothing else.
pub fn parse_answer(bytes: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(bytes).ok()?;
    let s = s.strip_suffix('\n')?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Reads `conn` to EOF and answers with the count; returns it.
pub fn serve_one(mut conn: TcpStream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; READ_BUF];
    let mut count = 0u64;
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => count += n as u64,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    conn.write_all(answer(count).as_bytes())?;
    conn.flush()?;
    // Our side done: the host's read of the answer ends at EOF.
    let _ = conn.shutdown(std::net::Shutdown::Write);
    Ok(count)
}

/// Serves `n` connections in turn; their counts.
pub fn serve(listener: &TcpListener, n: u32) -> std::io::Result<Vec<u64>> {
    let mut counts = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (conn, _) = listener.accept()?;
        counts.push(serve_one(conn)?);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_back_and_nothing_else_does() {
        for c in [0, 1, 8 << 20, u64::MAX] {
            assert_eq!(parse_answer(answer(c).as_bytes()), Some(c));
        }
        for bad in [
            "",
            "\n",
            "12",
            "12\n\n",
            "-1\n",
            "1 2\n",
            "x\n",
            "99999999999999999999\n",
        ] {
            assert_eq!(parse_answer(bad.as_bytes()), None, "{bad:?}");
        }
    }

    /// A real sink on loopback: each connection's bytes are counted and
    /// answered on the connection, in turn.
    #[test]
    fn counts_each_connection_until_the_host_shuts_down_writing() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let sink = std::thread::spawn(move || serve(&l, 3).unwrap());
        for len in [0usize, 1, 3 << 20] {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(&vec![0x5a; len]).unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).unwrap();
            assert_eq!(parse_answer(&got), Some(len as u64));
        }
        assert_eq!(sink.join().unwrap(), vec![0, 1, 3 << 20]);
    }
}
