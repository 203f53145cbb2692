//! The container's cgroup as a whole: memory by kind (anonymous, shared
//! memory, file cache active/inactive, kernel, sockets, swap) and CPU, for
//! cgroup v1 and v2. The cgroup sees every page charged to the service —
//! forked backends, shared buffers, page cache — which no per-process
//! reading shows. Parsers are pure; [`CgroupFiles`] is the thin I/O.
//!
//! A file that is missing or unreadable leaves its metric `None` and records
//! why in [`CgroupFiles::unavailable`], so a lane that needs the metric can
//! refuse with the reason instead of judging a zero.

use super::parse::cgroup_path;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// memory.stat of one cgroup, bytes. `None`: the kernel does not report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemStat {
    pub anon: Option<u64>,
    /// Page cache (v1 `total_cache`, v2 `file`); includes shmem on both.
    pub file: Option<u64>,
    pub shmem: Option<u64>,
    pub active_file: Option<u64>,
    /// Reclaimable first under pressure.
    pub inactive_file: Option<u64>,
    pub mapped_file: Option<u64>,
    /// v2 `kernel` (or `kernel_stack` + `slab`); v1 from memory.kmem.usage_in_bytes.
    pub kernel: Option<u64>,
    pub sock: Option<u64>,
    pub swap: Option<u64>,
}

fn fields(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|l| {
        let mut it = l.split_whitespace();
        let key = it.next()?;
        let v = it.next()?.parse().ok()?;
        Some((key, v))
    })
}

/// v1 memory.stat: the hierarchical `total_*` fields (the container's
/// cgroup may have children), falling back to the local ones.
pub fn parse_memory_stat_v1(text: &str) -> MemStat {
    let mut local = MemStat::default();
    let mut total = MemStat::default();
    for (key, v) in fields(text) {
        let (dst, key) = match key.strip_prefix("total_") {
            Some(k) => (&mut total, k),
            None => (&mut local, key),
        };
        let slot = match key {
            "rss" => &mut dst.anon,
            "cache" => &mut dst.file,
            "shmem" => &mut dst.shmem,
            "active_file" => &mut dst.active_file,
            "inactive_file" => &mut dst.inactive_file,
            "mapped_file" => &mut dst.mapped_file,
            "swap" => &mut dst.swap,
            _ => continue,
        };
        *slot = Some(v);
    }
    MemStat {
        anon: total.anon.or(local.anon),
        file: total.file.or(local.file),
        shmem: total.shmem.or(local.shmem),
        active_file: total.active_file.or(local.active_file),
        inactive_file: total.inactive_file.or(local.inactive_file),
        mapped_file: total.mapped_file.or(local.mapped_file),
        kernel: None,
        sock: None,
        swap: total.swap.or(local.swap),
    }
}

/// v2 memory.stat (Documentation/admin-guide/cgroup-v2.rst). Swap is not
/// in it (memory.swap.current is).
pub fn parse_memory_stat_v2(text: &str) -> MemStat {
    let mut m = MemStat::default();
    let (mut stack, mut slab) = (None, None);
    for (key, v) in fields(text) {
        let slot = match key {
            "anon" => &mut m.anon,
            "file" => &mut m.file,
            "shmem" => &mut m.shmem,
            "active_file" => &mut m.active_file,
            "inactive_file" => &mut m.inactive_file,
            "file_mapped" => &mut m.mapped_file,
            "kernel" => &mut m.kernel,
            "sock" => &mut m.sock,
            "kernel_stack" => &mut stack,
            "slab" => &mut slab,
            _ => continue,
        };
        *slot = Some(v);
    }
    // `kernel` exists since 5.18; before it, stacks + slab are the bulk.
    if m.kernel.is_none() {
        m.kernel = match (stack, slab) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
    }
    m
}

/// cpuacct.usage (v1) is nanoseconds.
pub fn parse_cpuacct_usage(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().map(|n| n / 1e9)
}

/// v2 cpu.stat `usage_usec`, in seconds.
pub fn parse_cpu_stat_v2(text: &str) -> Option<f64> {
    fields(text)
        .find(|(k, _)| *k == "usage_usec")
        .map(|(_, u)| u as f64 / 1e6)
}

/// One whole-cgroup reading.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CgroupReading {
    pub usage: Option<u64>,
    pub stat: MemStat,
    pub cpu_s: Option<f64>,
}

/// The files of one container's cgroup, found once.
#[derive(Clone, Debug)]
pub struct CgroupFiles {
    pub version: CgroupVersion,
    usage: Option<PathBuf>,
    stat: Option<PathBuf>,
    cpu: Option<PathBuf>,
    /// v1: memory.kmem.usage_in_bytes; v2: memory.swap.current.
    extra: Option<PathBuf>,
    /// Metric name → why it is unavailable. Filled when a file is missing
    /// at open, or fails to read or parse later.
    pub unavailable: Vec<(&'static str, String)>,
    buf: String,
}

impl CgroupFiles {
    /// From `/proc/PID/cgroup` text; `root` is normally /sys/fs/cgroup.
    pub fn find(proc_cgroup: &str, root: &Path) -> Option<CgroupFiles> {
        let mut unavailable = Vec::new();
        let mut need = |name: &'static str, p: PathBuf| -> Option<PathBuf> {
            if p.is_file() {
                Some(p)
            } else {
                unavailable.push((name, format!("{} does not exist", p.display())));
                None
            }
        };
        let v1_mem = cgroup_path(proc_cgroup, "memory")
            .map(|p| root.join("memory").join(p.trim_start_matches('/')))
            .filter(|d| d.is_dir());
        if let Some(mem) = v1_mem {
            let cpu = cgroup_path(proc_cgroup, "cpuacct")
                .map(|p| root.join("cpuacct").join(p.trim_start_matches('/')));
            let usage = need("cgroup_mem", mem.join("memory.usage_in_bytes"));
            let stat = need("cgroup_stat", mem.join("memory.stat"));
            let extra = need("cgroup_kernel", mem.join("memory.kmem.usage_in_bytes"));
            let cpu = match cpu {
                Some(d) => need("cgroup_cpu", d.join("cpuacct.usage")),
                None => need("cgroup_cpu", PathBuf::from("(no cpuacct cgroup)")),
            };
            unavailable.push((
                "cgroup_sock",
                "cgroup v1 memory.stat has no socket memory".into(),
            ));
            return Some(CgroupFiles {
                version: CgroupVersion::V1,
                usage,
                stat,
                cpu,
                extra,
                unavailable,
                buf: String::with_capacity(4096),
            });
        }
        let dir = cgroup_path(proc_cgroup, "")
            .map(|p| root.join(p.trim_start_matches('/')))
            .filter(|d| d.join("cgroup.procs").is_file())?;
        Some(CgroupFiles {
            version: CgroupVersion::V2,
            usage: need("cgroup_mem", dir.join("memory.current")),
            stat: need("cgroup_stat", dir.join("memory.stat")),
            cpu: need("cgroup_cpu", dir.join("cpu.stat")),
            extra: need("cgroup_swap", dir.join("memory.swap.current")),
            unavailable,
            buf: String::with_capacity(4096),
        })
    }

    fn slurp(buf: &mut String, p: &Path) -> std::io::Result<()> {
        buf.clear();
        File::open(p)?.read_to_string(buf).map(|_| ())
    }

    /// Reads every available file; one that fails is recorded and skipped.
    pub fn read(&mut self) -> CgroupReading {
        let mut r = CgroupReading::default();
        let mut buf = std::mem::take(&mut self.buf);
        let mut failed: Vec<(&'static str, String)> = Vec::new();
        let mut no_swap = false;
        let mut read = |name: &'static str, p: &Option<PathBuf>, buf: &mut String| -> bool {
            let Some(p) = p else { return false };
            match Self::slurp(buf, p) {
                Ok(()) => true,
                Err(e) => {
                    failed.push((name, format!("read {}: {e}", p.display())));
                    false
                }
            }
        };
        if read("cgroup_mem", &self.usage, &mut buf) {
            r.usage = buf.trim().parse().ok();
        }
        if read("cgroup_stat", &self.stat, &mut buf) {
            r.stat = match self.version {
                CgroupVersion::V1 => parse_memory_stat_v1(&buf),
                CgroupVersion::V2 => parse_memory_stat_v2(&buf),
            };
            no_swap = self.version == CgroupVersion::V1 && r.stat.swap.is_none();
        }
        if read("cgroup_cpu", &self.cpu, &mut buf) {
            r.cpu_s = match self.version {
                CgroupVersion::V1 => parse_cpuacct_usage(&buf),
                CgroupVersion::V2 => parse_cpu_stat_v2(&buf),
            };
        }
        let extra_name = match self.version {
            CgroupVersion::V1 => "cgroup_kernel",
            CgroupVersion::V2 => "cgroup_swap",
        };
        if read(extra_name, &self.extra, &mut buf) {
            let v = buf.trim().parse().ok();
            match self.version {
                CgroupVersion::V1 => r.stat.kernel = v,
                CgroupVersion::V2 => r.stat.swap = v,
            }
        }
        self.buf = buf;
        if no_swap {
            failed.push((
                "cgroup_swap",
                "memory.stat has no `swap` line (swap accounting is off: swapaccount=0)".into(),
            ));
        }
        for (name, why) in failed {
            if !self.unavailable.iter().any(|(n, _)| *n == name) {
                self.unavailable.push((name, why));
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn v1_fixture_from_this_host() {
        // Captured from a v1 memory cgroup here; the numbers are its own.
        let m = parse_memory_stat_v1(&data("cgroup_v1_memory.stat"));
        assert_eq!(m.anon, Some(1863680));
        assert_eq!(m.file, Some(901951488));
        assert_eq!(m.shmem, Some(0));
        assert_eq!(m.active_file, Some(3817472));
        assert_eq!(m.inactive_file, Some(898101248));
        assert_eq!(m.mapped_file, Some(45056));
        assert_eq!(m.swap, Some(0));
        assert_eq!(m.kernel, None);
    }

    #[test]
    fn v1_prefers_hierarchical_totals() {
        let m = parse_memory_stat_v1("rss 10\ntotal_rss 30\ncache 5\n");
        assert_eq!(m.anon, Some(30));
        assert_eq!(m.file, Some(5));
        assert_eq!(m.swap, None, "no swap accounting: absent, not 0");
    }

    #[test]
    fn v2_fixture_from_the_kernel_field_list() {
        let m = parse_memory_stat_v2(&data("cgroup_v2_memory.stat"));
        assert_eq!(m.anon, Some(104857600));
        assert_eq!(m.file, Some(272629760));
        assert_eq!(m.shmem, Some(134217728));
        assert_eq!(m.active_file, Some(20971520));
        assert_eq!(m.inactive_file, Some(251658240));
        assert_eq!(m.mapped_file, Some(8388608));
        assert_eq!(m.kernel, Some(6291456));
        assert_eq!(m.sock, Some(131072));
        // Older kernels: stacks + slab.
        let m = parse_memory_stat_v2("kernel_stack 100\nslab 900\n");
        assert_eq!(m.kernel, Some(1000));
        assert_eq!(parse_memory_stat_v2("anon 1\n").kernel, None);
    }

    #[test]
    fn cpu_units() {
        assert_eq!(parse_cpuacct_usage("2000000000\n"), Some(2.0));
        assert_eq!(
            parse_cpu_stat_v2("usage_usec 1500000\nuser_usec 1\n"),
            Some(1.5)
        );
        assert_eq!(parse_cpu_stat_v2("user_usec 1\n"), None);
        assert_eq!(parse_cpuacct_usage("x"), None);
    }

    #[test]
    fn missing_files_are_unavailable_with_a_reason() {
        // A fake v2 tree holding only cgroup.procs and memory.stat.
        let dir = std::env::temp_dir().join(format!("runcost-cg-{}", std::process::id()));
        let cg = dir.join("svc");
        std::fs::create_dir_all(&cg).unwrap();
        std::fs::write(cg.join("cgroup.procs"), "1\n").unwrap();
        std::fs::write(cg.join("memory.stat"), "anon 4096\nshmem 8192\n").unwrap();
        let mut f = CgroupFiles::find("0::/svc\n", &dir).unwrap();
        assert_eq!(f.version, CgroupVersion::V2);
        let r = f.read();
        assert_eq!(r.stat.anon, Some(4096));
        assert_eq!(r.usage, None);
        assert_eq!(r.cpu_s, None);
        let names: Vec<&str> = f.unavailable.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"cgroup_mem") && names.contains(&"cgroup_cpu"));
        assert!(f.unavailable[0].1.contains("does not exist"));
        // A file that disappears later is recorded too, never read as 0.
        std::fs::remove_file(cg.join("memory.stat")).unwrap();
        let r = f.read();
        assert_eq!(r.stat.anon, None);
        assert!(f.unavailable.iter().any(|(n, _)| *n == "cgroup_stat"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
