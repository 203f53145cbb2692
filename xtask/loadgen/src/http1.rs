//! A lean HTTP/1.1 client connection for the generator: one request in
//! flight, the request rendered into a reused buffer, the response parsed
//! in place from a reused, bounded read buffer, all in the worker's own
//! task. hyper's client (a driver task per connection, a channel per
//! request, a header map per response) cost ~1.3× wrk's CPU per request
//! here; the generator only needs the status, where the body ends and
//! whether the server keeps the connection.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::deadline::Deadline;

/// Largest response head accepted; a longer one is a protocol error.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// How a response's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLen {
    /// No body (HEAD, 1xx, 204, 304, or Content-Length: 0).
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes (no length, not chunked).
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub code: u16,
    /// Bytes of the status line and headers, final blank line included.
    pub len: usize,
    pub body: BodyLen,
    /// The server closes after this response.
    pub close: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

/// SIMD search (memchr): a byte-by-byte scan for a line's end once took a
/// third of the generator's instructions per request.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e.max(s)]
}

fn contains_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&c| c == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// Most response headers accepted; more is a protocol error.
const MAX_HEADERS: usize = 64;

/// Parses a response head at the start of `buf`: `Ok(None)` while it is
/// incomplete. `head_request`: the request was HEAD (no body follows).
/// The status line and header tokens are httparse's (hyper's own parser,
/// already in the build): only what the generator needs is read from them.
pub(crate) fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<Head>, Invalid> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => len,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Ok(None),
        _ => return Err(Invalid),
    };
    let code = response.code.ok_or(Invalid)?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = response.version == Some(0);
    for h in response.headers.iter() {
        let value = trim(h.value);
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(value).map_err(|_| Invalid)?;
            let n: u64 = v.parse().map_err(|_| Invalid)?;
            if length.is_some_and(|l| l != n) {
                return Err(Invalid);
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = contains_token(value, b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            if contains_token(value, b"close") {
                close = true;
            } else if contains_token(value, b"keep-alive") {
                close = false;
            }
        }
    }
    let body = if head_request || (100..200).contains(&code) || code == 204 || code == 304 {
        BodyLen::Empty
    } else if chunked {
        BodyLen::Chunked
    } else {
        match length {
            Some(0) => BodyLen::Empty,
            Some(n) => BodyLen::Length(n),
            // The body runs until the server closes.
            None => {
                close = true;
                BodyLen::UntilClose
            }
        }
    };
    Ok(Some(Head {
        code,
        len,
        body,
        close,
    }))
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunked {
    /// Before a size line.
    Size,
    /// Inside a chunk: data bytes left, then its CRLF.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// After the last (zero) chunk: trailer lines until a blank one.
    Trailers,
    Done,
}

impl Chunked {
    /// Consumes what it can of `buf`: (bytes consumed, body data bytes in
    /// them). Stops at an incomplete line, leaving it in `buf`.
    pub(crate) fn feed(&mut self, buf: &[u8]) -> Result<(usize, u64), Invalid> {
        let mut pos = 0;
        let mut data = 0u64;
        loop {
            match *self {
                Chunked::Done => return Ok((pos, data)),
                Chunked::Data(left) => {
                    let take = left.min((buf.len() - pos) as u64);
                    pos += take as usize;
                    data += take;
                    if take < left {
                        *self = Chunked::Data(left - take);
                        return Ok((pos, data));
                    }
                    *self = Chunked::DataEnd;
                }
                Chunked::DataEnd => {
                    if buf.len() - pos < 2 {
                        return Ok((pos, data));
                    }
                    if &buf[pos..pos + 2] != b"\r\n" {
                        return Err(Invalid);
                    }
                    pos += 2;
                    *self = Chunked::Size;
                }
                Chunked::Size => match httparse::parse_chunk_size(&buf[pos..]) {
                    Ok(httparse::Status::Complete((used, n))) => {
                        pos += used;
                        *self = if n == 0 {
                            Chunked::Trailers
                        } else {
                            Chunked::Data(n)
                        };
                    }
                    Ok(httparse::Status::Partial) if buf.len() - pos <= MAX_LINE => {
                        return Ok((pos, data))
                    }
                    _ => return Err(Invalid),
                },
                Chunked::Trailers => {
                    let Some(nl) = find(&buf[pos..], b"\r\n") else {
                        if buf.len() - pos > MAX_LINE {
                            return Err(Invalid);
                        }
                        return Ok((pos, data));
                    };
                    pos += nl + 2;
                    if nl == 0 {
                        *self = Chunked::Done;
                    }
                }
            }
        }
    }
}

/// What one exchange came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpOutcome {
    Status {
        code: u16,
        bytes: u64,
    },
    /// A response that cannot be parsed (the connection is closed).
    Protocol,
    Io,
    Timeout,
}

/// One keep-alive HTTP/1.1 connection with its reused buffers.
pub(crate) struct Http1Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pub(crate) out: Vec<u8>,
    deadline: Deadline,
    /// The server closed, or will; or an exchange failed.
    pub(crate) broken: bool,
}

impl Http1Conn {
    pub(crate) async fn open(addr: SocketAddr, timeout: Duration) -> Result<Http1Conn> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .context("connect timed out")??;
        stream.set_nodelay(true)?;
        Ok(Http1Conn {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            out: Vec::with_capacity(256),
            deadline: Deadline::new(),
            broken: false,
        })
    }

    /// Reads what has come, by the exchange's deadline.
    async fn read_more(&mut self) -> Result<usize, HttpOutcome> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(READ_CHUNK);
        }
        match self
            .deadline
            .within(self.stream.read_buf(&mut self.buf))
            .await
        {
            Some(Ok(n)) => Ok(n),
            Some(Err(_)) => Err(HttpOutcome::Io),
            None => Err(HttpOutcome::Timeout),
        }
    }

    /// Sends the request in `self.out` and reads its response by `deadline`.
    pub(crate) async fn exchange(&mut self, head_request: bool, deadline: Instant) -> HttpOutcome {
        self.deadline.set(deadline);
        let o = self.exchange_inner(head_request).await;
        if !matches!(o, HttpOutcome::Status { .. }) {
            self.broken = true;
        }
        o
    }

    async fn exchange_inner(&mut self, head_request: bool) -> HttpOutcome {
        if !self.buf.is_empty() {
            // Bytes nobody asked for arrived while idle.
            return HttpOutcome::Protocol;
        }
        match self.deadline.within(self.stream.write_all(&self.out)).await {
            Some(Ok(())) => {}
            Some(Err(_)) => return HttpOutcome::Io,
            None => return HttpOutcome::Timeout,
        }
        // The head (1xx interim responses skipped).
        let head = loop {
            match parse_head(&self.buf, head_request) {
                Ok(Some(h)) if (100..200).contains(&h.code) => {
                    self.buf.drain(..h.len);
                }
                Ok(Some(h)) => break h,
                Ok(None) => match self.read_more().await {
                    Ok(0) => return HttpOutcome::Io,
                    Ok(_) => {}
                    Err(o) => return o,
                },
                Err(Invalid) => return HttpOutcome::Protocol,
            }
        };
        self.buf.drain(..head.len);
        // The body: counted and discarded as it comes, never held whole.
        let mut bytes = 0u64;
        match head.body {
            BodyLen::Empty => {}
            BodyLen::Length(n) => loop {
                let take = (n - bytes).min(self.buf.len() as u64) as usize;
                self.buf.drain(..take);
                bytes += take as u64;
                if bytes == n {
                    break;
                }
                match self.read_more().await {
                    Ok(0) => return HttpOutcome::Io,
                    Ok(_) => {}
                    Err(o) => return o,
                }
            },
            BodyLen::Chunked => {
                let mut dec = Chunked::Size;
                loop {
                    match dec.feed(&self.buf) {
                        Ok((used, data)) => {
                            self.buf.drain(..used);
                            bytes += data;
                        }
                        Err(Invalid) => return HttpOutcome::Protocol,
                    }
                    if dec == Chunked::Done {
                        break;
                    }
                    match self.read_more().await {
                        Ok(0) => return HttpOutcome::Io,
                        Ok(_) => {}
                        Err(o) => return o,
                    }
                }
            }
            BodyLen::UntilClose => loop {
                bytes += self.buf.len() as u64;
                self.buf.clear();
                match self.read_more().await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(o) => return o,
                }
            },
        }
        if head.close {
            self.broken = true;
        } else if !self.buf.is_empty() {
            // More than one response to one request: framing is lost.
            return HttpOutcome::Protocol;
        }
        HttpOutcome::Status {
            code: head.code,
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<Option<Head>, Invalid> {
        parse_head(s.as_bytes(), false)
    }

    #[test]
    fn heads_and_where_bodies_end() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!((h.code, h.body, h.close), (200, BodyLen::Length(12), false));
        assert_eq!(h.len, 39);
        let h = head("HTTP/1.1 404 Not Found\r\ncontent-length:0\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.code, h.body, h.close), (404, BodyLen::Empty, true));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyLen::Chunked);
        let h = head("HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.body, h.close), (BodyLen::UntilClose, true));
        let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.body, h.close), (BodyLen::Length(3), false));
        let h = head("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyLen::Empty);
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyLen::Empty, "a HEAD response has no body");
        assert_eq!(head("HTTP/1.1 200 OK\r\nContent-Le"), Ok(None));
    }

    #[test]
    fn junk_is_invalid() {
        for bad in [
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 2x0 OK\r\n\r\n",
            "HTTP/1.1 200OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ] {
            assert_eq!(head(bad), Err(Invalid), "{bad:?}");
        }
        let long = vec![b'a'; MAX_HEAD + 1];
        assert_eq!(
            parse_head(&long, false),
            Err(Invalid),
            "no end of head within the limit"
        );
    }

    #[test]
    fn chunked_bodies_in_pieces() {
        let body = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n";
        // Whole, and fed one byte more at a time.
        let mut d = Chunked::Size;
        assert_eq!(d.feed(body), Ok((body.len(), 8)));
        assert_eq!(d, Chunked::Done);
        let mut d = Chunked::Size;
        let (mut pos, mut data) = (0, 0);
        for end in 1..=body.len() {
            let (used, n) = d.feed(&body[pos..end]).unwrap();
            pos += used;
            data += n;
        }
        assert_eq!((pos, data, d), (body.len(), 8, Chunked::Done));
        assert_eq!(Chunked::Size.feed(b"zz\r\n"), Err(Invalid));
        assert_eq!(
            Chunked::Data(0).feed(b"xx"),
            Err(Invalid),
            "data must end in CRLF"
        );
    }
}
