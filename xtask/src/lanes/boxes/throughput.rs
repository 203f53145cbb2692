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
//! checked byte for byte against what went in. TCP host → box where the
//! box has a network; SKIPPED with the reason where it has none.
//! Analysis: bytes/s per repeat; the report gives the median and range.

use super::{teardown, timed_exec};
use crate::boxes::{BoxBackend, Scratch};
use crate::error::BadInput;
use crate::events::{Event, Events};
use crate::results::boxaxes::ThroughputResult;
use anyhow::{bail, Context, Result};
use rand::RngCore;
use rand::SeedableRng;
use std::time::Instant;

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
                crate::boxes::BackendKind::Command => "none".into(),
            },
            copy_in_bps: Vec::new(),
            copy_out_bps: Vec::new(),
            copy_skipped: b.cannot_copy(),
            tcp_bps: Vec::new(),
            tcp_skipped: b.no_network(),
        };
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
