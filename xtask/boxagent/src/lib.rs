//! The box agent protocol: length-prefixed frames over a byte stream (a
//! serial port in the guest, a unix socket on the host). Pure encoding and
//! decoding, shared by the guest agent and the harness, so both ends are
//! one definition.
//!
//! A frame is `kind: u8`, `len: u32 LE`, then `len` payload bytes. Byte
//! strings inside a payload are `u32 LE` length + bytes. Before its first
//! frame the agent writes [`SYNC`]: the host discards anything before it
//! (a UART can deliver noise while the guest kernel probes it).

use std::fmt;

pub mod sink;

/// Written by the agent once, before [`Frame::Hello`].
pub const SYNC: &[u8] = b"\0\0RUNCOST-BOX-SYNC\0\0";
/// Protocol version carried in [`Frame::Hello`] (2: file transfer; 3: the
/// `--sink` mode and the virtio-net modules, so a guest built before them
/// is refused with the fix instead of failing the TCP part; 4: `--alloc`,
/// the resource lane's pressure step in a VM).
pub const VERSION: u32 = 4;
/// Largest payload either side accepts: a bound on memory, not a real limit
/// for the commands a benchmark runs.
pub const MAX_PAYLOAD: usize = 256 << 20;
/// Largest chunk of one [`Frame::Write`] or [`Frame::Read`]: a file moves
/// in bounded pieces, so neither side ever holds a whole file in one frame
/// (a 64 MiB copy into a 128 MiB guest must not need 64 MiB of buffer).
pub const MAX_CHUNK: usize = 1 << 20;
/// Exit code for a command that does not exist (as shells report it).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit code for a command that exists but cannot be executed.
pub const EXIT_CANNOT_EXEC: i32 = 126;

const K_EXEC: u8 = 0x01;
const K_SHUTDOWN: u8 = 0x02;
const K_WRITE: u8 = 0x03;
const K_READ: u8 = 0x04;
const K_HELLO: u8 = 0x81;
const K_DONE: u8 = 0x82;
const K_ERROR: u8 = 0x83;
const K_WROTE: u8 = 0x84;
const K_DATA: u8 = 0x85;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// host → guest: run `argv` (no shell), feed `stdin`, answer with `Done`.
    Exec { argv: Vec<Vec<u8>>, stdin: Vec<u8> },
    /// host → guest: sync disks and power off (the VM exits).
    Shutdown,
    /// host → guest: write `data` (at most [`MAX_CHUNK`]) into the file at
    /// `path` at `offset`; offset 0 creates or truncates it first. Answered
    /// by `Wrote` or `Error`.
    Write {
        path: Vec<u8>,
        offset: u64,
        data: Vec<u8>,
    },
    /// host → guest: read up to `len` (at most [`MAX_CHUNK`]) bytes of the
    /// file at `path` from `offset`. Answered by `Data` (short only at the
    /// end of the file) or `Error`.
    Read {
        path: Vec<u8>,
        offset: u64,
        len: u32,
    },
    /// guest → host: a `Write` landed; `len` bytes were written.
    Wrote { len: u32 },
    /// guest → host: the bytes a `Read` asked for.
    Data { data: Vec<u8> },
    /// guest → host: the agent is up. `uptime_ms` is the guest's
    /// /proc/uptime at that moment (kernel boot + init).
    Hello { version: u32, uptime_ms: u64 },
    /// guest → host: a command finished. `exit_code` is the process's code,
    /// or 128 + signal, or 127/126 when it could not be started.
    Done {
        exit_code: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
    /// guest → host: the request could not be understood.
    Error { message: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtoError {
    UnknownKind(u8),
    TooLarge(usize),
    /// The payload's declared contents do not fit its length.
    Malformed(&'static str),
    EmptyArgv,
    /// A write or read chunk over [`MAX_CHUNK`].
    ChunkTooLarge(usize),
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::UnknownKind(k) => write!(f, "unknown frame kind 0x{k:02x}"),
            ProtoError::TooLarge(n) => {
                write!(f, "frame of {n} bytes exceeds the {MAX_PAYLOAD}-byte limit")
            }
            ProtoError::Malformed(what) => write!(f, "malformed frame: {what}"),
            ProtoError::EmptyArgv => f.write_str("exec request with an empty argv"),
            ProtoError::ChunkTooLarge(n) => {
                write!(
                    f,
                    "file chunk of {n} bytes exceeds the {MAX_CHUNK}-byte limit"
                )
            }
        }
    }
}

impl std::error::Error for ProtoError {}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// The bytes of one frame.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let mut p = Vec::new();
    let kind = match frame {
        Frame::Exec { argv, stdin } => {
            p.extend_from_slice(&(argv.len() as u32).to_le_bytes());
            for a in argv {
                put_bytes(&mut p, a);
            }
            put_bytes(&mut p, stdin);
            K_EXEC
        }
        Frame::Shutdown => K_SHUTDOWN,
        Frame::Write { path, offset, data } => {
            put_bytes(&mut p, path);
            p.extend_from_slice(&offset.to_le_bytes());
            put_bytes(&mut p, data);
            K_WRITE
        }
        Frame::Read { path, offset, len } => {
            put_bytes(&mut p, path);
            p.extend_from_slice(&offset.to_le_bytes());
            p.extend_from_slice(&len.to_le_bytes());
            K_READ
        }
        Frame::Wrote { len } => {
            p.extend_from_slice(&len.to_le_bytes());
            K_WROTE
        }
        Frame::Data { data } => {
            put_bytes(&mut p, data);
            K_DATA
        }
        Frame::Hello { version, uptime_ms } => {
            p.extend_from_slice(&version.to_le_bytes());
            p.extend_from_slice(&uptime_ms.to_le_bytes());
            K_HELLO
        }
        Frame::Done {
            exit_code,
            stdout,
            stderr,
        } => {
            p.extend_from_slice(&exit_code.to_le_bytes());
            put_bytes(&mut p, stdout);
            put_bytes(&mut p, stderr);
            K_DONE
        }
        Frame::Error { message } => {
            put_bytes(&mut p, message.as_bytes());
            K_ERROR
        }
    };
    let mut out = Vec::with_capacity(5 + p.len());
    out.push(kind);
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&p);
    out
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtoError> {
        if self.b.len() < n {
            return Err(ProtoError::Malformed(what));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, ProtoError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, ProtoError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, ProtoError> {
        let n = self.u32(what)? as usize;
        Ok(self.take(n, what)?.to_vec())
    }
    fn end(&self) -> Result<(), ProtoError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::Malformed("trailing bytes"))
        }
    }
}

/// Decode one frame from the front of `buf`: `Ok(None)` when more bytes are
/// needed, else the frame and how many bytes it used. An unknown kind or an
/// oversized length is an error at once, before its payload arrives.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, ProtoError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let kind = buf[0];
    if ![
        K_EXEC, K_SHUTDOWN, K_WRITE, K_READ, K_HELLO, K_DONE, K_ERROR, K_WROTE, K_DATA,
    ]
    .contains(&kind)
    {
        return Err(ProtoError::UnknownKind(kind));
    }
    let len = u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(ProtoError::TooLarge(len));
    }
    if buf.len() < 5 + len {
        return Ok(None);
    }
    let mut r = Reader {
        b: &buf[5..5 + len],
    };
    let frame = match kind {
        K_EXEC => {
            let argc = r.u32("argc")? as usize;
            if argc == 0 {
                return Err(ProtoError::EmptyArgv);
            }
            // Each argument needs at least its 4-byte length.
            if argc > len / 4 {
                return Err(ProtoError::Malformed("argc larger than the payload"));
            }
            let mut argv = Vec::with_capacity(argc);
            for _ in 0..argc {
                argv.push(r.bytes("argument")?);
            }
            let stdin = r.bytes("stdin")?;
            Frame::Exec { argv, stdin }
        }
        K_SHUTDOWN => Frame::Shutdown,
        K_WRITE => {
            let path = r.bytes("path")?;
            let offset = r.u64("offset")?;
            let data = r.bytes("data")?;
            if data.len() > MAX_CHUNK {
                return Err(ProtoError::ChunkTooLarge(data.len()));
            }
            Frame::Write { path, offset, data }
        }
        K_READ => {
            let path = r.bytes("path")?;
            let offset = r.u64("offset")?;
            let len = r.u32("length")?;
            if len as usize > MAX_CHUNK {
                return Err(ProtoError::ChunkTooLarge(len as usize));
            }
            Frame::Read { path, offset, len }
        }
        K_WROTE => Frame::Wrote {
            len: r.u32("length")?,
        },
        K_DATA => {
            let data = r.bytes("data")?;
            if data.len() > MAX_CHUNK {
                return Err(ProtoError::ChunkTooLarge(data.len()));
            }
            Frame::Data { data }
        }
        K_HELLO => Frame::Hello {
            version: r.u32("version")?,
            uptime_ms: r.u64("uptime")?,
        },
        K_DONE => Frame::Done {
            exit_code: r.u32("exit code")? as i32,
            stdout: r.bytes("stdout")?,
            stderr: r.bytes("stderr")?,
        },
        K_ERROR => Frame::Error {
            message: String::from_utf8_lossy(&r.bytes("message")?).into_owned(),
        },
        _ => unreachable!("kinds checked above"),
    };
    r.end()?;
    Ok(Some((frame, 5 + len)))
}

/// Where the frames start: the index just past [`SYNC`] in `buf`, if present.
pub fn find_sync(buf: &[u8]) -> Option<usize> {
    buf.windows(SYNC.len())
        .position(|w| w == SYNC)
        .map(|i| i + SYNC.len())
}

/// The exit code a shell would report for a finished process: its code, or
/// 128 + the signal that killed it.
pub fn exit_code(code: Option<i32>, signal: Option<i32>) -> i32 {
    match (code, signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => EXIT_CANNOT_EXEC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(f: Frame) {
        let bytes = encode(&f);
        let (g, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!(g, f);
        assert_eq!(used, bytes.len());
        // Every strict prefix is "need more", never an error or a frame.
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]).unwrap(), None, "prefix {cut}");
        }
    }

    #[test]
    fn frames_roundtrip() {
        roundtrip(Frame::Exec {
            argv: vec![b"echo".to_vec(), b"a b".to_vec(), Vec::new()],
            stdin: b"in\0put".to_vec(),
        });
        roundtrip(Frame::Shutdown);
        roundtrip(Frame::Hello {
            version: VERSION,
            uptime_ms: 3600,
        });
        roundtrip(Frame::Done {
            exit_code: -1,
            stdout: vec![0xff; 70_000],
            stderr: b"err".to_vec(),
        });
        roundtrip(Frame::Error {
            message: "bad".into(),
        });
        roundtrip(Frame::Write {
            path: b"/dev/vda".to_vec(),
            offset: 3 << 20,
            data: vec![7; 1000],
        });
        roundtrip(Frame::Read {
            path: b"/dev/vda".to_vec(),
            offset: 1 << 40,
            len: MAX_CHUNK as u32,
        });
        roundtrip(Frame::Wrote { len: 1000 });
        roundtrip(Frame::Data { data: vec![1, 2] });
    }

    #[test]
    fn file_chunks_are_bounded() {
        let big = Frame::Write {
            path: b"/f".to_vec(),
            offset: 0,
            data: vec![0; MAX_CHUNK + 1],
        };
        assert_eq!(
            decode(&encode(&big)),
            Err(ProtoError::ChunkTooLarge(MAX_CHUNK + 1))
        );
        let ask = Frame::Read {
            path: b"/f".to_vec(),
            offset: 0,
            len: MAX_CHUNK as u32 + 1,
        };
        assert_eq!(
            decode(&encode(&ask)),
            Err(ProtoError::ChunkTooLarge(MAX_CHUNK + 1))
        );
        let data = Frame::Data {
            data: vec![0; MAX_CHUNK + 1],
        };
        assert_eq!(
            decode(&encode(&data)),
            Err(ProtoError::ChunkTooLarge(MAX_CHUNK + 1))
        );
        // A read whose length field is cut off is malformed, not a frame.
        assert_eq!(
            decode(&[K_READ, 6, 0, 0, 0, 1, 0, 0, 0, b'/', 0]),
            Err(ProtoError::Malformed("offset"))
        );
    }

    #[test]
    fn known_bytes() {
        // Pinned layout: a change here breaks guests built by an older setup.
        let b = encode(&Frame::Exec {
            argv: vec![b"id".to_vec()],
            stdin: Vec::new(),
        });
        assert_eq!(
            b,
            [1, 14, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'i', b'd', 0, 0, 0, 0]
        );
        assert_eq!(encode(&Frame::Shutdown), [2, 0, 0, 0, 0]);
    }

    #[test]
    fn two_frames_in_one_buffer() {
        let mut b = encode(&Frame::Shutdown);
        b.extend(encode(&Frame::Error {
            message: "x".into(),
        }));
        let (f, n) = decode(&b).unwrap().unwrap();
        assert_eq!(f, Frame::Shutdown);
        let (g, m) = decode(&b[n..]).unwrap().unwrap();
        assert_eq!(
            g,
            Frame::Error {
                message: "x".into()
            }
        );
        assert_eq!(n + m, b.len());
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(decode(&[9, 0, 0, 0, 0]), Err(ProtoError::UnknownKind(9)));
        let huge = ((MAX_PAYLOAD + 1) as u32).to_le_bytes();
        assert_eq!(
            decode(&[K_DONE, huge[0], huge[1], huge[2], huge[3]]),
            Err(ProtoError::TooLarge(MAX_PAYLOAD + 1))
        );
        assert_eq!(
            decode(&[K_EXEC, 4, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtoError::EmptyArgv)
        );
        // argc 1 but the argument's length runs past the payload.
        assert_eq!(
            decode(&[K_EXEC, 8, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0]),
            Err(ProtoError::Malformed("argument"))
        );
        // A shutdown with a payload has trailing bytes.
        assert_eq!(
            decode(&[K_SHUTDOWN, 1, 0, 0, 0, 7]),
            Err(ProtoError::Malformed("trailing bytes"))
        );
        // An absurd argc is refused before allocating for it.
        assert_eq!(
            decode(&[K_EXEC, 4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
            Err(ProtoError::Malformed("argc larger than the payload"))
        );
    }

    #[test]
    fn sync_is_found_after_noise() {
        let mut b = b"\xff\x00garbage".to_vec();
        b.extend_from_slice(SYNC);
        b.extend(encode(&Frame::Shutdown));
        let at = find_sync(&b).unwrap();
        assert_eq!(at, 9 + SYNC.len());
        assert_eq!(decode(&b[at..]).unwrap().unwrap().0, Frame::Shutdown);
        assert_eq!(find_sync(b"no sync here"), None);
        assert_eq!(find_sync(&SYNC[..SYNC.len() - 1]), None);
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(Some(3), None), 3);
        assert_eq!(exit_code(None, Some(9)), 137);
        assert_eq!(exit_code(None, None), EXIT_CANNOT_EXEC);
    }
}
