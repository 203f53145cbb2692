//! The TCP request/response protocol: byte templates, reply framing, the
//! expected-reply check and one keep-alive connection.
//!
//! A request is bytes rendered from a template; its reply ends where its
//! [`Framing`] says. Every buffer is bounded by `max_reply_bytes`: a reply
//! that would not fit is a protocol error, never a bigger allocation.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use rand::distributions::{Distribution, WeightedIndex};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::deadline::Deadline;
use crate::mix::request_rng;

/// Where a reply ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// At the first occurrence of these bytes (escapes allowed, e.g.
    /// `"\r\n"`), which belong to the reply.
    Terminator(String),
    /// A binary length header of `bytes` (1, 2 or 4) bytes, then that many
    /// payload bytes.
    Length { bytes: u8, big_endian: bool },
    /// One complete RESP2/RESP3 value (redis), nested aggregates included.
    Resp,
    /// One memcached text-protocol reply: `VALUE` blocks up to `END`, or one
    /// status line (`STORED`, `NOT_FOUND`, `DELETED`, a number, errors...).
    Memcached,
}

/// What a reply must look like to count as a success; every given part
/// must hold. Strings take the template escapes. Besides these, a RESP error
/// (`-`, `!`) and a memcached `ERROR`/`CLIENT_ERROR`/`SERVER_ERROR` reply are
/// always mismatches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub exact: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub contains: Option<String>,
}

/// One entry of a TCP request mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpRequestSpec {
    /// Bytes to send: escapes `\r \n \t \0 \\ \xHH`, placeholders `{rand}`
    /// and `{seq}` (as in HTTP paths), `{{` and `}}` for literal braces.
    pub send: String,
    pub framing: Framing,
    #[serde(default)]
    pub expect: Expect,
    /// Relative weight, > 0.
    pub weight: u32,
}

/// The TCP side of a [`crate::Config`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpConfig {
    pub requests: Vec<TcpRequestSpec>,
    /// Largest reply accepted; a longer one is a protocol error and closes
    /// the connection. Also the bound of every receive buffer.
    pub max_reply_bytes: usize,
}

/// Upper bound for `max_reply_bytes`.
pub const MAX_REPLY_LIMIT: usize = 64 << 20;

// ---------------------------------------------------------------------------
// Templates

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Lit(Vec<u8>),
    Rand,
    Seq,
}

/// Decodes the escapes of a plain byte string (no placeholders).
pub fn unescape(s: &str) -> Result<Vec<u8>> {
    let segs = parse(s, false)?;
    Ok(segs
        .into_iter()
        .flat_map(|g| match g {
            Seg::Lit(b) => b,
            _ => Vec::new(),
        })
        .collect())
}

/// Checks a send template; the error says what is wrong and how to fix it.
pub fn check_template(s: &str) -> Result<()> {
    parse(s, true).map(|_| ())
}

pub(crate) fn parse(s: &str, placeholders: bool) -> Result<Vec<Seg>> {
    let mut out = Vec::new();
    let mut lit = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let Some(&c) = b.get(i + 1) else {
                    bail!("ends in a lone `\\`; write `\\\\` for a backslash");
                };
                i += 2;
                match c {
                    b'r' => lit.push(b'\r'),
                    b'n' => lit.push(b'\n'),
                    b't' => lit.push(b'\t'),
                    b'0' => lit.push(0),
                    b'\\' => lit.push(b'\\'),
                    b'x' => {
                        let hex = b.get(i..i + 2).and_then(|h| std::str::from_utf8(h).ok());
                        let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
                            bail!("`\\x` at byte {} needs two hex digits, e.g. `\\x0d`", i - 2);
                        };
                        lit.push(v);
                        i += 2;
                    }
                    other => bail!(
                        "unknown escape `\\{}` at byte {}; the escapes are \\r \\n \\t \\0 \\\\ \\xHH",
                        char::from(other).escape_default(),
                        i - 2
                    ),
                }
            }
            b'{' if placeholders => {
                let rest = &s[i..];
                let seg = if rest.starts_with("{{") {
                    lit.push(b'{');
                    i += 2;
                    continue;
                } else if rest.starts_with("{rand}") {
                    i += 6;
                    Seg::Rand
                } else if rest.starts_with("{seq}") {
                    i += 5;
                    Seg::Seq
                } else {
                    bail!(
                        "unknown placeholder at byte {i}; the placeholders are {{rand}} and {{seq}}, and `{{{{` is a literal `{{`"
                    );
                };
                if !lit.is_empty() {
                    out.push(Seg::Lit(std::mem::take(&mut lit)));
                }
                out.push(seg);
            }
            b'}' if placeholders && s[i..].starts_with("}}") => {
                lit.push(b'}');
                i += 2;
            }
            c => {
                lit.push(c);
                i += 1;
            }
        }
    }
    if !lit.is_empty() {
        out.push(Seg::Lit(lit));
    }
    Ok(out)
}

struct Entry {
    segs: Vec<Seg>,
    framing: Frame,
    expect: CompiledExpect,
}

/// Framing with its escapes decoded.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    Terminator(Vec<u8>),
    Length { bytes: u8, big_endian: bool },
    Resp,
    Memcached,
}

#[derive(Debug, Clone, Default)]
struct CompiledExpect {
    exact: Option<Vec<u8>>,
    prefix: Option<Vec<u8>>,
    contains: Option<Vec<u8>>,
}

/// A validated TCP mix; like [`crate::RequestMix`], request `seq` is a pure
/// function of `(seed, seq)`.
pub(crate) struct TcpMix {
    entries: Vec<Entry>,
    weights: WeightedIndex<u32>,
    rand_max: u64,
    seed: u64,
    pub(crate) max_reply: usize,
}

impl TcpMix {
    pub(crate) fn new(cfg: &TcpConfig, rand_max: u64, seed: u64) -> Result<Self> {
        ensure!(!cfg.requests.is_empty(), "the TCP request mix is empty");
        ensure!(
            (1..=MAX_REPLY_LIMIT).contains(&cfg.max_reply_bytes),
            "max_reply_bytes must be in 1..={MAX_REPLY_LIMIT} (got {})",
            cfg.max_reply_bytes
        );
        let mut entries = Vec::new();
        for (i, r) in cfg.requests.iter().enumerate() {
            ensure!(r.weight > 0, "requests[{i}]: weight must be > 0");
            let segs = parse(&r.send, true).with_context(|| format!("requests[{i}].send"))?;
            ensure!(!segs.is_empty(), "requests[{i}].send: sends nothing");
            if segs.contains(&Seg::Rand) {
                ensure!(
                    rand_max >= 1,
                    "requests[{i}].send uses {{rand}} but rand_max is 0"
                );
            }
            let field = |name: &str, v: &Option<String>| -> Result<Option<Vec<u8>>> {
                v.as_deref()
                    .map(unescape)
                    .transpose()
                    .with_context(|| format!("requests[{i}].expect.{name}"))
            };
            let framing = match &r.framing {
                Framing::Terminator(t) => {
                    let t = unescape(t).with_context(|| format!("requests[{i}].terminator"))?;
                    ensure!(!t.is_empty(), "requests[{i}].terminator is empty");
                    Frame::Terminator(t)
                }
                Framing::Length { bytes, big_endian } => {
                    ensure!(
                        matches!(bytes, 1 | 2 | 4),
                        "requests[{i}].length: bytes must be 1, 2 or 4 (got {bytes})"
                    );
                    Frame::Length {
                        bytes: *bytes,
                        big_endian: *big_endian,
                    }
                }
                Framing::Resp => Frame::Resp,
                Framing::Memcached => Frame::Memcached,
            };
            entries.push(Entry {
                segs,
                framing,
                expect: CompiledExpect {
                    exact: field("exact", &r.expect.exact)?,
                    prefix: field("prefix", &r.expect.prefix)?,
                    contains: field("contains", &r.expect.contains)?,
                },
            });
        }
        let weights = WeightedIndex::new(cfg.requests.iter().map(|r| r.weight))
            .context("mix weights (their sum must fit in u32)")?;
        Ok(TcpMix {
            entries,
            weights,
            rand_max,
            seed,
            max_reply: cfg.max_reply_bytes,
        })
    }

    /// Appends request `seq` to `out`; returns its entry index.
    pub(crate) fn render(&self, seq: u64, out: &mut Vec<u8>) -> usize {
        let mut rng = request_rng(self.seed, seq);
        let idx = self.weights.sample(&mut rng);
        let mut num = String::new();
        for seg in &self.entries[idx].segs {
            match seg {
                Seg::Lit(b) => out.extend_from_slice(b),
                Seg::Rand | Seg::Seq => {
                    num.clear();
                    let v = match seg {
                        Seg::Rand => rng.gen_range(0..self.rand_max),
                        _ => seq,
                    };
                    let _ = write!(num, "{v}");
                    out.extend_from_slice(num.as_bytes());
                }
            }
        }
        idx
    }
}

// ---------------------------------------------------------------------------
// Framing

/// Why a reply could not be framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Longer than `max_reply_bytes`.
    TooLarge,
    /// Not what the framing allows (binary junk, a bad length, ...).
    Junk(&'static str),
}

type Framed = std::result::Result<Option<usize>, FrameError>;

/// Length of the first complete reply in `buf`, `None` while incomplete.
pub(crate) fn frame(f: &Frame, buf: &[u8], max: usize) -> Framed {
    let r = match f {
        Frame::Terminator(t) => match find(buf, t) {
            Some(p) => Ok(Some(p + t.len())),
            None => Ok(None),
        },
        Frame::Length { bytes, big_endian } => {
            let h = usize::from(*bytes);
            if buf.len() < h {
                Ok(None)
            } else {
                let mut n = 0usize;
                for k in 0..h {
                    let byte = if *big_endian { buf[k] } else { buf[h - 1 - k] };
                    n = (n << 8) | usize::from(byte);
                }
                if h + n > max {
                    Err(FrameError::TooLarge)
                } else if buf.len() >= h + n {
                    Ok(Some(h + n))
                } else {
                    Ok(None)
                }
            }
        }
        Frame::Resp => resp_value(buf, 0, max, 0),
        Frame::Memcached => memcached_reply(buf, max),
    };
    match r {
        Ok(Some(n)) if n > max => Err(FrameError::TooLarge),
        Ok(None) if buf.len() >= max => Err(FrameError::TooLarge),
        r => r,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return hay.iter().position(|&b| b == needle[0]);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// End of the CRLF-terminated line starting at `pos` (the index after LF).
fn line_end(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let rel = find(&buf[pos..], b"\r\n")?;
    Some((pos + rel, pos + rel + 2))
}

fn parse_int(b: &[u8]) -> std::result::Result<i64, FrameError> {
    let s = std::str::from_utf8(b).map_err(|_| FrameError::Junk("length is not ASCII"))?;
    s.parse::<i64>()
        .map_err(|_| FrameError::Junk("length is not a number"))
}

/// Nesting deeper than this is treated as junk (keeps the recursion bounded).
const RESP_MAX_DEPTH: usize = 32;

/// End of the RESP value at `pos`, `None` while incomplete.
fn resp_value(buf: &[u8], pos: usize, max: usize, depth: usize) -> Framed {
    if depth > RESP_MAX_DEPTH {
        return Err(FrameError::Junk("RESP nested too deep"));
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((le, next)) = line_end(buf, pos + 1) else {
        // A line longer than the limit never completes.
        return if buf.len() - pos > max {
            Err(FrameError::TooLarge)
        } else if !b"+-:$*_,#!=(%~>|".contains(&kind) {
            Err(FrameError::Junk("not a RESP type byte"))
        } else {
            Ok(None)
        };
    };
    let line = &buf[pos + 1..le];
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(next)),
        b'$' | b'!' | b'=' => {
            let n = parse_int(line)?;
            if n == -1 && kind == b'$' {
                return Ok(Some(next));
            }
            let n = usize::try_from(n).map_err(|_| FrameError::Junk("negative length"))?;
            if n > max {
                return Err(FrameError::TooLarge);
            }
            let end = next + n + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(FrameError::Junk("bulk string not followed by CRLF"));
            }
            Ok(Some(end))
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let n = parse_int(line)?;
            if n == -1 && kind == b'*' {
                return Ok(Some(next));
            }
            let n = usize::try_from(n).map_err(|_| FrameError::Junk("negative count"))?;
            let items = if matches!(kind, b'%' | b'|') {
                2 * n
            } else {
                n
            };
            // Every element takes at least 3 bytes.
            if items > max / 3 {
                return Err(FrameError::TooLarge);
            }
            let mut at = next;
            for _ in 0..items {
                match resp_value(buf, at, max, depth + 1)? {
                    Some(e) => at = e,
                    None => return Ok(None),
                }
            }
            if kind == b'|' {
                // An attribute map precedes the actual value.
                return resp_value(buf, at, max, depth + 1);
            }
            Ok(Some(at))
        }
        _ => Err(FrameError::Junk("not a RESP type byte")),
    }
}

const MEMCACHED_STATUS: [&[u8]; 8] = [
    b"STORED",
    b"NOT_STORED",
    b"EXISTS",
    b"NOT_FOUND",
    b"DELETED",
    b"TOUCHED",
    b"OK",
    b"ERROR",
];

fn memcached_reply(buf: &[u8], max: usize) -> Framed {
    let mut pos = 0;
    let mut first = true;
    loop {
        let Some((le, next)) = line_end(buf, pos) else {
            return if buf.len() - pos > max {
                Err(FrameError::TooLarge)
            } else if buf[pos..]
                .iter()
                .any(|&b| b != b'\r' && !(32..127).contains(&b))
            {
                Err(FrameError::Junk("memcached reply line is not text"))
            } else {
                Ok(None)
            };
        };
        let line = &buf[pos..le];
        if line == b"END" {
            return Ok(Some(next));
        }
        if let Some(rest) = line.strip_prefix(b"VALUE ") {
            // VALUE <key> <flags> <bytes> [<cas unique>]
            let mut f = rest.split(|&b| b == b' ');
            let n = f
                .nth(2)
                .ok_or(FrameError::Junk("VALUE line without a length"))?;
            let n = usize::try_from(parse_int(n)?)
                .map_err(|_| FrameError::Junk("negative VALUE length"))?;
            if n > max {
                return Err(FrameError::TooLarge);
            }
            let end = next + n + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(FrameError::Junk("VALUE data not followed by CRLF"));
            }
            pos = end;
            first = false;
            continue;
        }
        if line.starts_with(b"STAT ") {
            pos = next;
            first = false;
            continue;
        }
        let status = MEMCACHED_STATUS.contains(&line)
            || line.starts_with(b"CLIENT_ERROR")
            || line.starts_with(b"SERVER_ERROR")
            || line.starts_with(b"VERSION ")
            || (!line.is_empty() && line.iter().all(u8::is_ascii_digit));
        return if status && first {
            Ok(Some(next))
        } else {
            Err(FrameError::Junk("not a memcached reply line"))
        };
    }
}

/// Whether a framed reply is a success for `entry`.
fn reply_ok(f: &Frame, e: &CompiledExpect, reply: &[u8]) -> bool {
    let error = match f {
        Frame::Resp => matches!(reply.first(), Some(b'-' | b'!')),
        Frame::Memcached => {
            reply.starts_with(b"ERROR")
                || reply.starts_with(b"CLIENT_ERROR")
                || reply.starts_with(b"SERVER_ERROR")
        }
        _ => false,
    };
    !error
        && e.exact.as_deref().is_none_or(|x| reply == x)
        && e.prefix.as_deref().is_none_or(|p| reply.starts_with(p))
        && e.contains
            .as_deref()
            .is_none_or(|c| c.is_empty() || find(reply, c).is_some())
}

// ---------------------------------------------------------------------------
// Connection

/// How one request ended on a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpOutcome {
    /// Framed and as expected.
    Ok {
        bytes: u64,
    },
    /// Framed, but not as expected (the connection stays usable).
    Mismatch {
        bytes: u64,
    },
    /// Too large or not framable: the connection is closed.
    Protocol,
    /// Reset or closed mid-exchange.
    Io,
    Timeout,
}

/// One keep-alive TCP connection with its bounded receive buffer.
pub(crate) struct TcpConn {
    stream: TcpStream,
    buf: Vec<u8>,
    out: Vec<u8>,
    deadline: Deadline,
    /// Set when an exchange left the connection unusable.
    pub(crate) broken: bool,
}

const READ_CHUNK: usize = 16 * 1024;

impl TcpConn {
    pub(crate) async fn open(addr: SocketAddr, timeout: Duration) -> Result<TcpConn> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .context("connect timed out")??;
        stream.set_nodelay(true)?;
        Ok(TcpConn {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            out: Vec::with_capacity(256),
            deadline: Deadline::new(),
            broken: false,
        })
    }

    /// Sends `n` requests drawn from `mix` (sequence numbers `seq0..seq0+n`)
    /// in one write, then reads their `n` replies in order. Calls `done`
    /// with each outcome and the instant it was known; after the first
    /// failure the rest are reported with the same failure (Timeout, Io or
    /// Protocol), since their replies can no longer be told apart. Returns
    /// false when the connection must be dropped.
    pub(crate) async fn exchange(
        &mut self,
        mix: &TcpMix,
        seq0: u64,
        n: usize,
        deadline: Instant,
        mut done: impl FnMut(TcpOutcome, Instant),
    ) -> bool {
        self.out.clear();
        let mut kinds = [0usize; 64];
        debug_assert!(n <= kinds.len());
        for (k, slot) in kinds.iter_mut().enumerate().take(n) {
            *slot = mix.render(seq0 + k as u64, &mut self.out);
        }
        let mut failed: Option<TcpOutcome> = None;
        self.deadline.set(deadline);
        if !self.buf.is_empty() {
            // Bytes nobody asked for arrived while idle.
            failed = Some(TcpOutcome::Protocol);
        } else {
            match self.deadline.within(self.stream.write_all(&self.out)).await {
                Some(Ok(())) => {}
                Some(Err(_)) => failed = Some(TcpOutcome::Io),
                None => failed = Some(TcpOutcome::Timeout),
            }
        }
        let mut k = 0;
        while k < n && failed.is_none() {
            let entry = &mix.entries[kinds[k]];
            match frame(&entry.framing, &self.buf, mix.max_reply) {
                Ok(Some(len)) => {
                    let ok = reply_ok(&entry.framing, &entry.expect, &self.buf[..len]);
                    let bytes = len as u64;
                    self.buf.drain(..len);
                    let o = if ok {
                        TcpOutcome::Ok { bytes }
                    } else {
                        TcpOutcome::Mismatch { bytes }
                    };
                    done(o, Instant::now());
                    k += 1;
                    continue;
                }
                Ok(None) => {}
                Err(_) => {
                    failed = Some(TcpOutcome::Protocol);
                    break;
                }
            }
            // Never hold more than the limit plus one read.
            let room = (mix.max_reply + 1).saturating_sub(self.buf.len());
            self.buf.reserve(room.min(READ_CHUNK));
            let cap = self.buf.capacity() - self.buf.len();
            let mut limited = (&mut self.stream).take(cap.min(room.max(1)) as u64);
            match self.deadline.within(limited.read_buf(&mut self.buf)).await {
                Some(Ok(0)) | Some(Err(_)) => failed = Some(TcpOutcome::Io),
                Some(Ok(_)) => {}
                None => failed = Some(TcpOutcome::Timeout),
            }
        }
        if let Some(f) = failed {
            let at = Instant::now();
            for _ in k..n {
                done(f, at);
            }
            self.broken = true;
        } else if !self.buf.is_empty() {
            // More than was asked for: the replies cannot be trusted.
            self.broken = true;
        }
        !self.broken
    }
}

/// Largest pipelining depth.
pub const MAX_PIPELINE: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(f: &Frame, b: &[u8]) -> Framed {
        frame(f, b, 1000)
    }

    #[test]
    fn escapes_and_placeholders() {
        assert_eq!(unescape(r"a\r\n\t\0\\\x41").unwrap(), b"a\r\n\t\0\\A");
        assert_eq!(unescape("real\r\n").unwrap(), b"real\r\n");
        for bad in [r"\q", r"\x4", r"\xZZ", "x\\"] {
            assert!(unescape(bad).is_err(), "{bad}");
        }
        let s = parse("GET k:{rand} {{x}} {seq}", true).unwrap();
        assert_eq!(
            s,
            vec![
                Seg::Lit(b"GET k:".to_vec()),
                Seg::Rand,
                Seg::Lit(b" {x} ".to_vec()),
                Seg::Seq
            ]
        );
        let e = format!("{:#}", check_template("GET {key}").unwrap_err());
        assert!(e.contains("placeholder") && e.contains("{rand}"), "{e}");
    }

    #[test]
    fn terminator_and_length() {
        let t = Frame::Terminator(b"\r\n".to_vec());
        assert_eq!(fr(&t, b"+OK"), Ok(None));
        assert_eq!(fr(&t, b"+OK\r\nxx"), Ok(Some(5)));
        assert_eq!(frame(&t, &[b'x'; 10], 10), Err(FrameError::TooLarge));
        let l = Frame::Length {
            bytes: 2,
            big_endian: true,
        };
        assert_eq!(fr(&l, &[0]), Ok(None));
        assert_eq!(fr(&l, &[0, 3, 1, 2]), Ok(None));
        assert_eq!(fr(&l, &[0, 3, 1, 2, 3]), Ok(Some(5)));
        assert_eq!(fr(&l, &[0xff, 0xff]), Err(FrameError::TooLarge));
        let le = Frame::Length {
            bytes: 4,
            big_endian: false,
        };
        assert_eq!(fr(&le, &[2, 0, 0, 0, 9, 9]), Ok(Some(6)));
    }

    #[test]
    fn resp_values() {
        let r = Frame::Resp;
        assert_eq!(fr(&r, b"+OK\r\n"), Ok(Some(5)));
        assert_eq!(fr(&r, b"-ERR x\r\n"), Ok(Some(8)));
        assert_eq!(fr(&r, b"$5\r\nhel"), Ok(None));
        assert_eq!(fr(&r, b"$5\r\nhello\r\n"), Ok(Some(11)));
        assert_eq!(fr(&r, b"$-1\r\n"), Ok(Some(5)));
        assert_eq!(fr(&r, b"*2\r\n$1\r\na\r\n:7\r\n"), Ok(Some(15)));
        assert_eq!(fr(&r, b"*2\r\n$1\r\na\r\n"), Ok(None));
        assert_eq!(fr(&r, b"%1\r\n+a\r\n+b\r\n"), Ok(Some(12)));
        assert_eq!(
            fr(&r, b"$5\r\nhelloXY"),
            Err(FrameError::Junk("bulk string not followed by CRLF"))
        );
        assert!(matches!(fr(&r, b"\x00\x01\x02"), Err(FrameError::Junk(_))));
        assert!(matches!(fr(&r, b"$abc\r\n"), Err(FrameError::Junk(_))));
        assert_eq!(fr(&r, b"$99999\r\n"), Err(FrameError::TooLarge));
        assert_eq!(fr(&r, b"*999999\r\n"), Err(FrameError::TooLarge));
        let deep = "*1\r\n".repeat(40);
        assert!(matches!(fr(&r, deep.as_bytes()), Err(FrameError::Junk(_))));
        let e = CompiledExpect {
            contains: Some(b"value:".to_vec()),
            ..Default::default()
        };
        assert!(reply_ok(&r, &e, b"$7\r\nvalue:1\r\n"));
        assert!(!reply_ok(&r, &e, b"$-1\r\n"));
        assert!(!reply_ok(&r, &CompiledExpect::default(), b"-ERR\r\n"));
    }

    #[test]
    fn memcached_replies() {
        let m = Frame::Memcached;
        assert_eq!(fr(&m, b"STORED\r\n"), Ok(Some(8)));
        assert_eq!(fr(&m, b"END\r\n"), Ok(Some(5)));
        assert_eq!(fr(&m, b"VALUE k 0 3\r\nab"), Ok(None));
        assert_eq!(fr(&m, b"VALUE k 0 3\r\nEND\r\nEND\r\n"), Ok(Some(23)));
        assert_eq!(fr(&m, b"VALUE k 0 3\r\nabc\r\n"), Ok(None));
        assert!(matches!(fr(&m, b"HELLO\r\n"), Err(FrameError::Junk(_))));
        assert!(matches!(fr(&m, b"\xff\xfe"), Err(FrameError::Junk(_))));
        assert_eq!(fr(&m, b"VALUE k 0 5000\r\n"), Err(FrameError::TooLarge));
        assert!(!reply_ok(
            &m,
            &CompiledExpect::default(),
            b"SERVER_ERROR out of memory\r\n"
        ));
    }
}
