//! Pure parsers for the few /proc and cgroup files the samplers read. They
//! take text and return numbers, so they are tested on fixture files
//! (`xtask/tests/data/`) and shared by the host and exec-stream probes.

use anyhow::{bail, Context, Result};

/// Memory of one process from `/proc/<pid>/smaps_rollup`, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmapsRollup {
    pub rss: u64,
    pub pss: u64,
    pub pss_anon: u64,
    /// Unique set size: Private_Clean + Private_Dirty.
    pub uss: u64,
    pub swap: u64,
}

/// A `Key:   1234 kB` value of a /proc file, in bytes.
fn kib_field(file: &str, key: &str, rest: &str) -> Result<u64> {
    let num = rest.trim().trim_end_matches("kB").trim();
    Ok(num
        .parse::<u64>()
        .with_context(|| format!("{file} field {key}: `{num}`"))?
        * 1024)
}

pub fn parse_smaps_rollup(text: &str) -> Result<SmapsRollup> {
    let mut r = SmapsRollup::default();
    let (mut private_clean, mut private_dirty) = (None, None);
    let mut seen_rss = false;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let kib = || kib_field("smaps_rollup", key, rest);
        match key {
            "Rss" => {
                r.rss = kib()?;
                seen_rss = true;
            }
            "Pss" => r.pss = kib()?,
            "Pss_Anon" => r.pss_anon = kib()?,
            "Private_Clean" => private_clean = Some(kib()?),
            "Private_Dirty" => private_dirty = Some(kib()?),
            "Swap" => r.swap = kib()?,
            _ => {}
        }
    }
    match (seen_rss, private_clean, private_dirty) {
        (true, Some(c), Some(d)) => r.uss = c + d,
        _ => bail!("smaps_rollup lacks Rss/Private_Clean/Private_Dirty (kernel older than 4.14?)"),
    }
    Ok(r)
}

/// The fields of `/proc/<pid>/status` we sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub threads: u32,
    /// Peak RSS (VmHWM), bytes.
    pub vm_hwm: u64,
    /// PID in the innermost PID namespace (last NSpid entry).
    pub ns_pid: Option<i32>,
}

pub fn parse_status(text: &str) -> Result<Status> {
    let mut s = Status::default();
    let mut seen_threads = false;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let rest = rest.trim();
        match key {
            "Threads" => {
                s.threads = rest
                    .parse()
                    .with_context(|| format!("status Threads: `{rest}`"))?;
                seen_threads = true;
            }
            "VmHWM" => {
                let n = rest.trim_end_matches("kB").trim();
                s.vm_hwm = n
                    .parse::<u64>()
                    .with_context(|| format!("status VmHWM: `{n}`"))?
                    * 1024;
            }
            "NSpid" => s.ns_pid = rest.split_whitespace().last().and_then(|p| p.parse().ok()),
            _ => {}
        }
    }
    if !seen_threads {
        bail!("status has no Threads line");
    }
    Ok(s)
}

/// The fields of `/proc/<pid>/stat` we sample.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    /// utime + stime in clock ticks.
    pub cpu_ticks: u64,
    pub num_threads: i64,
}

/// `comm` may contain spaces and parentheses, so fields are counted from
/// the last `)` (proc(5)).
pub fn parse_stat(text: &str) -> Result<Stat> {
    let open = text.find('(').context("stat: no `(`")?;
    let close = text.rfind(')').context("stat: no `)`")?;
    if close < open {
        bail!("stat: malformed comm");
    }
    let comm = text[open + 1..close].to_string();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime 15, num_threads 20.
    let get = |field: usize| -> Result<&str> {
        fields
            .get(field - 3)
            .copied()
            .with_context(|| format!("stat: missing field {field}"))
    };
    let num = |field: usize| -> Result<u64> {
        get(field)?
            .parse::<u64>()
            .with_context(|| format!("stat field {field}"))
    };
    Ok(Stat {
        comm,
        state: get(3)?.chars().next().unwrap_or('?'),
        ppid: get(4)?.parse().context("stat ppid")?,
        cpu_ticks: num(14)? + num(15)?,
        num_threads: get(20)?.parse().context("stat num_threads")?,
    })
}

/// `/proc/loadavg`: the 1-minute load average.
pub fn parse_loadavg(text: &str) -> Result<f64> {
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .context("loadavg: no first field")
}

/// `/proc/pressure/cpu`: `some avg10`, percent of time some task waited for CPU.
pub fn parse_psi_some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix("avg10="))
        .and_then(|v| v.parse().ok())
}

/// The cgroup path of a controller from `/proc/<pid>/cgroup` (v1 lines
/// `N:memory:/docker/<id>`, v2 line `0::/system.slice/...`).
pub fn cgroup_path<'a>(text: &'a str, controller: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = if controller.is_empty() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == controller)
        };
        hit.then_some(path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn smaps_rollup_fixture() {
        let r = parse_smaps_rollup(&data("smaps_rollup.txt")).unwrap();
        assert_eq!(r.rss, 1620 * 1024);
        assert_eq!(r.pss, 392 * 1024);
        assert_eq!(r.pss_anon, 112 * 1024);
        assert_eq!(r.uss, (72 + 112) * 1024);
        assert_eq!(r.swap, 0);
    }

    #[test]
    fn smaps_rollup_rejects_missing_and_garbage() {
        assert!(parse_smaps_rollup("").is_err());
        assert!(parse_smaps_rollup("Rss: 1 kB\n").is_err());
        assert!(
            parse_smaps_rollup("Rss: x kB\nPrivate_Clean: 1 kB\nPrivate_Dirty: 1 kB\n").is_err()
        );
    }

    #[test]
    fn status_fixture() {
        let s = parse_status(&data("status.txt")).unwrap();
        assert_eq!(s.threads, 1);
        assert!(s.vm_hwm > 0);
        assert!(s.ns_pid.is_some());
        assert!(parse_status("Name: x\n").is_err());
    }

    #[test]
    fn stat_fixture_and_odd_comm() {
        let s = parse_stat(&data("stat.txt")).unwrap();
        assert_eq!(s.comm, "cat");
        assert_eq!(s.ppid, 12424);
        let s = parse_stat(&data("stat_odd_comm.txt")).unwrap();
        assert_eq!(s.comm, "my (odd) proc");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.cpu_ticks, 375);
        assert_eq!(s.num_threads, 7);
        assert!(parse_stat("12 (x) S 1").is_err());
        assert!(parse_stat("garbage").is_err());
    }

    #[test]
    fn loadavg_psi_and_cgroup() {
        assert_eq!(parse_loadavg("0.52 0.40 0.30 1/123 456\n").unwrap(), 0.52);
        let psi = "some avg10=1.25 avg60=0.32 avg300=1.55 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(parse_psi_some_avg10(psi), Some(1.25));
        let cg = "5:devices:/\n4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/\n";
        assert_eq!(cgroup_path(cg, "memory"), Some("/docker/abc"));
        assert_eq!(cgroup_path(cg, "cpuacct"), Some("/docker/abc"));
        assert_eq!(cgroup_path(cg, ""), Some("/"));
        assert_eq!(cgroup_path(cg, "pids"), None);
    }
}

/// The fields of `/proc/meminfo` the box lanes read, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meminfo {
    pub mem_total: u64,
    pub mem_free: u64,
    /// The kernel's estimate of memory available without swapping (3.14+).
    pub mem_available: Option<u64>,
    /// Slab memory the kernel cannot reclaim.
    pub s_unreclaim: Option<u64>,
}

pub fn parse_meminfo(text: &str) -> Result<Meminfo> {
    let (mut total, mut free) = (None, None);
    let mut m = Meminfo::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let kib = || kib_field("meminfo", key, rest);
        match key {
            "MemTotal" => total = Some(kib()?),
            "MemFree" => free = Some(kib()?),
            "MemAvailable" => m.mem_available = Some(kib()?),
            "SUnreclaim" => m.s_unreclaim = Some(kib()?),
            _ => {}
        }
    }
    (m.mem_total, m.mem_free) = match (total, free) {
        (Some(t), Some(f)) => (t, f),
        _ => bail!("meminfo lacks MemTotal/MemFree"),
    };
    Ok(m)
}

/// How many entries of a /proc listing are processes (all-digit names).
pub fn count_pid_entries<'a>(names: impl IntoIterator<Item = &'a str>) -> usize {
    names
        .into_iter()
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .count()
}

#[cfg(test)]
mod host_wide_tests {
    use super::*;

    #[test]
    fn meminfo_fixture_and_old_kernels() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/meminfo.txt");
        let m = parse_meminfo(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert_eq!(m.mem_total, 24683584 * 1024);
        assert_eq!(m.mem_free, 15529760 * 1024);
        assert_eq!(m.mem_available, Some(20425072 * 1024));
        assert_eq!(m.s_unreclaim, Some(44008 * 1024));
        // Before 3.14 there is no MemAvailable.
        let old = parse_meminfo("MemTotal: 100 kB\nMemFree: 40 kB\nBuffers: 1 kB\n").unwrap();
        assert_eq!((old.mem_total, old.mem_free), (102400, 40960));
        assert_eq!((old.mem_available, old.s_unreclaim), (None, None));
        assert!(parse_meminfo("").is_err());
        assert!(parse_meminfo("MemTotal: 100 kB\n").is_err());
        assert!(parse_meminfo("MemTotal: x kB\nMemFree: 1 kB\n").is_err());
    }

    #[test]
    fn pid_entries_are_the_all_digit_names() {
        let names = ["1", "42", "self", "thread-self", "sys", "", "12a", "007"];
        assert_eq!(count_pid_entries(names), 3);
        assert_eq!(count_pid_entries([]), 0);
    }
}
