//! qemu boxes: one qemu-system-x86_64 per box, direct kernel boot of the
//! runcost guest, the agent on a virtio-console port (`-machine microvm`)
//! or on the second serial port (`-machine pc`, no guest modules), a unix
//! socket on the host either way. The VMM runs in its own process group
//! with a parent-death signal, is recorded in a pid file the moment it
//! exists, and is killed by the box's guard if the box is dropped running.

use super::agent::AgentConn;
use super::guest::GuestImage;
use super::track::{self, VmRecord};
use super::{Accel, BackendKind, BoxBackend, BoxSpec, ExecOutput, Started, Transport};
use crate::error::BadInput;
use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const QEMU: &str = "qemu-system-x86_64";
/// qboot: a minimal firmware that skips SeaBIOS's device scan (measured
/// 0.2 s faster to the agent under TCG); used when the package ships it.
const QBOOT: &str = "/usr/share/qemu/qboot.rom";
/// Kernel command line: serial console, quiet, reboot (→ VMM exit with
/// -no-reboot) on panic, fewer probes.
const CMDLINE: &str = "console=ttyS0 quiet panic=-1 8250.nr_uarts=2 i8042.noaux i8042.nokbd \
                       tsc=reliable no_timer_check noreplace-smp rcupdate.rcu_expedited=1";

/// The qemu binary on PATH, or None (the qemu lanes are then skipped).
pub fn find_qemu() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(QEMU))
        .find(|p| p.is_file())
}

/// `QEMU emulator version 7.2.22 (...)`, first line.
pub fn qemu_version(qemu: &Path) -> Result<String> {
    let o = Command::new(qemu)
        .arg("--version")
        .output()
        .with_context(|| format!("run {} --version", qemu.display()))?;
    Ok(String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

/// The host's TSC rate, handed to a microvm guest: it has no HPET or ACPI
/// PM timer, and under TCG its calibration against the PIT fails now and
/// then (measured: 1 boot in 12 hung with "Marking TSC unstable"; 0 in 15
/// with the rate given).
fn tsc_khz() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz: f64 = info.lines().find_map(|l| {
        l.strip_prefix("cpu MHz")?
            .split(':')
            .nth(1)?
            .trim()
            .parse()
            .ok()
    })?;
    (mhz > 0.0).then(|| (mhz * 1000.0).round() as u64)
}

#[derive(Clone, Debug)]
pub struct QemuBackend {
    pub root: PathBuf,
    pub run_id: String,
    pub qemu: PathBuf,
    pub guest: GuestImage,
    pub accel: Accel,
    pub transport: Transport,
    pub spec: BoxSpec,
    pub boot_timeout: Duration,
    pub exec_timeout: Duration,
    /// A scratch disk per box (virtio-blk over virtio-mmio, a sparse raw
    /// file in the box's directory, removed with it) of this many MiB;
    /// None: no disk (every lane but throughput).
    pub disk_mib: Option<u32>,
    /// qemu's I/O throttle on that disk (`throttling.bps-total`), bytes/s:
    /// a box profile's `disk_bps`, e.g. to plant a slow-disk regression.
    pub disk_bps: Option<u64>,
    /// A NIC per box (the throughput lane's TCP part): virtio-net over
    /// virtio-mmio on qemu's user-mode network with `restrict=on` (the
    /// guest reaches nothing), one port forwarded from the host's
    /// 127.0.0.1 to [`GUEST_SINK_PORT`].
    pub nic: bool,
}

/// The scratch disk as the guest sees it (the first virtio-blk device).
pub const GUEST_DISK: &str = "/dev/vda";
/// The guest's address on qemu's user-mode network (its fixed default).
const GUEST_ADDR: &str = "10.0.2.15";
/// The port the guest's TCP sink listens on; the host's side is a free
/// 127.0.0.1 port chosen when the box is created.
pub const GUEST_SINK_PORT: u16 = 5001;

pub struct QemuBox {
    name: String,
    /// The guest's RAM, MiB (the backend's spec, or a pressure box's limit).
    memory_mib: u32,
    dir: PathBuf,
    child: Option<Child>,
    rec: Option<VmRecord>,
    conn: Option<AgentConn>,
    qmp: Option<super::qmp::Qmp>,
    /// The host's 127.0.0.1 port forwarded to the guest's sink (a box
    /// with a NIC).
    host_port: Option<u16>,
}

impl QemuBox {
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    fn tail(&self, file: &str, lines: usize) -> String {
        let text = std::fs::read(self.dir.join(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        if tail.is_empty() {
            "(empty)".into()
        } else {
            tail
        }
    }

    /// The console and VMM output, for errors.
    fn diagnostics(&self) -> String {
        format!(
            "console tail:\n{}\nqemu output:\n{}",
            self.tail("console.log", 15),
            self.tail("qemu.log", 5)
        )
    }

    /// Kill the VMM (if still ours) and reap it.
    fn kill(&mut self) {
        if let Some(rec) = &self.rec {
            track::kill_if_ours(rec);
        }
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.child = None;
        self.conn = None;
        self.qmp = None;
    }

    /// The VM's QMP monitor (connected on first use, then kept).
    pub async fn qmp(&mut self) -> Result<&mut super::qmp::Qmp> {
        if self.qmp.is_none() {
            let q = super::qmp::Qmp::connect(&self.dir.join("qmp.sock"), Duration::from_secs(10))
                .await
                .with_context(|| format!("box {}: QMP", self.name))?;
            self.qmp = Some(q);
        }
        self.qmp.as_mut().context("QMP connection")
    }

    /// The agent connection and the monitor at once, so a ping loop runs
    /// while a migration is driven over QMP.
    pub async fn agent_and_qmp(&mut self) -> Result<(&mut AgentConn, &mut super::qmp::Qmp)> {
        self.qmp().await?;
        let name = self.name.clone();
        match (self.conn.as_mut(), self.qmp.as_mut()) {
            (Some(c), Some(q)) => Ok((c, q)),
            _ => bail!("box {name} is not running"),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether qemu exited because its forwarded host port was taken (its
    /// exit may trail the broken agent connection by a moment).
    async fn lost_its_port(&mut self) -> bool {
        if self.host_port.is_none() {
            return false;
        }
        let until = Instant::now() + Duration::from_secs(2);
        while self.exited().is_none() {
            if Instant::now() > until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        std::fs::read_to_string(self.dir.join("qemu.log"))
            .is_ok_and(|l| l.contains("Could not set up host forwarding rule"))
    }

    /// Whether the VMM process has exited (and reaps it).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for QemuBox {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl QemuBackend {
    fn create_with(&self, name: &str, memory_mib: u32) -> Result<QemuBox> {
        let dir = track::box_dir(&self.root, &self.run_id, name);
        let sock = dir.join("agent.sock");
        // sun_path holds 108 bytes including the NUL.
        if sock.as_os_str().len() > 100 {
            bail!(BadInput(format!(
                "{}: the agent socket path is too long for a unix socket; move the checkout to a shorter path",
                sock.display()
            )));
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        if let Some(mib) = self.disk_mib {
            let img = dir.join("disk.img");
            // qemu's option syntax takes `,` as a separator.
            if img.display().to_string().contains(',') {
                bail!(BadInput(format!(
                    "{}: a disk path may not contain `,` (qemu's -drive syntax); move the checkout to a plainer path",
                    img.display()
                )));
            }
            // Sparse: the disk costs the host only what the guest writes.
            std::fs::File::create(&img)
                .and_then(|f| f.set_len(u64::from(mib) << 20))
                .with_context(|| format!("create the scratch disk {}", img.display()))?;
        }
        let host_port = match self.nic && self.no_network().is_none() {
            true => Some(free_loopback_port()?),
            false => None,
        };
        Ok(QemuBox {
            name: name.to_string(),
            memory_mib,
            dir,
            child: None,
            rec: None,
            conn: None,
            qmp: None,
            host_port,
        })
    }

    /// `incoming`: the VM waits for a migration stream (`-incoming defer`)
    /// instead of booting: a restore.
    fn argv_with(
        &self,
        dir: &Path,
        name: &str,
        memory_mib: u32,
        host_port: Option<u16>,
        incoming: bool,
    ) -> Vec<String> {
        let s = |x: &str| x.to_string();
        let p = |x: &Path| x.display().to_string();
        let machine = match self.transport {
            // TCG has no TSC frequency to offer, so the guest needs the PIT
            // to calibrate (without it the kernel hangs at boot).
            Transport::Virtio => "microvm,pit=on,pic=on,rtc=on",
            Transport::Serial => "pc",
        };
        let mut a = vec![
            p(&self.qemu),
            s("-name"),
            format!("runcost-{}-{name}", self.run_id),
            s("-machine"),
            s(machine),
            s("-accel"),
            s(self.accel.qemu_name()),
        ];
        if self.accel == Accel::Kvm {
            a.extend([s("-cpu"), s("host")]);
        }
        // microvm brings its own qboot-based firmware.
        if self.transport == Transport::Serial && Path::new(QBOOT).is_file() {
            a.extend([s("-bios"), s(QBOOT)]);
        }
        a.extend([
            s("-nodefaults"),
            s("-no-user-config"),
            s("-display"),
            s("none"),
            s("-m"),
            memory_mib.to_string(),
            s("-smp"),
            self.spec.vcpus.to_string(),
            s("-kernel"),
            p(&self.guest.kernel),
            s("-initrd"),
            p(&self.guest.initramfs),
            s("-append"),
            match self.transport {
                Transport::Virtio => format!(
                    "{CMDLINE} RUNCOST_PORT=/dev/vport0p1{}",
                    tsc_khz()
                        .map(|k| format!(" tsc_early_khz={k}"))
                        .unwrap_or_default()
                ),
                Transport::Serial => s(CMDLINE),
            },
            s("-serial"),
            format!("file:{}", p(&dir.join("console.log"))),
            // The monitor, for snapshot and restore (wait=off: qemu does
            // not block on it; a box that never uses it pays nothing).
            s("-qmp"),
            format!("unix:{},server=on,wait=off", p(&dir.join("qmp.sock"))),
            s("-chardev"),
            // wait=on: the guest starts only once we are connected, so the
            // agent's hello cannot be lost.
            format!(
                "socket,id=agent,path={},server=on,wait=on",
                p(&dir.join("agent.sock"))
            ),
        ]);
        if self.disk_mib.is_some() {
            // cache=none: the host's page cache is bypassed too, so the
            // guest's O_DIRECT reads are real reads of the file.
            let mut drive = format!(
                "file={},if=none,id=scratch,format=raw,cache=none,aio=threads",
                p(&dir.join("disk.img"))
            );
            if let Some(bps) = self.disk_bps {
                drive.push_str(&format!(",throttling.bps-total={bps}"));
            }
            a.extend([
                s("-drive"),
                drive,
                s("-device"),
                s("virtio-blk-device,drive=scratch"),
            ]);
        }
        if let Some(port) = host_port {
            // restrict=on: the guest can reach neither the host nor
            // anything beyond; only the forwarded port comes in, and only
            // from the host's loopback.
            a.extend([
                s("-netdev"),
                format!(
                    "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-{GUEST_ADDR}:{GUEST_SINK_PORT}"
                ),
                s("-device"),
                s("virtio-net-device,netdev=n0"),
            ]);
        }
        match self.transport {
            Transport::Virtio => a.extend([
                s("-device"),
                s("virtio-serial-device"),
                s("-device"),
                s("virtserialport,chardev=agent,nr=1,name=runcost.agent"),
            ]),
            Transport::Serial => a.extend([s("-serial"), s("chardev:agent")]),
        }
        a.push(s("-no-reboot"));
        if incoming {
            a.extend([s("-incoming"), s("defer")]);
        }
        a
    }

    /// Spawns the VMM in its own process group with a parent-death signal
    /// and records it (pid file) before anything else can fail.
    fn spawn(&self, b: &mut QemuBox, incoming: bool) -> Result<()> {
        let argv = self.argv_with(&b.dir, &b.name, b.memory_mib, b.host_port, incoming);
        let log = std::fs::File::create(b.dir.join("qemu.log"))?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; it only sets a flag.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("start {}", self.qemu.display()))?;
        let pid = child.id() as i32;
        b.child = Some(child);
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| self.qemu.display().to_string());
        let rec = VmRecord {
            pid,
            exe,
            cmdline: argv,
            run_id: self.run_id.clone(),
            box_name: b.name.clone(),
        };
        track::write(&b.dir, &rec)?;
        b.rec = Some(rec);
        Ok(())
    }

    /// One VMM start: spawn, connect, the agent's hello.
    async fn boot(&self, b: &mut QemuBox) -> Result<Started> {
        self.spawn(b, false)?;
        let deadline = Instant::now() + self.boot_timeout;
        let stream = self.connect_agent(b, deadline).await?;
        let mut conn = AgentConn::new(stream);
        let left = deadline.saturating_duration_since(Instant::now());
        let uptime = match tokio::time::timeout(left, conn.hello()).await {
            Ok(Ok(u)) => u,
            Ok(Err(e)) => {
                return Err(e.context(format!(
                    "box {}: the guest agent did not say hello\n{}",
                    b.name,
                    b.diagnostics()
                )))
            }
            Err(_) => bail!(
                "box {}: the guest did not boot to its agent within {:?} (accel {}, kernel {})\n{}",
                b.name,
                self.boot_timeout,
                self.accel.qemu_name(),
                self.guest.kernel.display(),
                b.diagnostics()
            ),
        };
        b.conn = Some(conn);
        Ok(Started {
            guest_uptime: Some(uptime),
        })
    }

    /// Connects to the agent socket (qemu waits for it before running the
    /// guest), watching for an early VMM exit.
    async fn connect_agent(
        &self,
        b: &mut QemuBox,
        deadline: Instant,
    ) -> Result<tokio::net::UnixStream> {
        let sock = b.dir.join("agent.sock");
        loop {
            if let Some(st) = b.exited() {
                bail!(
                    "qemu exited ({st}) before the guest started\n{}",
                    b.diagnostics()
                );
            }
            if let Ok(s) = tokio::net::UnixStream::connect(&sock).await {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("qemu did not open {} in time", sock.display());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A box restored from a migration stream in `file` (written by
    /// `migrate exec:cat > file`): the VMM starts with `-incoming defer`,
    /// loads the file, and runs on; returns once `true` ran in it. A
    /// missing or corrupt file is an error naming it, and the VMM is killed
    /// (the box's guard) before this returns.
    pub async fn restore(&self, b: &mut QemuBox, file: &Path) -> Result<()> {
        let meta = std::fs::metadata(file)
            .with_context(|| format!("restore {}: no snapshot file", file.display()))?;
        if meta.len() == 0 {
            bail!("restore {}: the snapshot file is empty", file.display());
        }
        let uri = format!("exec:cat {}", shell_safe(file)?);
        let deadline = Instant::now() + self.boot_timeout;
        self.spawn(b, true)?;
        let r = async {
            let stream = self.connect_agent(b, deadline).await?;
            b.conn = Some(AgentConn::resumed(stream));
            b.qmp()
                .await?
                .execute("migrate-incoming", Some(serde_json::json!({ "uri": uri })))
                .await?;
            // A stream qemu cannot load makes it exit. Once loaded, the
            // guest runs by itself if the source was running when it was
            // written (live); a full snapshot was written stopped, and the
            // restored VM keeps that state until `cont`.
            loop {
                if let Some(st) = b.exited() {
                    bail!(
                        "restore {}: qemu could not load the snapshot ({st})\nqemu output:\n{}",
                        file.display(),
                        b.tail("qemu.log", 5)
                    );
                }
                let status = match b.qmp().await {
                    Ok(q) => match q.execute("query-migrate", None).await {
                        Ok(m) if m["status"] == "completed" => {
                            match q.execute("query-status", None).await {
                                Ok(v) if v["status"] != "running" => {
                                    q.execute("cont", None).await.map(|_| true)
                                }
                                Ok(_) => Ok(true),
                                Err(e) => Err(e),
                            }
                        }
                        Ok(m) if m["status"] == "failed" => Err(anyhow::anyhow!(
                            "restore {}: qemu could not load the snapshot: {}",
                            file.display(),
                            m["error-desc"].as_str().unwrap_or("no reason given")
                        )),
                        Ok(_) => Ok(false),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                match status {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => {
                        // The monitor goes away as a VMM that cannot load
                        // the stream exits: give the exit a moment to be
                        // seen, then it is reported above with its output.
                        for _ in 0..200 {
                            if b.exited().is_some() {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        if b.exited().is_some() {
                            continue;
                        }
                        return Err(e);
                    }
                }
                if Instant::now() > deadline {
                    bail!(
                        "restore {}: the guest was not running within {:?}\n{}",
                        file.display(),
                        self.boot_timeout,
                        b.diagnostics()
                    );
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let o = self.exec(b, &["true".to_string()], &[]).await?;
            if o.exit_code != 0 {
                bail!(
                    "restore {}: `true` exited {} in the restored box",
                    file.display(),
                    o.exit_code
                );
            }
            Ok(())
        }
        .await;
        if r.is_err() {
            b.kill();
        }
        r
    }
}

/// A path as one word of the `sh -c` qemu runs for an `exec:` URI: only
/// characters that need no quoting (our own run directories), else refused.
pub fn shell_safe(p: &Path) -> Result<String> {
    let s = p.display().to_string();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        bail!(BadInput(format!(
            "{s}: a snapshot path may hold only letters, digits and / . _ - + (qemu hands it to a shell); move the checkout to a plainer path"
        )));
    }
    Ok(s)
}

impl BoxBackend for QemuBackend {
    type Handle = QemuBox;

    fn kind(&self) -> BackendKind {
        BackendKind::Qemu
    }

    async fn create(&self, name: &str) -> Result<QemuBox> {
        self.create_with(name, self.spec.memory_mib)
    }

    fn memory_limit_how(&self) -> std::result::Result<String, String> {
        Ok("the VM's RAM (-m): the guest kernel's OOM killer".into())
    }

    /// A VM with `mib` MiB of RAM: nothing in the guest but its kernel and
    /// the agent, so its OOM killer picks the allocating process.
    async fn create_limited(&self, name: &str, mib: u32) -> Result<QemuBox> {
        self.create_with(name, mib)
    }

    /// The forwarded port (a throughput box's) was free when it was chosen,
    /// but nothing can hold a port for a child to take over, so another
    /// process may bind it first; qemu then exits naming the rule (after
    /// the agent socket connected: its chardev comes first), and the VMM is
    /// started again on a fresh port, at most three times: a port race does
    /// not repeat, and anything else fails at once.
    async fn start(&self, b: &mut QemuBox) -> Result<Started> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.boot(b).await {
                Err(_) if tries < 3 && b.lost_its_port().await => {
                    tracing::debug!(box_name = %b.name, "forwarded port taken before qemu bound it; new port");
                    b.host_port = Some(free_loopback_port()?);
                }
                r => return r,
            }
        }
    }

    async fn exec(&self, b: &mut QemuBox, argv: &[String], stdin: &[u8]) -> Result<ExecOutput> {
        let name = b.name.clone();
        let conn = b
            .conn
            .as_mut()
            .with_context(|| format!("box {name} is not running"))?;
        match tokio::time::timeout(self.exec_timeout, conn.exec(argv, stdin)).await {
            Ok(r) => r.with_context(|| format!("box {name}: exec {argv:?}")),
            Err(_) => {
                // The stream is now out of step; the box is unusable.
                b.conn = None;
                bail!(
                    "box {name}: the agent did not answer {argv:?} within {:?}\n{}",
                    self.exec_timeout,
                    b.diagnostics()
                )
            }
        }
    }

    async fn stop(&self, b: &mut QemuBox) -> Result<()> {
        if let Some(conn) = &mut b.conn {
            let _ = conn.shutdown().await;
        }
        b.conn = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(c) = &mut b.child {
            if c.try_wait().ok().flatten().is_some() {
                b.child = None;
                break;
            }
            if Instant::now() > deadline {
                tracing::warn!("box {}: no power-off within 10 s; killing it", b.name);
                b.kill();
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    async fn remove(&self, mut b: QemuBox) -> Result<()> {
        b.kill();
        std::fs::remove_dir_all(&b.dir)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .with_context(|| format!("remove {}", b.dir.display()))
    }

    fn init_pid(&self, b: &QemuBox) -> Option<i32> {
        b.pid()
    }

    fn host_pids(&self, b: &QemuBox) -> Vec<i32> {
        b.pid().into_iter().collect()
    }

    fn scratch(&self) -> std::result::Result<super::Scratch, String> {
        match self.disk_mib {
            Some(mib) => Ok(super::Scratch {
                path: GUEST_DISK.into(),
                capacity: Some(u64::from(mib) << 20),
                clock: vec!["/init".into(), "--now".into()],
            }),
            None => Err("the VM was started without a scratch disk".into()),
        }
    }

    fn cannot_copy(&self) -> Option<String> {
        None
    }

    async fn copy_in(&self, b: &mut QemuBox, path: &str, data: &[u8]) -> Result<()> {
        let name = b.name.clone();
        let conn = b
            .conn
            .as_mut()
            .with_context(|| format!("box {name} is not running"))?;
        match tokio::time::timeout(self.exec_timeout, conn.write_file(path, data)).await {
            Ok(r) => {
                r.with_context(|| format!("box {name}: copy {} bytes into {path}", data.len()))
            }
            Err(_) => {
                b.conn = None;
                bail!(
                    "box {name}: copy into {path} did not finish within {:?}",
                    self.exec_timeout
                )
            }
        }
    }

    async fn copy_out(&self, b: &mut QemuBox, path: &str, len: usize) -> Result<Vec<u8>> {
        let name = b.name.clone();
        let conn = b
            .conn
            .as_mut()
            .with_context(|| format!("box {name} is not running"))?;
        match tokio::time::timeout(self.exec_timeout, conn.read_file(path, len)).await {
            Ok(r) => r.with_context(|| format!("box {name}: copy {len} bytes out of {path}")),
            Err(_) => {
                b.conn = None;
                bail!(
                    "box {name}: copy out of {path} did not finish within {:?}",
                    self.exec_timeout
                )
            }
        }
    }

    fn no_network(&self) -> Option<String> {
        if !self.nic {
            return Some(
                "the qemu microVM has no NIC (-nodefaults, no -netdev): nothing to connect to"
                    .into(),
            );
        }
        if self.transport != Transport::Virtio {
            return Some("the NIC is virtio-net over virtio-mmio, which needs transport virtio (-machine microvm)".into());
        }
        if !self.guest.net {
            return Some(format!(
                "the guest initramfs {} has no virtio_net, net_failover and failover modules: no NIC driver in the guest (rerun `cargo xtask setup`)",
                self.guest.initramfs.display()
            ));
        }
        None
    }

    /// The guest's interface is configured with busybox `ip` (the
    /// agent loaded virtio_net at boot); the sink is the agent itself.
    async fn tcp_into(&self, b: &mut QemuBox) -> Result<super::TcpPath> {
        if let Some(why) = self.no_network() {
            bail!("box {}: {why}", b.name);
        }
        let port = b
            .host_port
            .with_context(|| format!("box {} was created without a NIC", b.name))?;
        let addr = format!("{GUEST_ADDR}/24");
        for argv in [
            ["ip", "addr", "add", addr.as_str(), "dev", "eth0"].as_slice(),
            &["ip", "link", "set", "eth0", "up"],
        ] {
            let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
            let o = self.exec(b, &argv, &[]).await?;
            if o.exit_code != 0 {
                bail!(
                    "box {}: {} exited {}: {}",
                    b.name,
                    argv.join(" "),
                    o.exit_code,
                    String::from_utf8_lossy(&o.stderr).trim()
                );
            }
        }
        Ok(super::TcpPath {
            agent: "/init".into(),
            listen: format!("0.0.0.0:{GUEST_SINK_PORT}"),
            host_port: Some(port),
            via: format!(
                "qemu user-mode network (slirp, restrict=on): 127.0.0.1:{port} forwarded to the guest's virtio-net port {GUEST_SINK_PORT}"
            ),
        })
    }
}

/// A port free on the host's 127.0.0.1 now, for qemu's forward (qemu binds
/// it at start; a port taken meanwhile makes `start` try again on another).
fn free_loopback_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("find a free 127.0.0.1 port")?;
    Ok(l.local_addr()?.port())
}

/// The agent protocol against a real VM: one guest booted under TCG, every
/// case run against it. Needs `cargo xtask setup` (CI runs it first): without
/// qemu or the guest image these tests fail, naming the fix.
#[cfg(test)]
mod vm_tests {
    use super::*;

    fn backend() -> QemuBackend {
        backend_on(Transport::Virtio)
    }

    fn backend_on(transport: Transport) -> QemuBackend {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("repo root")
            .to_path_buf();
        let qemu = find_qemu().expect("qemu-system-x86_64 not on PATH: run `cargo xtask setup`");
        let guest = GuestImage::locate(&root).expect("box guest: run `cargo xtask setup`");
        QemuBackend {
            root,
            run_id: format!("unit-{}", std::process::id()),
            qemu,
            guest,
            accel: Accel::Tcg,
            transport,
            spec: BoxSpec {
                memory_mib: 128,
                vcpus: 1,
            },
            boot_timeout: Duration::from_secs(90),
            exec_timeout: Duration::from_secs(60),
            disk_mib: None,
            disk_bps: None,
            nic: false,
        }
    }

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn agent_protocol_on_a_real_vm_over_virtio() {
        protocol_cases(backend_on(Transport::Virtio)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn agent_protocol_on_a_real_vm_over_serial() {
        let mut b = backend_on(Transport::Serial);
        b.run_id.push_str("-serial");
        protocol_cases(b).await;
    }

    async fn protocol_cases(b: QemuBackend) {
        let mut h = b.create("proto").await.unwrap();
        let started = b.start(&mut h).await.unwrap();
        assert!(started.guest_uptime.unwrap() > Duration::ZERO);
        let pid = h.pid().unwrap();
        assert!(track::is_ours(h.rec.as_ref().unwrap()));

        // Exit codes, stdout and stderr kept apart.
        let o = b
            .exec(
                &mut h,
                &argv(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            (o.exit_code, &o.stdout[..], &o.stderr[..]),
            (3, &b"out\n"[..], &b"err\n"[..])
        );
        // argv is not a shell: metacharacters arrive verbatim.
        let o = b
            .exec(&mut h, &argv(&["echo", "a;b", "$HOME", "*"]), &[])
            .await
            .unwrap();
        assert_eq!(o.stdout, b"a;b $HOME *\n");
        // stdin reaches the command.
        let o = b.exec(&mut h, &argv(&["cat"]), b"in\0put").await.unwrap();
        assert_eq!((o.exit_code, &o.stdout[..]), (0, &b"in\0put"[..]));
        // A command that does not exist answers 127, it does not hang.
        let o = b
            .exec(&mut h, &argv(&["no-such-command"]), &[])
            .await
            .unwrap();
        assert_eq!(o.exit_code, runcost_boxagent::EXIT_NOT_FOUND);
        assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-command"));
        // Killed by a signal: 128 + signal, as a shell reports it.
        let o = b
            .exec(&mut h, &argv(&["sh", "-c", "kill -9 $$"]), &[])
            .await
            .unwrap();
        assert_eq!(o.exit_code, 137);
        // Large output arrives whole and in order.
        let o = b
            .exec(
                &mut h,
                &argv(&["head", "-c", "1048576", "/dev/urandom"]),
                &[],
            )
            .await
            .unwrap();
        assert_eq!((o.exit_code, o.stdout.len()), (0, 1 << 20));
        let o2 = b
            .exec(&mut h, &argv(&["sh", "-c", "seq 1 100000"]), &[])
            .await
            .unwrap();
        let text = String::from_utf8(o2.stdout).unwrap();
        assert_eq!(text.lines().count(), 100000);
        assert_eq!(text.lines().last(), Some("100000"));
        // The guest is a real Linux kernel, not the host.
        let o = b.exec(&mut h, &argv(&["uname", "-r"]), &[]).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            b.guest.kernel_version
        );

        b.stop(&mut h).await.unwrap();
        assert!(
            !Path::new(&format!("/proc/{pid}/cmdline")).exists()
                || !track::is_ours(h.rec.as_ref().unwrap())
        );
        let dir = h.dir.clone();
        b.remove(h).await.unwrap();
        assert!(!dir.exists());
        let _ = std::fs::remove_dir(track::vms_dir(&b.root).join(&b.run_id));
    }

    /// A snapshot file that is missing, empty or not a migration stream is
    /// a clear error naming the file, and no VMM outlives the attempt.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restore_from_a_missing_or_corrupt_file_is_an_error_and_leaves_no_vm() {
        let mut b = backend();
        b.run_id = format!("unit-restore-{}", std::process::id());
        b.boot_timeout = Duration::from_secs(30);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.mig");
        let mut h = b.create("missing").await.unwrap();
        let e = format!("{:#}", b.restore(&mut h, &missing).await.unwrap_err());
        assert!(
            e.contains("missing.mig") && e.contains("no snapshot file"),
            "{e}"
        );
        assert!(h.rec.is_none(), "no VMM was started for a missing file");
        drop(h);
        let corrupt = dir.path().join("corrupt.mig");
        std::fs::write(&corrupt, vec![0x5au8; 1 << 20]).unwrap();
        let mut h = b.create("corrupt").await.unwrap();
        let e = format!("{:#}", b.restore(&mut h, &corrupt).await.unwrap_err());
        assert!(
            e.contains("corrupt.mig") && e.contains("could not load"),
            "{e}"
        );
        let rec = h.rec.clone().unwrap();
        assert!(!track::is_ours(&rec), "the VMM outlived a failed restore");
        drop(h);
        let _ = std::fs::remove_dir_all(track::vms_dir(&b.root).join(&b.run_id));
    }

    /// The forwarded port taken between its choice and qemu's bind (here
    /// on purpose: the test holds it): qemu exits naming the rule, and the
    /// box starts on a fresh port instead of failing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_forwarded_port_taken_before_qemu_binds_it_is_replaced() {
        let mut b = backend();
        b.run_id = format!("unit-port-{}", std::process::id());
        b.nic = true;
        let mut h = b.create("port").await.unwrap();
        let chosen = h.host_port.expect("a NIC box forwards a port");
        let _taken = std::net::TcpListener::bind(("127.0.0.1", chosen)).unwrap();
        b.start(&mut h).await.unwrap();
        let now = h.host_port.unwrap();
        assert_ne!(now, chosen);
        assert!(track::is_ours(h.rec.as_ref().unwrap()));
        let argv = &h.rec.as_ref().unwrap().cmdline;
        assert!(
            argv.iter()
                .any(|a| a.contains(&format!("127.0.0.1:{now}-"))),
            "{argv:?}"
        );
        b.remove(h).await.unwrap();
        let _ = std::fs::remove_dir_all(track::vms_dir(&b.root).join(&b.run_id));
    }

    /// A snapshot that fails mid-way (cancelled at a deadline while qemu
    /// is throttled; a destination that cannot be written; a target
    /// directory that is gone) removes what it wrote, and the source box
    /// runs on: it answers an exec with the state written before, and a
    /// snapshot after the failures still succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_failing_midway_removes_its_file_and_the_source_runs_on() {
        use super::super::snapshot::{qemu_snapshot, qemu_snapshot_with, SnapLimits};
        use crate::results::boxes::SnapshotMode;
        let mut b = backend();
        b.run_id = format!("unit-snapfail-{}", std::process::id());
        let mut h = b.create("src").await.unwrap();
        b.start(&mut h).await.unwrap();
        let sh = |line: &str| argv(&["sh", "-c", line]);
        b.exec(&mut h, &sh("echo before > /tmp/state"), &[])
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let runs_on = |o: ExecOutput| {
            assert_eq!(
                (o.exit_code, String::from_utf8_lossy(&o.stdout).trim()),
                (0, "before"),
                "the source box does not answer with its state"
            )
        };
        let running = |v: serde_json::Value| assert_eq!(v["status"], "running", "{v}");

        // Cancelled mid-way: 4 MiB/s, the deadline at 0.3 s.
        let file = dir.path().join("cancelled.mig");
        let limits = SnapLimits {
            max_bandwidth: 4 << 20,
            deadline: Some(Duration::from_millis(300)),
        };
        let q = h.qmp().await.unwrap();
        let e = qemu_snapshot_with(q, &file, SnapshotMode::Live, limits)
            .await
            .unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("cancelled") && e.contains("bytes sent"), "{e}");
        let sent: u64 = e
            .split(" bytes sent")
            .next()
            .and_then(|h| h.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(sent > 0, "cancelled before anything was written: {e}");
        assert!(!file.exists(), "the partial snapshot was left: {e}");
        running(q.execute("query-status", None).await.unwrap());
        runs_on(
            b.exec(&mut h, &argv(&["cat", "/tmp/state"]), &[])
                .await
                .unwrap(),
        );

        // A destination that cannot be written (every write: ENOSPC), on a
        // full snapshot: the stopped VM must be resumed.
        let full = dir.path().join("full.mig");
        std::os::unix::fs::symlink("/dev/full", &full).unwrap();
        let q = h.qmp().await.unwrap();
        let e = qemu_snapshot(q, &full, SnapshotMode::Full)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("failed"), "{e:#}");
        assert!(std::fs::symlink_metadata(&full).is_err(), "left {full:?}");
        running(q.execute("query-status", None).await.unwrap());
        runs_on(
            b.exec(&mut h, &argv(&["cat", "/tmp/state"]), &[])
                .await
                .unwrap(),
        );

        // The target directory is gone.
        let gone = dir.path().join("gone/x.mig");
        let q = h.qmp().await.unwrap();
        let e = qemu_snapshot(q, &gone, SnapshotMode::Live)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("failed"), "{e:#}");
        assert!(!gone.exists());
        runs_on(
            b.exec(&mut h, &argv(&["cat", "/tmp/state"]), &[])
                .await
                .unwrap(),
        );

        // Nothing of the failures sticks: the next snapshot succeeds.
        let ok = dir.path().join("ok.mig");
        let q = h.qmp().await.unwrap();
        let s = qemu_snapshot(q, &ok, SnapshotMode::Live).await.unwrap();
        assert!(s.bytes > 1 << 20 && ok.is_file());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only the good snapshot is left"
        );
        runs_on(
            b.exec(&mut h, &argv(&["cat", "/tmp/state"]), &[])
                .await
                .unwrap(),
        );
        let rec = h.rec.clone().unwrap();
        b.remove(h).await.unwrap();
        assert!(!track::is_ours(&rec));
        let _ = std::fs::remove_dir_all(track::vms_dir(&b.root).join(&b.run_id));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kernel_that_does_not_boot_is_a_clear_error_and_no_vm_is_left() {
        let mut b = backend();
        // A file that is no kernel: qemu refuses it, or the guest never says hello.
        let bogus = b.root.join("target/runcost-box/not-a-kernel");
        std::fs::write(&bogus, vec![0u8; 4096]).unwrap();
        b.guest.kernel = bogus;
        b.boot_timeout = Duration::from_secs(10);
        b.run_id = format!("unit-bad-{}", std::process::id());
        let mut h = b.create("bad").await.unwrap();
        let err = b.start(&mut h).await.unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("console tail") || msg.contains("qemu exited"),
            "{msg}"
        );
        let rec = h.rec.clone().unwrap();
        drop(h);
        assert!(!track::is_ours(&rec), "the VMM outlived its box guard");
        let _ = std::fs::remove_dir(track::vms_dir(&b.root).join(&b.run_id));
    }
}
