//! The guest a qemu box boots: a Debian kernel (unpacked by `scripts/setup`
//! from the Debian package, never installed into the host's /boot) and an
//! initramfs built here: the static `boxagent` as /init, static busybox for
//! the commands, /dev/console. Built once by `cargo xtask setup` into
//! `target/runcost-box/`.
//!
//! The kernel is booted as the uncompressed ELF `vmlinux` through its PVH
//! entry point when it can be extracted: under TCG, decompressing the 8 MB
//! bzImage and running the real-mode setup took 2 s of a 4 s boot (measured,
//! README "Boxes"). The initramfs is an uncompressed cpio for the same reason.

use crate::error::BadInput;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What `cargo xtask setup` built, recorded next to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuestImage {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    /// e.g. `6.1.0-56-amd64`.
    pub kernel_version: String,
    /// `elf-pvh` (extracted vmlinux) or `bzimage`.
    pub kernel_format: String,
    pub initramfs_bytes: u64,
    /// The initramfs carries the virtio-console modules (transport `virtio`).
    #[serde(default)]
    pub virtio: bool,
    /// The initramfs carries virtio_blk (the throughput lane's disk).
    #[serde(default)]
    pub blk: bool,
    /// The initramfs carries virtio_net and its failover modules (the
    /// throughput lane's NIC).
    #[serde(default)]
    pub net: bool,
}

pub fn assets_dir(root: &Path) -> PathBuf {
    root.join("target/runcost-box")
}

impl GuestImage {
    /// The guest built by setup, or a clear error saying how to build it.
    pub fn locate(root: &Path) -> Result<GuestImage> {
        let manifest = assets_dir(root).join("guest.json");
        let text = std::fs::read_to_string(&manifest).map_err(|_| {
            BadInput(format!(
                "no box guest at {}: run `cargo xtask setup` (it unpacks a Debian kernel and builds the initramfs)",
                manifest.display()
            ))
        })?;
        let g: GuestImage =
            serde_json::from_str(&text).with_context(|| format!("parse {}", manifest.display()))?;
        g.check()?;
        Ok(g)
    }

    /// Both files exist: checked before any VM starts.
    pub fn check(&self) -> Result<()> {
        for (what, flag, p) in [
            ("kernel", "--kernel", &self.kernel),
            ("initramfs", "--initramfs", &self.initramfs),
        ] {
            if !p.is_file() {
                bail!(BadInput(format!(
                    "{flag} {}: the {what} does not exist; give an existing file or run `cargo xtask setup`",
                    p.display()
                )));
            }
        }
        Ok(())
    }
}

/// One file of a newc cpio archive.
pub enum CpioEntry<'a> {
    Dir(&'a str),
    File {
        path: &'a str,
        mode: u32,
        data: &'a [u8],
    },
    Symlink {
        path: &'a str,
        target: &'a str,
    },
    CharDev {
        path: &'a str,
        mode: u32,
        major: u32,
        minor: u32,
    },
}

/// A newc ("070701") cpio archive, the format the kernel unpacks as an
/// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
pub fn cpio_newc(entries: &[CpioEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |ino: u32, path: &str, mode: u32, data: &[u8], rdev: (u32, u32)| {
        let name_len = path.len() + 1;
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name_len as u32,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(path.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    };
    for (i, e) in entries.iter().enumerate() {
        let ino = i as u32 + 1;
        match e {
            CpioEntry::Dir(p) => put(ino, p, 0o040755, &[], (0, 0)),
            CpioEntry::File { path, mode, data } => put(ino, path, 0o100000 | mode, data, (0, 0)),
            CpioEntry::Symlink { path, target } => {
                put(ino, path, 0o120777, target.as_bytes(), (0, 0))
            }
            CpioEntry::CharDev {
                path,
                mode,
                major,
                minor,
            } => put(ino, path, 0o020000 | mode, &[], (*major, *minor)),
        }
    }
    put(0, "TRAILER!!!", 0, &[], (0, 0));
    out
}

/// Whether an ELF64 little-endian executable asks for a program interpreter
/// (PT_INTERP), i.e. is dynamically linked.
pub fn elf_has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as usize)
    };
    if !elf.starts_with(b"\x7fELF") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        elf.get(at..at + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

/// Where the compressed kernel inside a bzImage starts, and its decompressor
/// argv. Debian's 6.1 kernels are xz.
pub fn find_payload(bz: &[u8]) -> Option<(usize, &'static [&'static str])> {
    const KINDS: [(&[u8], &[&str]); 3] = [
        (b"\xfd7zXZ\x00", &["xz", "-dc", "--single-stream"]),
        (b"\x28\xb5\x2f\xfd", &["zstd", "-dcq"]),
        (b"\x1f\x8b\x08\x00", &["gzip", "-dcq"]),
    ];
    KINDS
        .iter()
        .filter_map(|(magic, argv)| {
            bz.windows(magic.len())
                .position(|w| w == *magic)
                .map(|i| (i, *argv))
        })
        .min_by_key(|(i, _)| *i)
}

fn say(s: &str) {
    println!("setup: {s}");
}

/// Where [`build_static`] leaves binary `bin` for `target_dir`.
pub fn static_bin_path(target_dir: &Path, bin: &str) -> PathBuf {
    target_dir.join(STATIC_TARGET).join("release").join(bin)
}

const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds binary `bin` of workspace package `package` statically linked
/// (it runs where no libc of ours is: a VM's initramfs, another image's
/// container), in `target_dir` of its own so the flags do not rebuild the
/// workspace. Returns its path.
pub fn build_static(root: &Path, package: &str, bin: &str, target_dir: &Path) -> Result<PathBuf> {
    let ok = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "--package",
            package,
            "--bin",
            bin,
            "--target",
            STATIC_TARGET,
            "--target-dir",
        ])
        .arg(target_dir)
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=symbols",
        )
        .current_dir(root)
        .status()
        .with_context(|| format!("cargo build {package}"))?
        .success();
    if !ok {
        bail!("cargo build of the static {bin} failed (output above)");
    }
    let path = static_bin_path(target_dir, bin);
    if !path.is_file() {
        bail!("cargo built {package} but left no {}", path.display());
    }
    Ok(path)
}

/// The static agent [`build`] leaves (it is also the containers' TCP sink).
pub fn agent_bin(root: &Path) -> PathBuf {
    static_bin_path(&assets_dir(root).join("build"), "boxagent")
}

/// `cargo xtask setup`, box part: the static agent, vmlinux, the initramfs
/// and guest.json. Needs the kernel unpacked by scripts/setup.
pub fn build(root: &Path) -> Result<GuestImage> {
    let dir = assets_dir(root);
    let kdir = dir.join("kernel/boot");
    let vmlinuz = std::fs::read_dir(&kdir)
        .with_context(|| {
            format!(
                "{}: no unpacked kernel; scripts/setup puts the Debian kernel there",
                kdir.display()
            )
        })?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .with_context(|| format!("no vmlinuz-* in {}", kdir.display()))?;
    let kernel_version = vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or("unknown")
        .to_string();

    say("building the box agent (static)");
    let agent = build_static(root, "runcost-boxagent", "boxagent", &dir.join("build"))
        .and_then(|p| std::fs::read(&p).with_context(|| format!("read {}", p.display())))
        .context("the static box agent")?;

    let busybox_path = Path::new("/bin/busybox");
    let busybox = std::fs::read(busybox_path)
        .context("read /bin/busybox (Debian package busybox-static; scripts/setup installs it)")?;
    // A dynamic busybox would find no libc in the guest.
    if elf_has_interpreter(&busybox) {
        bail!(BadInput(
            "/bin/busybox is dynamically linked; the guest needs Debian's busybox-static (scripts/setup installs it)".into()
        ));
    }
    let list = Command::new(busybox_path)
        .arg("--list")
        .output()
        .context("busybox --list")?;
    let applets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
        .map(str::to_owned)
        .collect();
    let paths: Vec<String> = applets.iter().map(|a| format!("bin/{a}")).collect();
    // The agent loads these, in this order, when present.
    const MODULES: [&str; 4] = ["virtio_ring", "virtio", "virtio_mmio", "virtio_console"];
    let mdir = dir.join("kernel/modules");
    let modules: Vec<(String, Vec<u8>)> = MODULES
        .iter()
        .filter_map(|m| {
            let data = std::fs::read(mdir.join(format!("{m}.ko"))).ok()?;
            Some((format!("lib/modules/{m}.ko"), data))
        })
        .collect();
    let virtio = modules.len() == MODULES.len();
    // Optional: the scratch disk of the throughput lane (virtio-blk over
    // virtio-mmio); loaded by the agent after the console modules.
    let blk_module = std::fs::read(mdir.join("virtio_blk.ko"))
        .ok()
        .map(|d| ("lib/modules/virtio_blk.ko".to_string(), d));
    let blk = virtio && blk_module.is_some();
    // Optional: the NIC of the throughput lane's TCP part (virtio-net over
    // virtio-mmio), in the agent's load order.
    const NET_MODULES: [&str; 3] = ["failover", "net_failover", "virtio_net"];
    let net_modules: Vec<(String, Vec<u8>)> = NET_MODULES
        .iter()
        .filter_map(|m| {
            let data = std::fs::read(mdir.join(format!("{m}.ko"))).ok()?;
            Some((format!("lib/modules/{m}.ko"), data))
        })
        .collect();
    let net = virtio && net_modules.len() == NET_MODULES.len();
    let mut entries = vec![
        CpioEntry::Dir("bin"),
        CpioEntry::Dir("dev"),
        CpioEntry::Dir("proc"),
        CpioEntry::Dir("sys"),
        CpioEntry::Dir("tmp"),
        CpioEntry::CharDev {
            path: "dev/console",
            mode: 0o600,
            major: 5,
            minor: 1,
        },
        CpioEntry::File {
            path: "init",
            mode: 0o755,
            data: &agent,
        },
        CpioEntry::File {
            path: "bin/busybox",
            mode: 0o755,
            data: &busybox,
        },
    ];
    if virtio {
        entries.push(CpioEntry::Dir("lib"));
        entries.push(CpioEntry::Dir("lib/modules"));
        let net_modules = if net { &net_modules[..] } else { &[] };
        entries.extend(
            modules
                .iter()
                .chain(blk_module.iter())
                .chain(net_modules)
                .map(|(path, data)| CpioEntry::File {
                    path,
                    mode: 0o644,
                    data,
                }),
        );
        if !blk {
            say("no virtio_blk module in kernel/modules: qemu boxes get no disk (box throughput measures none)");
        }
        if !net {
            say("no virtio_net, net_failover and failover modules in kernel/modules: qemu boxes get no NIC (box throughput skips TCP; rerun scripts/setup)");
        }
    } else {
        say("no virtio modules in kernel/modules: the guest offers the serial transport only");
    }
    entries.extend(paths.iter().map(|p| CpioEntry::Symlink {
        path: p,
        target: "busybox",
    }));
    let cpio = cpio_newc(&entries);
    let initramfs = dir.join("initramfs.cpio");
    crate::fs::write_atomic(&initramfs, &cpio)?;
    say(&format!(
        "initramfs {} ({} KiB: agent, busybox, {} applets)",
        initramfs.display(),
        cpio.len() / 1024,
        applets.len()
    ));

    let (kernel, kernel_format) = match extract_vmlinux(&vmlinuz, &dir.join("vmlinux")) {
        Ok(p) => (p, "elf-pvh"),
        Err(e) => {
            say(&format!(
                "could not extract vmlinux ({e:#}); booting the bzImage (slower under TCG)"
            ));
            (vmlinuz.clone(), "bzimage")
        }
    };
    let g = GuestImage {
        kernel,
        initramfs,
        kernel_version,
        kernel_format: kernel_format.into(),
        initramfs_bytes: cpio.len() as u64,
        virtio,
        blk,
        net,
    };
    crate::fs::write_atomic(
        &dir.join("guest.json"),
        serde_json::to_string_pretty(&g)?.as_bytes(),
    )?;
    say(&format!(
        "box guest ready: kernel {} ({})",
        g.kernel_version, g.kernel_format
    ));
    Ok(g)
}

/// The ELF kernel inside a bzImage, through the decompressor's CLI.
fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<PathBuf> {
    let bz = std::fs::read(vmlinuz).with_context(|| format!("read {}", vmlinuz.display()))?;
    let (at, argv) = find_payload(&bz).context("no known compressed payload in the bzImage")?;
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("run {}", argv[0]))?;
    let mut stdin = child.stdin.take().context("decompressor stdin")?;
    let payload = bz[at..].to_vec();
    // Trailing bytes after the stream make the decompressor complain; the
    // output is judged by its ELF header instead of the exit status.
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&payload);
    });
    let o = child.wait_with_output()?;
    let _ = feeder.join();
    if o.stdout.len() < 1 << 20 || !o.stdout.starts_with(b"\x7fELF") {
        bail!("{} did not produce an ELF kernel", argv[0]);
    }
    crate::fs::write_atomic(out, &o.stdout)?;
    Ok(out.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpio_layout_is_newc() {
        let a = cpio_newc(&[
            CpioEntry::Dir("bin"),
            CpioEntry::File {
                path: "init",
                mode: 0o755,
                data: b"abc",
            },
            CpioEntry::Symlink {
                path: "bin/sh",
                target: "busybox",
            },
        ]);
        assert!(a.starts_with(b"070701"));
        assert_eq!(a.len() % 4, 0);
        // Header 110 bytes + "bin\0" (4) → next header at 116 (already aligned).
        assert_eq!(&a[116..122], b"070701");
        // The file's mode field is regular | 0755.
        assert_eq!(&a[116 + 14..116 + 22], b"000081ed");
        // The symlink target is its data; the archive ends with the trailer.
        assert!(a.windows(7).any(|w| w == b"busybox"));
        let tail = &a[a.len() - 16..];
        assert!(tail.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn cpio_unpacks_with_the_cpio_tool() {
        // Known truth: an independent cpio lists what we wrote. GNU cpio if
        // installed, else busybox's applet (setup installs busybox-static
        // for the guest); neither is a failure, not a skip.
        let tool: &[&str] = if Command::new("cpio").arg("--version").output().is_ok() {
            &["cpio"]
        } else if Command::new("busybox")
            .args(["cpio", "--help"])
            .output()
            .is_ok()
        {
            &["busybox", "cpio"]
        } else {
            panic!(
                "no cpio tool: install the Debian package `cpio` or `busybox-static` \
                 (`cargo xtask setup` installs busybox-static)"
            );
        };
        let a = cpio_newc(&[
            CpioEntry::Dir("d"),
            CpioEntry::File {
                path: "d/f",
                mode: 0o644,
                data: b"hello",
            },
            CpioEntry::Symlink {
                path: "l",
                target: "d/f",
            },
        ]);
        let mut c = Command::new(tool[0])
            .args(&tool[1..])
            .arg("-t")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(&a).unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success());
        assert_eq!(String::from_utf8_lossy(&o.stdout), "d\nd/f\nl\n");
    }

    #[test]
    fn static_and_dynamic_executables_are_told_apart() {
        // Known truth from the host: /bin/sh is dynamic, the static busybox is not.
        let sh = std::fs::read("/bin/sh").expect("/bin/sh");
        assert!(elf_has_interpreter(&sh));
        let bb = std::fs::read("/bin/busybox").expect(
            "/bin/busybox: install the Debian package `busybox-static` (`cargo xtask setup`)",
        );
        let dynamic = Command::new("ldd")
            .arg("/bin/busybox")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert_eq!(elf_has_interpreter(&bb), dynamic);
        assert!(!elf_has_interpreter(b"not an elf"));
    }

    #[test]
    fn payload_is_the_first_magic() {
        let mut bz = vec![0u8; 100];
        bz.extend_from_slice(b"\xfd7zXZ\x00rest");
        bz.extend_from_slice(b"\x1f\x8b\x08\x00");
        let (at, argv) = find_payload(&bz).unwrap();
        assert_eq!(at, 100);
        assert_eq!(argv[0], "xz");
        assert!(find_payload(b"plain").is_none());
    }
}
