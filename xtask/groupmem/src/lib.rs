//! Memory unique to a group of processes: the resident pages whose every
//! mapping belongs to the group — what stopping the service would free of
//! its mapped memory. Summed per-process USS misses pages shared between
//! the group's own processes (a forked backend's copy-on-write parent
//! pages), and moves when a page merely becomes shared; this does not.
//!
//! Method (Documentation/admin-guide/mm/pagemap.rst): for each process,
//! /proc/PID/maps gives the mapped ranges and /proc/PID/pagemap one 64-bit
//! entry per virtual page (bit 63 present, bits 0–54 the PFN, bit 61 file
//! page or shared anon). Counting how often the group maps each PFN and
//! comparing with the kernel's mapcount in /proc/kpagecount tells which
//! pages nobody outside maps. The zero page and other unaccounted pages
//! never match (their kpagecount is not the group's), so they are not
//! counted — stopping the service would not free them. Reading PFNs needs
//! CAP_SYS_ADMIN; without it the kernel reports PFN 0, which is refused
//! ([`GroupError::NoPfns`]), never read as zero memory.
//!
//! Cost grows with the resident size (8 bytes of pagemap and up to 8 of
//! kpagecount per page), so callers read it at their own lower rate.
//!
//! One leaf crate for both samplers: the host sampler calls [`read_group`]
//! on host PIDs; the exec-stream sampler uploads the static
//! `runcost-groupmem` binary into the container and speaks [`Reply`] lines
//! with it over one long-lived exec.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;

const PRESENT: u64 = 1 << 63;
const FILE_OR_SHARED: u64 = 1 << 61;
const PFN_MASK: u64 = (1 << 55) - 1;
/// CAP_SYS_ADMIN's bit in the capability sets of /proc/PID/status.
const CAP_SYS_ADMIN: u32 = 21;

/// kpagecount entries read past a gap rather than starting a new pread:
/// 64 entries are 512 bytes, cheaper than a syscall.
const MAX_GAP: u64 = 64;

/// Bytes unique to the group, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupUnique {
    /// Private anonymous pages (heap, stacks, copy-on-write after fork).
    pub anon: u64,
    /// File-backed pages and shared anonymous memory (shmem, tmpfs).
    pub file: u64,
}

impl GroupUnique {
    pub fn total(&self) -> u64 {
        self.anon + self.file
    }
}

/// One pagemap entry: the PFN, and whether the page is file or shared
/// memory, when present with a PFN the caller may see.
pub fn decode(entry: u64) -> Option<(u64, bool)> {
    if entry & PRESENT == 0 {
        return None;
    }
    let pfn = entry & PFN_MASK;
    Some((pfn, entry & FILE_OR_SHARED != 0))
}

/// The address ranges of /proc/PID/maps, skipping [vsyscall] (outside the
/// process's address space; pagemap cannot read it).
pub fn parse_maps(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter(|l| !l.ends_with("[vsyscall]"))
        .filter_map(|l| {
            let range = l.split_whitespace().next()?;
            let (a, b) = range.split_once('-')?;
            let a = u64::from_str_radix(a, 16).ok()?;
            let b = u64::from_str_radix(b, 16).ok()?;
            (b > a).then_some((a, b))
        })
        .collect()
}

/// A PFN the group maps `count` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapped {
    pub pfn: u64,
    pub count: u64,
    pub file: bool,
}

/// Collapses the group's pagemap hits (`pfn << 1 | file`) into one entry
/// per PFN with its mapping count, sorted by PFN.
pub fn count_mappings(mut hits: Vec<u64>) -> Vec<Mapped> {
    hits.sort_unstable();
    let mut out: Vec<Mapped> = Vec::new();
    for h in hits {
        let (pfn, file) = (h >> 1, h & 1 == 1);
        match out.last_mut() {
            Some(m) if m.pfn == pfn => {
                m.count += 1;
                m.file |= file;
            }
            _ => out.push(Mapped {
                pfn,
                count: 1,
                file,
            }),
        }
    }
    out
}

/// Sorted PFNs as (first, length) runs to read from kpagecount, bridging
/// gaps of up to `max_gap` entries.
pub fn runs(sorted_pfns: impl IntoIterator<Item = u64>, max_gap: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for p in sorted_pfns {
        match out.last_mut() {
            Some((start, len)) if p >= *start + *len && p - (*start + *len) <= max_gap => {
                *len = p - *start + 1
            }
            Some((start, len)) if p < *start + *len => {}
            _ => out.push((p, 1)),
        }
    }
    out
}

/// Pages whose kernel mapcount equals the group's own count, in bytes.
/// `kernel_count` gives /proc/kpagecount for a PFN.
pub fn unique(mapped: &[Mapped], page: u64, kernel_count: impl Fn(u64) -> u64) -> GroupUnique {
    let mut u = GroupUnique::default();
    for m in mapped {
        if kernel_count(m.pfn) == m.count {
            if m.file {
                u.file += page;
            } else {
                u.anon += page;
            }
        }
    }
    u
}

/// A process that vanished since it was listed is skipped and counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupRead {
    pub unique: GroupUnique,
    pub vanished: u32,
}

/// Why a group read gave no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupError {
    /// Every present page read PFN 0: the reader lacks CAP_SYS_ADMIN. Not
    /// transient; the metric is unavailable until the capability is given.
    NoPfns,
    /// A /proc file of a live process, or kpagecount, could not be read.
    Io(String),
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::NoPfns => f.write_str(
                "pagemap shows no page frame numbers (reading them needs CAP_SYS_ADMIN); \
                 group-unique memory is unavailable",
            ),
            GroupError::Io(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for GroupError {}

fn io(what: String) -> impl FnOnce(std::io::Error) -> GroupError {
    move |e| GroupError::Io(format!("{what}: {e}"))
}

/// Whether a process still exists and has not exited (a zombie's /proc
/// entry stays until it is reaped).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            let state = t
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .chars()
                .next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Reads the group's pagemaps and the kernel's mapcounts.
pub fn read_group(pids: &[i32]) -> Result<GroupRead, GroupError> {
    let page = page_size();
    let mut hits: Vec<u64> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut vanished = 0;
    let mut zero_pfns = 0u64;
    for &pid in pids {
        let maps = match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            Ok(t) => t,
            Err(_) if !alive(pid) => {
                vanished += 1;
                continue;
            }
            Err(e) => return Err(io(format!("read /proc/{pid}/maps"))(e)),
        };
        let pagemap = match File::open(format!("/proc/{pid}/pagemap")) {
            Ok(f) => f,
            Err(_) if !alive(pid) => {
                vanished += 1;
                continue;
            }
            Err(e) => return Err(io(format!("open /proc/{pid}/pagemap"))(e)),
        };
        for (start, end) in parse_maps(&maps) {
            let n = ((end - start) / page) as usize;
            buf.resize(n * 8, 0);
            // A mapping that went away since maps was read reads short.
            let got = pagemap.read_at(&mut buf, start / page * 8).unwrap_or(0);
            for chunk in buf[..got - got % 8].chunks_exact(8) {
                let e = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
                if let Some((pfn, file)) = decode(e) {
                    if pfn == 0 {
                        zero_pfns += 1;
                    } else {
                        hits.push(pfn << 1 | u64::from(file));
                    }
                }
            }
        }
    }
    if hits.is_empty() && zero_pfns > 0 {
        return Err(GroupError::NoPfns);
    }
    let mapped = count_mappings(hits);
    let kpc = File::open("/proc/kpagecount").map_err(io("open /proc/kpagecount".into()))?;
    let mut counts: Vec<(u64, Vec<u64>)> = Vec::new();
    for (first, len) in runs(mapped.iter().map(|m| m.pfn), MAX_GAP) {
        buf.resize(len as usize * 8, 0);
        let got = kpc
            .read_at(&mut buf, first * 8)
            .map_err(io(format!("read /proc/kpagecount at PFN {first}")))?;
        let vals = buf[..got - got % 8]
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        counts.push((first, vals));
    }
    let lookup = |pfn: u64| -> u64 {
        let i = counts.partition_point(|(first, _)| *first <= pfn);
        i.checked_sub(1)
            .and_then(|i| {
                let (first, vals) = &counts[i];
                vals.get((pfn - first) as usize).copied()
            })
            .unwrap_or(0)
    };
    Ok(GroupRead {
        unique: unique(&mapped, page, lookup),
        vanished,
    })
}

/// The effective capability set of a /proc/PID/status text.
pub fn cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Whether an effective capability set holds CAP_SYS_ADMIN.
pub fn has_sys_admin(cap_eff: u64) -> bool {
    cap_eff & (1 << CAP_SYS_ADMIN) != 0
}

/// The line protocol of the `runcost-groupmem` binary. It prints
/// [`Reply::Ready`] once, then answers every stdin line of PIDs
/// (`1 23 45`) with one reply line; a line `q` ends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// First line: the reader's effective capabilities (CapEff, hex).
    Ready {
        cap_eff: u64,
    },
    Read(Result<GroupRead, GroupError>),
}

impl Reply {
    /// One line, without the newline.
    pub fn to_line(&self) -> String {
        match self {
            Reply::Ready { cap_eff } => format!("ready {cap_eff:016x}"),
            Reply::Read(Ok(r)) => format!("ok {} {} {}", r.unique.anon, r.unique.file, r.vanished),
            Reply::Read(Err(GroupError::NoPfns)) => "nopfn".into(),
            // One line: a message never spans two replies.
            Reply::Read(Err(GroupError::Io(e))) => format!("err {}", e.replace('\n', " ")),
        }
    }

    pub fn parse(line: &str) -> Option<Reply> {
        let line = line.trim_end_matches(['\n', '\r']);
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "ready" => Some(Reply::Ready {
                cap_eff: u64::from_str_radix(rest.trim(), 16).ok()?,
            }),
            "ok" => {
                let mut f = rest.split_whitespace();
                let anon = f.next()?.parse().ok()?;
                let file = f.next()?.parse().ok()?;
                let vanished = f.next()?.parse().ok()?;
                Some(Reply::Read(Ok(GroupRead {
                    unique: GroupUnique { anon, file },
                    vanished,
                })))
            }
            "nopfn" => Some(Reply::Read(Err(GroupError::NoPfns))),
            "err" => Some(Reply::Read(Err(GroupError::Io(rest.to_string())))),
            _ => None,
        }
    }
}

/// The PIDs of one request line; None for a malformed one.
pub fn parse_pids(line: &str) -> Option<Vec<i32>> {
    line.split_whitespace().map(|p| p.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_present_pfn_and_kind() {
        assert_eq!(decode(0), None);
        // Swapped (bit 62) but not present: not resident.
        assert_eq!(decode(1 << 62 | 5), None);
        assert_eq!(decode(PRESENT | 0x1234), Some((0x1234, false)));
        assert_eq!(decode(PRESENT | FILE_OR_SHARED | 7), Some((7, true)));
        // Soft-dirty (55) and exclusive (56) bits are not part of the PFN.
        assert_eq!(decode(PRESENT | 1 << 55 | 1 << 56 | 9), Some((9, false)));
        // An entry as read inside a container with CAP_SYS_ADMIN here.
        assert_eq!(decode(0xa1000000002a55d0), Some((0x2a55d0, true)));
    }

    #[test]
    fn maps_ranges() {
        let text = "55d0c000-55d0e000 r--p 00000000 08:01 131 /usr/bin/cat\n\
                    7ffc1000-7ffc3000 rw-p 00000000 00:00 0 [stack]\n\
                    ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n";
        assert_eq!(
            parse_maps(text),
            vec![(0x55d0c000, 0x55d0e000), (0x7ffc1000, 0x7ffc3000)]
        );
        assert!(parse_maps("garbage\n").is_empty());
    }

    #[test]
    fn counts_and_runs() {
        let m = count_mappings(vec![10 << 1, 3 << 1 | 1, 10 << 1, 4 << 1, 10 << 1]);
        assert_eq!(
            m,
            vec![
                Mapped {
                    pfn: 3,
                    count: 1,
                    file: true
                },
                Mapped {
                    pfn: 4,
                    count: 1,
                    file: false
                },
                Mapped {
                    pfn: 10,
                    count: 3,
                    file: false
                },
            ]
        );
        assert_eq!(runs([3, 4, 10], 0), vec![(3, 2), (10, 1)]);
        assert_eq!(runs([3, 4, 10], 5), vec![(3, 8)]);
        assert_eq!(runs([], 5), vec![]);
        assert_eq!(runs([1, 1, 2], 0), vec![(1, 2)]);
    }

    #[test]
    fn unique_is_where_the_kernel_agrees() {
        // Known truth: a parent and 3 children. PFN 1..=4 are the parent's
        // copy-on-write pages (mapped 4 times in the group, 4 in the kernel):
        // unique. PFN 5 is libc, also mapped by one process outside (5 vs 4):
        // not unique. PFN 6, 7 private to a child; PFN 8 the zero page
        // (kernel count 0): not unique. PFN 9 shmem only the group maps.
        let mut hits = Vec::new();
        for pfn in [1u64, 2, 3, 4, 5] {
            hits.extend(std::iter::repeat_n(pfn << 1 | u64::from(pfn == 5), 4));
        }
        hits.extend([6 << 1, 7 << 1, 8 << 1, 8 << 1, 9 << 1 | 1, 9 << 1 | 1]);
        let kernel = |pfn: u64| match pfn {
            1..=4 => 4,
            5 => 5,
            6 | 7 => 1,
            9 => 2,
            _ => 0,
        };
        let u = unique(&count_mappings(hits), 4096, kernel);
        assert_eq!(u.anon, 6 * 4096);
        assert_eq!(u.file, 4096);
        assert_eq!(u.total(), 7 * 4096);
    }

    #[test]
    fn capabilities_from_status() {
        // CapEff of a docker exec here without and with `cap_add: [SYS_ADMIN]`.
        let plain = "Name:\tsh\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n";
        let admin = "CapEff:\t00000000a82425fb\n";
        assert_eq!(cap_eff(plain), Some(0xa80425fb));
        assert!(!has_sys_admin(0xa80425fb));
        assert!(has_sys_admin(cap_eff(admin).unwrap()));
        assert_eq!(cap_eff("Name:\tsh\n"), None);
    }

    #[test]
    fn replies_round_trip() {
        let read = GroupRead {
            unique: GroupUnique {
                anon: 117440512,
                file: 4096,
            },
            vanished: 2,
        };
        for r in [
            Reply::Ready {
                cap_eff: 0xa82425fb,
            },
            Reply::Read(Ok(read)),
            Reply::Read(Err(GroupError::NoPfns)),
            Reply::Read(Err(GroupError::Io("open /proc/kpagecount: denied".into()))),
        ] {
            assert_eq!(
                Reply::parse(&r.to_line()),
                Some(r.clone()),
                "{}",
                r.to_line()
            );
        }
        assert_eq!(
            Reply::Read(Err(GroupError::Io("a\nb".into()))).to_line(),
            "err a b"
        );
        assert_eq!(Reply::parse("ok 1 2"), None);
        assert_eq!(Reply::parse("hello"), None);
        assert_eq!(parse_pids("1 23  45\n"), Some(vec![1, 23, 45]));
        assert_eq!(parse_pids("1 x"), None);
    }

    #[test]
    fn reads_own_process_as_root() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            panic!("needs root (CAP_SYS_ADMIN) for PFNs; run the probe tests as root");
        }
        // 8 MiB touched privately: all of it unique to this process.
        let v = std::hint::black_box(vec![1u8; 8 << 20]);
        let me = std::process::id() as i32;
        let r = read_group(&[me]).unwrap();
        assert!(r.unique.anon >= 8 << 20, "{:?}", r.unique);
        assert_eq!(r.vanished, 0);
        std::hint::black_box(&v);
        let gone = read_group(&[i32::MAX]).unwrap();
        assert_eq!(gone.vanished, 1);
    }
}
