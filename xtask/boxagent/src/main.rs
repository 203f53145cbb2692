//! The box guest agent. As PID 1 of a VM's initramfs it mounts the pseudo
//! filesystems, puts the agent serial port in raw mode and then serves
//! [`Frame::Exec`] requests one at a time: argv (never a shell), stdin in,
//! exit code, stdout and stderr out. `--stdio` serves on stdin/stdout
//! instead, for tests on the host.

use runcost_boxagent::{decode, encode, exit_code, Frame, EXIT_CANNOT_EXEC, EXIT_NOT_FOUND};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

const DEFAULT_PORT: &str = "/dev/ttyS1";
/// Modules the initramfs may carry, in load order (dependencies first):
/// virtio-console over virtio-mmio, the fast transport on `-machine microvm`,
/// then virtio-blk for the scratch disk of the throughput lane.
/// Then virtio-net (with its failover dependencies) for the throughput
/// lane's NIC.
const MODULES: [&str; 8] = [
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "virtio_console",
    "virtio_blk",
    "failover",
    "net_failover",
    "virtio_net",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Helper modes for the snapshot lane, run in the box as background
    // processes (`/init --tick …`, `/init --hold …`), never as PID 1.
    match args.first().map(String::as_str) {
        Some("--tick") => std::process::exit(tick(&args[1..])),
        Some("--hold") => std::process::exit(hold(&args[1..])),
        Some("--sink") => std::process::exit(sink(&args[1..])),
        Some("--alloc") => std::process::exit(alloc(&args[1..])),
        Some("--now") => {
            // busybox `date` has no %N: the throughput lane times dd with this.
            let ns = monotonic_ns();
            println!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
            std::process::exit(0)
        }
        _ => {}
    }
    let stdio = args.iter().any(|a| a == "--stdio");
    let is_init = std::process::id() == 1;
    if is_init {
        init_system();
    }
    let result = if stdio {
        serve(std::io::stdin().lock(), std::io::stdout().lock(), false)
    } else {
        // The kernel hands unknown `KEY=value` words of its command line to
        // init as environment: the host picks the port with RUNCOST_PORT.
        let env_port = std::env::var("RUNCOST_PORT").ok();
        let port = args
            .iter()
            .find_map(|a| a.strip_prefix("--port="))
            .or(env_port.as_deref())
            .unwrap_or(DEFAULT_PORT);
        if is_init {
            load_modules();
        }
        let port = find_named_port(port, std::time::Duration::from_secs(10));
        let port = port.as_str();
        wait_for(port, std::time::Duration::from_secs(10));
        open_port_retrying(port, std::time::Duration::from_secs(10)).and_then(|f| {
            let w = f.try_clone()?;
            serve(f, w, is_init)
        })
    };
    if let Err(e) = result {
        eprintln!("boxagent: {e}");
        if is_init {
            // PID 1 must not exit (the kernel panics); power off instead,
            // which `-no-reboot` turns into a VMM exit the host sees.
            power_off();
        }
        std::process::exit(1);
    }
}

/// What a minimal init does before anything can run: /proc, /sys, /dev and
/// a PATH. Failures are reported, not fatal: a command that needs /proc
/// says so itself.
fn init_system() {
    for (src, dir, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
    ] {
        let _ = std::fs::create_dir_all(dir);
        let c = |s: &str| std::ffi::CString::new(s).expect("no NUL in a literal");
        let (s, d, t) = (c(src), c(dir), c(fstype));
        // SAFETY: valid NUL-terminated strings; a null data pointer is allowed.
        let rc = unsafe { libc::mount(s.as_ptr(), d.as_ptr(), t.as_ptr(), 0, std::ptr::null()) };
        if rc != 0 {
            eprintln!(
                "boxagent: mount {fstype} on {dir}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    std::env::set_var("PATH", "/bin:/sbin:/usr/bin:/usr/sbin");
    std::env::set_var("HOME", "/");
}

/// Loads the modules the initramfs carries under /lib/modules; absent ones
/// are skipped (a serial-only guest has none).
fn load_modules() {
    for m in MODULES {
        let path = format!("/lib/modules/{m}.ko");
        let Ok(f) = File::open(&path) else { continue };
        let params = std::ffi::CString::default();
        // SAFETY: a valid fd and an empty NUL-terminated parameter string.
        let rc =
            unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), params.as_ptr(), 0) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                eprintln!("boxagent: load {path}: {e}");
            }
        }
    }
}

/// The agent's virtio port by its name (`runcost.agent`): a port node is
/// numbered by the virtio device's global index (`vport<dev>p<port>`), so
/// another virtio device probed first (the throughput lane's virtio-blk
/// disk) renumbers it. A serial port (`/dev/ttyS*`) is taken as given.
fn find_named_port(given: &str, limit: std::time::Duration) -> String {
    if !given.starts_with("/dev/vport") {
        return given.to_string();
    }
    let t = std::time::Instant::now();
    while t.elapsed() < limit {
        if std::path::Path::new(given).exists() {
            break;
        }
        if let Ok(d) = std::fs::read_dir("/sys/class/virtio-ports") {
            for e in d.flatten() {
                let name = std::fs::read_to_string(e.path().join("name")).unwrap_or_default();
                if name.trim() == "runcost.agent" {
                    return format!("/dev/{}", e.file_name().to_string_lossy());
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    given.to_string()
}

/// A device node appears when its driver has probed; wait for it.
fn wait_for(path: &str, limit: std::time::Duration) {
    let t = std::time::Instant::now();
    while !std::path::Path::new(path).exists() && t.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// A virtio port's node can appear a moment before its driver accepts an
/// open (ENXIO meanwhile).
fn open_port_retrying(path: &str, limit: std::time::Duration) -> std::io::Result<File> {
    let t = std::time::Instant::now();
    loop {
        match open_port(path) {
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && t.elapsed() < limit => {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            r => return r.map_err(|e| std::io::Error::new(e.kind(), format!("open {path}: {e}"))),
        }
    }
}

/// The serial port, raw: no echo, no line editing, no CR/LF mapping, no
/// flow control, so frames pass byte for byte.
fn open_port(path: &str) -> std::io::Result<File> {
    let f = OpenOptions::new().read(true).write(true).open(path)?;
    // SAFETY: termios is plain data; tcgetattr fills it before use.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(f.as_raw_fd(), &mut t) != 0 {
            let e = std::io::Error::last_os_error();
            // A virtio port is no tty: nothing to make raw.
            if e.raw_os_error() == Some(libc::ENOTTY) {
                return Ok(f);
            }
            return Err(e);
        }
        libc::cfmakeraw(&mut t);
        if libc::tcsetattr(f.as_raw_fd(), libc::TCSANOW, &t) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(f)
}

fn uptime_ms() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map(|s| (s * 1000.0) as u64)
        .unwrap_or(0)
}

fn serve(mut r: impl Read, mut w: impl Write, is_init: bool) -> std::io::Result<()> {
    let mut hello = runcost_boxagent::SYNC.to_vec();
    hello.extend(encode(&Frame::Hello {
        version: runcost_boxagent::VERSION,
        uptime_ms: uptime_ms(),
    }));
    w.write_all(&hello)?;
    w.flush()?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let frame = loop {
            match decode(&buf) {
                Ok(Some((f, used))) => {
                    buf.drain(..used);
                    break f;
                }
                Ok(None) => {}
                Err(e) => {
                    // The stream is out of step; say so and drop what we have.
                    buf.clear();
                    send(
                        &mut w,
                        &Frame::Error {
                            message: e.to_string(),
                        },
                    )?;
                    continue;
                }
            }
            let n = match r.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            buf.extend_from_slice(&chunk[..n]);
        };
        match frame {
            Frame::Exec { argv, stdin } => send(&mut w, &run(&argv, stdin))?,
            Frame::Write { path, offset, data } => {
                send(&mut w, &write_chunk(&path, offset, &data))?
            }
            Frame::Read { path, offset, len } => send(&mut w, &read_chunk(&path, offset, len))?,
            Frame::Shutdown => {
                if is_init {
                    power_off();
                }
                return Ok(());
            }
            other => send(
                &mut w,
                &Frame::Error {
                    message: format!("unexpected request {other:?}"),
                },
            )?,
        }
    }
}

/// One chunk of a file transfer into the box; offset 0 starts the file
/// afresh (a block device ignores the truncation). No sync: a copy lands in
/// the box's page cache, as the engine's archive API leaves it.
fn write_chunk(path: &[u8], offset: u64, data: &[u8]) -> Frame {
    use std::os::unix::fs::FileExt;
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
    let r = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(offset == 0)
        .open(p)
        .and_then(|f| f.write_all_at(data, offset));
    match r {
        Ok(()) => Frame::Wrote {
            len: data.len() as u32,
        },
        Err(e) => Frame::Error {
            message: format!("write {} at {offset}: {e}", p.display()),
        },
    }
}

/// One chunk of a file transfer out of the box: short only at the end.
fn read_chunk(path: &[u8], offset: u64, len: u32) -> Frame {
    use std::os::unix::fs::FileExt;
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
    let mut buf = vec![0u8; len as usize];
    let r = File::open(p).and_then(|f| {
        let mut got = 0;
        while got < buf.len() {
            match f.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    });
    match r {
        Ok(n) => {
            buf.truncate(n);
            Frame::Data { data: buf }
        }
        Err(e) => Frame::Error {
            message: format!("read {} at {offset}: {e}", p.display()),
        },
    }
}

fn send(w: &mut impl Write, f: &Frame) -> std::io::Result<()> {
    w.write_all(&encode(f))?;
    w.flush()
}

fn run(argv: &[Vec<u8>], stdin: Vec<u8>) -> Frame {
    let os = |b: &Vec<u8>| std::ffi::OsStr::from_bytes(b).to_os_string();
    let mut cmd = Command::new(os(&argv[0]));
    cmd.args(argv[1..].iter().map(os))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let name = String::from_utf8_lossy(&argv[0]).into_owned();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == ErrorKind::NotFound {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_EXEC
            };
            return Frame::Done {
                exit_code: code,
                stdout: Vec::new(),
                stderr: format!("boxagent: {name}: {e}\n").into_bytes(),
            };
        }
    };
    // Feed stdin from a thread: a child that writes before it reads would
    // otherwise deadlock against us.
    let feeder = child.stdin.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let _ = pipe.write_all(&stdin);
        })
    });
    let out = child.wait_with_output();
    if let Some(t) = feeder {
        let _ = t.join();
    }
    match out {
        Ok(o) => Frame::Done {
            exit_code: exit_code(o.status.code(), o.status.signal()),
            stdout: o.stdout,
            stderr: o.stderr,
        },
        Err(e) => Frame::Done {
            exit_code: EXIT_CANNOT_EXEC,
            stdout: Vec::new(),
            stderr: format!("boxagent: wait for {name}: {e}\n").into_bytes(),
        },
    }
}

fn power_off() -> ! {
    // SAFETY: plain syscalls; reboot only returns on failure.
    unsafe {
        libc::sync();
        // A reset, not ACPI power-off: it works on every machine type, and
        // the VMM runs with -no-reboot, so a reset ends it.
        libc::reboot(libc::RB_AUTOBOOT);
    }
    std::process::exit(1)
}

/// CLOCK_MONOTONIC in nanoseconds.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `--tick FILE INTERVAL_US COUNT`: appends CLOCK_MONOTONIC (u64 LE, ns)
/// to FILE every INTERVAL_US, COUNT times: the box's own view of a pause
/// is the largest gap between two stamps, read back afterwards.
fn tick(args: &[String]) -> i32 {
    let (Some(file), Some(interval), Some(count)) = (
        args.first(),
        args.get(1).and_then(|a| a.parse::<u64>().ok()),
        args.get(2).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("boxagent: usage: --tick FILE INTERVAL_US COUNT");
        return 2;
    };
    let mut f = match File::create(file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("boxagent: --tick {file}: {e}");
            return 1;
        }
    };
    for _ in 0..count {
        // One write per stamp (a tmpfs write: cheap): the ticker is killed
        // when the host is done, and nothing buffered may be lost.
        if f.write_all(&monotonic_ns().to_le_bytes()).is_err() {
            return 1;
        }
        std::thread::sleep(std::time::Duration::from_micros(interval));
    }
    0
}

/// `--hold MIB`: allocates MIB MiB, writes a non-zero pattern into every
/// page (qemu sends zero pages as markers, so only non-zero ones cost a
/// migration), prints `held` and then sleeps for good, keeping it resident.
fn hold(args: &[String]) -> i32 {
    let Some(mib) = args.first().and_then(|a| a.parse::<usize>().ok()) else {
        eprintln!("boxagent: usage: --hold MIB");
        return 2;
    };
    let mut v = vec![0u8; mib << 20];
    for (i, page) in v.chunks_mut(4096).enumerate() {
        page.fill((i % 251) as u8 + 1);
    }
    println!("held {mib}");
    let _ = std::io::stdout().flush();
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        std::hint::black_box(&v);
    }
}

/// `--alloc BYTES HOLD_S`: the resource lane's memory-pressure step in a
/// VM. Allocates BYTES in 1 MiB blocks, writing one byte into every page
/// (each write faults in one page of guest memory), holds them HOLD_S
/// seconds and exits 0. Blocks, not one allocation: the guest kernel's
/// overcommit heuristic refuses a single request larger than its memory
/// (an abort, not the OOM kill a growing program meets), and a program
/// grows by many small requests. Beyond the guest's memory the OOM killer
/// ends it with SIGKILL (exit status 137). Under TCG this costs the page
/// faults only, where a pipe through `tail` copied every byte three times
/// at ~9 MiB/s (29 s for the two steps of a 224 MiB guest).
fn alloc(args: &[String]) -> i32 {
    const BLOCK: usize = 1 << 20;
    let (Some(bytes), Some(hold)) = (
        args.first().and_then(|a| a.parse::<usize>().ok()),
        args.get(1).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("boxagent: usage: --alloc BYTES HOLD_S");
        return 2;
    };
    let mut blocks: Vec<Vec<u8>> = Vec::with_capacity(bytes.div_ceil(BLOCK));
    let mut left = bytes;
    while left > 0 {
        let n = left.min(BLOCK);
        // Zeroed blocks are mmaps the kernel fills lazily: the writes
        // below are what makes them resident.
        let mut b = vec![0u8; n];
        for page in b.chunks_mut(4096) {
            page[0] = 1;
        }
        blocks.push(b);
        left -= n;
    }
    std::thread::sleep(std::time::Duration::from_secs(hold));
    std::hint::black_box(&blocks);
    0
}

/// `--sink ADDR COUNT PORT_FILE`: the throughput lane's TCP sink. Binds
/// ADDR (port 0: any free one), writes the bound port to PORT_FILE (by a
/// rename, so the host never reads half a number), then serves COUNT
/// connections in turn ([`runcost_boxagent::sink`]) and prints each count.
fn sink(args: &[String]) -> i32 {
    let (Some(addr), Some(count), Some(file)) = (
        args.first(),
        args.get(1).and_then(|a| a.parse::<u32>().ok()),
        args.get(2),
    ) else {
        eprintln!("boxagent: usage: --sink ADDR COUNT PORT_FILE");
        return 2;
    };
    let listener = match std::net::TcpListener::bind(addr.as_str()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("boxagent: --sink: bind {addr}: {e}");
            return 1;
        }
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => {
            eprintln!("boxagent: --sink: local address: {e}");
            return 1;
        }
    };
    let tmp = format!("{file}.tmp");
    if let Err(e) =
        std::fs::write(&tmp, format!("{port}\n")).and_then(|()| std::fs::rename(&tmp, file))
    {
        eprintln!("boxagent: --sink: write {file}: {e}");
        return 1;
    }
    match runcost_boxagent::sink::serve(&listener, count) {
        Ok(counts) => {
            for c in counts {
                println!("{c}");
            }
            0
        }
        Err(e) => {
            eprintln!("boxagent: --sink: {e}");
            1
        }
    }
}
