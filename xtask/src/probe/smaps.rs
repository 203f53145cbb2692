//! Where a process's memory is: `/proc/<pid>/smaps` (every mapping, not
//! the rollup) split into categories, with USS and PSS per category.
//! Pure: text in, numbers out, so it is fixture-tested and fuzzed.
//!
//! Categories, decided per mapping in this order:
//!
//! | category | rule |
//! |---|---|
//! | `heap` | `[heap]` (the brk area) |
//! | `stack` | `[stack]`, and anonymous thread stacks (below) |
//! | `anon:NAME` | `[anon:NAME]` (`prctl(PR_SET_VMA_ANON_NAME)`, kernels with `CONFIG_ANON_VMA_NAME`) |
//! | `memfd:NAME` | `/memfd:NAME (deleted)`: a named memfd, shared or private |
//! | `shmem` | `/dev/shm/*`, `/SYSV*` (SysV segments), `/dev/zero (deleted)` (shared anonymous), `[anon_shmem]` |
//! | `binary` | the target's own executable (text and data), by path |
//! | `lib:NAME` | a shared library (`*.so`, `*.so.N`), by file name |
//! | `tmpfs` | a file on a tmpfs mount (by the mapping's device, from mountinfo) |
//! | `file` | any other file |
//! | `kernel` | `[vdso]`, `[vvar]`, `[vsyscall]` and other `[...]` the kernel provides |
//! | `anon` | every other anonymous mapping (malloc arenas, mmap'd buffers) |
//!
//! **Thread stacks**: an anonymous writable mapping is a thread stack when
//! the mapping directly below it (its end is this one's start) is an
//! anonymous `---p` guard, which is how glibc and musl lay out pthread
//! stacks (guard at the low end, the stack grows down towards it); or when
//! it contains a thread's stack pointer as read from
//! `/proc/<pid>/task/<tid>/syscall` (a thread blocked in a system call).
//! glibc's malloc arenas have the opposite layout (the usable part first,
//! the `---p` reservation above it), so they stay `anon`. An allocator
//! that puts a `---p` guard below an ordinary buffer would be counted as
//! stack: the rule is documented, not perfect.
//!
//! The categories of one read sum exactly to that read's totals, which
//! equal `smaps_rollup` read at the same moment (tested on fixtures and by
//! property tests) for Rss, USS and Swap; PSS is within 1 kB per mapping
//! below the rollup's, which sums PSS before rounding to kB where smaps
//! rounds each mapping. A mapping whose fields cannot be parsed (a torn
//! read, a process exiting) is skipped and counted, never half-added.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Memory of one mapping or one category, bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mem {
    pub rss: u64,
    pub pss: u64,
    /// Private_Clean + Private_Dirty.
    pub uss: u64,
    pub swap: u64,
}

impl Mem {
    pub fn add(&mut self, o: &Mem) {
        self.rss = self.rss.saturating_add(o.rss);
        self.pss = self.pss.saturating_add(o.pss);
        self.uss = self.uss.saturating_add(o.uss);
        self.swap = self.swap.saturating_add(o.swap);
    }
}

/// What a mapping is, from its header line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Heap,
    Stack,
    AnonNamed(String),
    Memfd(String),
    Shmem,
    Binary,
    Lib(String),
    Tmpfs,
    File,
    Kernel,
    Anon,
}

impl Category {
    /// The key of the category in records and reports.
    pub fn key(&self) -> String {
        match self {
            Category::Heap => "heap".into(),
            Category::Stack => "stack".into(),
            Category::AnonNamed(n) => format!("anon:{n}"),
            Category::Memfd(n) => format!("memfd:{n}"),
            Category::Shmem => "shmem".into(),
            Category::Binary => "binary".into(),
            Category::Lib(n) => format!("lib:{n}"),
            Category::Tmpfs => "tmpfs".into(),
            Category::File => "file".into(),
            Category::Kernel => "kernel".into(),
            Category::Anon => "anon".into(),
        }
    }
}

/// One mapping of an smaps read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    /// `rwxp` / `rw-s`.
    pub perms: String,
    /// Device as (major, minor).
    pub dev: (u32, u32),
    pub inode: u64,
    /// The path or `[name]`; empty for plain anonymous memory.
    pub path: String,
    pub mem: Mem,
}

impl Mapping {
    fn anonymous(&self) -> bool {
        self.path.is_empty() && self.inode == 0
    }
}

/// A parsed smaps read: the mappings whose fields were all readable, and
/// how many were skipped (torn or malformed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Smaps {
    pub mappings: Vec<Mapping>,
    pub skipped: u32,
}

impl Smaps {
    /// The read's totals: what `smaps_rollup` says at the same moment.
    pub fn total(&self) -> Mem {
        let mut t = Mem::default();
        for m in &self.mappings {
            t.add(&m.mem);
        }
        t
    }
}

/// A mapping header: `start-end perms offset major:minor inode [path]`.
fn parse_header(line: &str) -> Option<Mapping> {
    let mut it = line.splitn(6, ' ');
    let range = it.next()?;
    let perms = it.next()?;
    let _offset = it.next()?;
    let dev = it.next()?;
    let inode = it.next()?;
    let path = it.next().unwrap_or("").trim_start().trim_end_matches('\n');
    let (s, e) = range.split_once('-')?;
    let start = u64::from_str_radix(s, 16).ok()?;
    let end = u64::from_str_radix(e, 16).ok()?;
    let (ma, mi) = dev.split_once(':')?;
    if perms.len() != 4 || end < start {
        return None;
    }
    Some(Mapping {
        start,
        end,
        perms: perms.to_string(),
        dev: (
            u32::from_str_radix(ma, 16).ok()?,
            u32::from_str_radix(mi, 16).ok()?,
        ),
        inode: inode.parse().ok()?,
        path: path.to_string(),
        mem: Mem::default(),
    })
}

/// The fields one mapping must carry to be counted.
#[derive(Default)]
struct Fields {
    rss: Option<u64>,
    pss: Option<u64>,
    clean: Option<u64>,
    dirty: Option<u64>,
    swap: Option<u64>,
    bad: bool,
}

impl Fields {
    fn finish(self, mut m: Mapping, out: &mut Smaps) {
        match (self.bad, self.rss, self.pss, self.clean, self.dirty) {
            (false, Some(rss), Some(pss), Some(c), Some(d)) => {
                m.mem = Mem {
                    rss,
                    pss,
                    uss: c + d,
                    swap: self.swap.unwrap_or(0),
                };
                out.mappings.push(m);
            }
            _ => out.skipped += 1,
        }
    }
}

/// `   1234 kB` in bytes.
fn kib(rest: &str) -> Option<u64> {
    rest.trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?
        .checked_mul(1024)
}

/// Parses `/proc/<pid>/smaps`. Never fails: an empty text (the process
/// exited) has no mappings; a mapping with a missing or unreadable field
/// (Rss, Pss, Private_Clean, Private_Dirty) is skipped and counted.
pub fn parse_smaps(text: &str) -> Smaps {
    let mut out = Smaps::default();
    let mut cur: Option<(Mapping, Fields)> = None;
    for line in text.lines() {
        let first = line.split(' ').next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            if let Some((m, f)) = cur.take() {
                f.finish(m, &mut out);
            }
            match parse_header(line) {
                Some(m) => cur = Some((m, Fields::default())),
                None => out.skipped += 1,
            }
            continue;
        }
        let Some((_, f)) = cur.as_mut() else {
            continue; // fields before any header: a torn start
        };
        let Some((key, rest)) = line.split_once(':') else {
            f.bad = true;
            continue;
        };
        let slot = match key {
            "Rss" => &mut f.rss,
            "Pss" => &mut f.pss,
            "Private_Clean" => &mut f.clean,
            "Private_Dirty" => &mut f.dirty,
            "Swap" => &mut f.swap,
            _ => continue,
        };
        match kib(rest) {
            Some(v) if slot.is_none() => *slot = Some(v),
            _ => f.bad = true,
        }
    }
    if let Some((m, f)) = cur.take() {
        f.finish(m, &mut out);
    }
    out
}

/// What classification needs besides the mappings.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// The target's executable as it appears in its smaps (the readlink of
    /// `/proc/<pid>/exe`, rendered by the same kernel function).
    pub exe: Option<&'a str>,
    /// Devices (major, minor) of tmpfs mounts, from [`tmpfs_devices`].
    pub tmpfs: &'a HashSet<(u32, u32)>,
    /// Stack pointers of threads blocked in a system call ([`parse_syscall_sp`]).
    pub stack_pointers: &'a [u64],
}

/// The file name of a shared library path, if it is one (`libc.so.6`,
/// `ld-linux-x86-64.so.2`, `libfoo.so`).
fn library_name(path: &str) -> Option<&str> {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    let name = path.rsplit('/').next()?;
    let (_, after) = name.split_once(".so")?;
    (after.is_empty() || after.starts_with('.')).then_some(name)
}

/// The category of mapping `i` of `maps` (which are in address order, as
/// smaps lists them).
pub fn classify(maps: &[Mapping], i: usize, ctx: &Context<'_>) -> Category {
    let m = &maps[i];
    let p = m.path.as_str();
    if p == "[heap]" {
        return Category::Heap;
    }
    if p == "[stack]" || p.starts_with("[stack:") {
        return Category::Stack;
    }
    if let Some(n) = p.strip_prefix("[anon:").and_then(|r| r.strip_suffix(']')) {
        return Category::AnonNamed(n.to_string());
    }
    if p == "[anon_shmem]" || p.starts_with("[anon_shmem:") {
        return Category::Shmem;
    }
    if p.starts_with('[') {
        return Category::Kernel;
    }
    if let Some(n) = p.strip_prefix("/memfd:") {
        let n = n.strip_suffix(" (deleted)").unwrap_or(n);
        return Category::Memfd(n.to_string());
    }
    if p.starts_with("/dev/shm/") || p.starts_with("/SYSV") || p.starts_with("/dev/zero") {
        return Category::Shmem;
    }
    if m.anonymous() {
        return if is_thread_stack(maps, i, ctx.stack_pointers) {
            Category::Stack
        } else {
            Category::Anon
        };
    }
    if ctx.exe.is_some_and(|e| e == p) {
        return Category::Binary;
    }
    if let Some(n) = library_name(p) {
        return Category::Lib(n.to_string());
    }
    if ctx.tmpfs.contains(&m.dev) {
        return Category::Tmpfs;
    }
    Category::File
}

/// The thread-stack rule of the module doc.
fn is_thread_stack(maps: &[Mapping], i: usize, sps: &[u64]) -> bool {
    let m = &maps[i];
    if !m.perms.starts_with("rw") {
        return false;
    }
    if sps.iter().any(|&sp| sp >= m.start && sp < m.end) {
        return true;
    }
    i > 0 && {
        let g = &maps[i - 1];
        g.end == m.start && g.anonymous() && g.perms.starts_with("---")
    }
}

/// One process's memory by category, plus its page tables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Breakdown {
    pub by: BTreeMap<Category, Mem>,
    pub total: Mem,
    /// Mappings skipped (torn or malformed).
    pub skipped: u32,
}

/// Sums a read's mappings by category; the categories add up to `total`.
pub fn breakdown(smaps: &Smaps, ctx: &Context<'_>) -> Breakdown {
    let mut b = Breakdown {
        skipped: smaps.skipped,
        total: smaps.total(),
        ..Default::default()
    };
    for (i, m) in smaps.mappings.iter().enumerate() {
        b.by.entry(classify(&smaps.mappings, i, ctx))
            .or_default()
            .add(&m.mem);
    }
    b
}

/// The devices of tmpfs mounts from `/proc/<pid>/mountinfo`
/// (`36 35 0:42 / /tmp rw - tmpfs tmpfs rw`: field 3 is major:minor in
/// decimal, the filesystem type follows ` - `). Malformed lines are skipped.
pub fn tmpfs_devices(mountinfo: &str) -> HashSet<(u32, u32)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (head, tail) = l.split_once(" - ")?;
            let fstype = tail.split_whitespace().next()?;
            if fstype != "tmpfs" && fstype != "devtmpfs" {
                return None;
            }
            let (ma, mi) = head.split_whitespace().nth(2)?.split_once(':')?;
            Some((ma.parse().ok()?, mi.parse().ok()?))
        })
        .collect()
}

/// The stack pointer of a thread blocked in a system call, from
/// `/proc/<pid>/task/<tid>/syscall` (`nr a1 … a6 sp pc`); `None` when it
/// is running (`running`), not in a call (`-1 sp pc`: still has sp) or the
/// text is malformed.
pub fn parse_syscall_sp(text: &str) -> Option<u64> {
    let f: Vec<&str> = text.split_whitespace().collect();
    let sp = match f.len() {
        9 => f[7],
        3 => f[1],
        _ => return None,
    };
    u64::from_str_radix(sp.strip_prefix("0x")?, 16).ok()
}

/// `VmPTE` (page tables) from `/proc/<pid>/status`, bytes.
pub fn parse_vm_pte(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmPTE:"))
        .and_then(kib)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::parse::parse_smaps_rollup;
    use proptest::prelude::*;

    fn data(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn map(start: u64, end: u64, perms: &str, inode: u64, path: &str) -> Mapping {
        Mapping {
            start,
            end,
            perms: perms.into(),
            inode,
            path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn fixture_categories_add_up_to_the_rollup_of_the_same_moment() {
        // A sleeping process read twice in a row: smaps then smaps_rollup.
        let s = parse_smaps(&data("smaps_sleep.txt"));
        let rollup = parse_smaps_rollup(&data("smaps_rollup_sleep.txt")).unwrap();
        assert_eq!(s.skipped, 0);
        let t = s.total();
        assert_eq!(
            (t.rss, t.uss, t.swap),
            (rollup.rss, rollup.uss, rollup.swap)
        );
        // The rollup sums PSS before rounding to kB; smaps rounds each
        // mapping down: at most 1 kB per mapping apart, never above.
        let slack = s.mappings.len() as u64 * 1024;
        assert!(
            t.pss <= rollup.pss && rollup.pss <= t.pss + slack,
            "{} vs {}",
            t.pss,
            rollup.pss
        );
        let none = HashSet::new();
        let ctx = Context {
            exe: Some("/usr/bin/sleep"),
            tmpfs: &none,
            stack_pointers: &[],
        };
        let b = breakdown(&s, &ctx);
        let mut sum = Mem::default();
        b.by.values().for_each(|m| sum.add(m));
        assert_eq!(sum, b.total);
        let keys: Vec<String> = b.by.keys().map(Category::key).collect();
        for k in ["heap", "stack", "binary", "lib:libc.so.6", "kernel"] {
            assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
        }
        assert!(b.by[&Category::Binary].rss > 0);
    }

    #[test]
    fn fixture_of_a_threaded_process_finds_its_thread_stacks() {
        // smaps of a process with 4 idle threads (guard + stack each).
        let s = parse_smaps(&data("smaps_threads.txt"));
        let none = HashSet::new();
        let ctx = Context {
            exe: None,
            tmpfs: &none,
            stack_pointers: &[],
        };
        let stacks = (0..s.mappings.len())
            .filter(|&i| {
                s.mappings[i].anonymous() && classify(&s.mappings, i, &ctx) == Category::Stack
            })
            .count();
        assert!(stacks >= 4, "{stacks} anonymous thread stacks");
    }

    #[test]
    fn guard_below_is_a_stack_and_reservation_above_is_an_arena() {
        let maps = vec![
            map(0x1000, 0x2000, "---p", 0, ""),
            map(0x2000, 0x9000, "rw-p", 0, ""),   // pthread stack
            map(0x10000, 0x20000, "rw-p", 0, ""), // arena heap part
            map(0x20000, 0x80000, "---p", 0, ""), // arena reservation
            map(0x90000, 0x91000, "rw-p", 0, ""),
        ];
        let none = HashSet::new();
        let mut ctx = Context {
            exe: None,
            tmpfs: &none,
            stack_pointers: &[],
        };
        assert_eq!(classify(&maps, 1, &ctx), Category::Stack);
        assert_eq!(classify(&maps, 2, &ctx), Category::Anon);
        assert_eq!(classify(&maps, 3, &ctx), Category::Anon);
        assert_eq!(classify(&maps, 4, &ctx), Category::Anon);
        let sps = [0x90800];
        ctx.stack_pointers = &sps;
        assert_eq!(classify(&maps, 4, &ctx), Category::Stack);
    }

    #[test]
    fn named_and_shared_and_file_mappings() {
        let tmp: HashSet<(u32, u32)> = [(0, 0x2a)].into_iter().collect();
        let ctx = Context {
            exe: Some("/usr/local/bin/gateway"),
            tmpfs: &tmp,
            stack_pointers: &[],
        };
        let cases = [
            ("/memfd:entities (deleted)", 7, "memfd:entities"),
            ("[anon:base]", 0, "anon:base"),
            ("/dev/shm/PostgreSQL.1", 9, "shmem"),
            ("/SYSV00000000 (deleted)", 3, "shmem"),
            ("/dev/zero (deleted)", 4, "shmem"),
            ("/usr/local/bin/gateway", 5, "binary"),
            (
                "/usr/lib/x86_64-linux-gnu/libssl.so.3",
                6,
                "lib:libssl.so.3",
            ),
            ("/lib64/ld-linux-x86-64.so.2", 6, "lib:ld-linux-x86-64.so.2"),
            ("/usr/lib/locale/C.utf8/LC_CTYPE", 8, "file"),
            ("/usr/lib/libsomething.socket", 8, "file"),
            ("[vdso]", 0, "kernel"),
        ];
        for (path, inode, want) in cases {
            let maps = vec![map(0, 0x1000, "rw-p", inode, path)];
            assert_eq!(classify(&maps, 0, &ctx).key(), want, "{path}");
        }
        let mut m = map(0, 0x1000, "rw-s", 11, "/run/x.db");
        m.dev = (0, 0x2a);
        assert_eq!(classify(&[m], 0, &ctx), Category::Tmpfs);
    }

    #[test]
    fn torn_and_malformed_mappings_are_skipped_and_counted() {
        let text = "\
00400000-00401000 r-xp 00000000 08:01 12 /bin/x
Rss:                   4 kB
Pss:                   4 kB
Private_Clean:         4 kB
Private_Dirty:         0 kB
00401000-00402000 rw-p 00000000 00:00 0
Rss:                   4 kB
Pss:         garbage kB
Private_Clean:         0 kB
Private_Dirty:         4 kB
zz-yy rw-p 0 0:0 0
00500000-00501000 rw-p 00000000 00:00 0
Rss:                   8 kB
";
        let s = parse_smaps(text);
        assert_eq!(s.mappings.len(), 1);
        assert_eq!(s.skipped, 3);
        assert_eq!(s.total().rss, 4096);
        assert_eq!(parse_smaps(""), Smaps::default());
    }

    #[test]
    fn mountinfo_syscall_and_pte() {
        let mi = "22 1 0:21 / /dev/shm rw,nosuid - tmpfs shm rw\n\
                  23 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                  24 1 0:44 / /tmp rw - tmpfs tmpfs rw\nbroken line\n";
        let d = tmpfs_devices(mi);
        assert!(d.contains(&(0, 21)) && d.contains(&(0, 44)) && d.len() == 2);
        assert_eq!(
            parse_syscall_sp("7 0x1 0x2 0x3 0x4 0x5 0x6 0x7ffd1000 0x401000\n"),
            Some(0x7ffd1000)
        );
        assert_eq!(
            parse_syscall_sp("-1 0x7ffd2000 0x401000\n"),
            Some(0x7ffd2000)
        );
        assert_eq!(parse_syscall_sp("running\n"), None);
        assert_eq!(
            parse_vm_pte("Name: x\nVmPTE:\t   120 kB\n"),
            Some(120 * 1024)
        );
        assert_eq!(parse_vm_pte("Name: x\n"), None);
    }

    /// One synthetic mapping: header fields and the four counted values.
    fn arb_mapping() -> impl Strategy<Value = (u8, bool, [u32; 5])> {
        (0u8..12, any::<bool>(), prop::array::uniform5(0u32..100_000))
    }

    const PATHS: [&str; 12] = [
        "",
        "[heap]",
        "[stack]",
        "[vdso]",
        "/usr/lib/libc.so.6",
        "/usr/bin/app",
        "/memfd:entities (deleted)",
        "[anon:base]",
        "/dev/shm/x",
        "/etc/ld.so.cache",
        "/tmp/f",
        "",
    ];

    fn render(maps: &[(u8, bool, [u32; 5])]) -> (String, [u64; 4]) {
        let mut text = String::new();
        let mut rollup = [0u64; 4];
        let mut addr = 0x1000u64;
        for &(kind, guard, [rss, pss, clean, dirty, swap]) in maps {
            let path = PATHS[kind as usize];
            let perms = if guard { "---p" } else { "rw-p" };
            let inode = if path.is_empty() || path.starts_with('[') {
                0
            } else {
                42
            };
            text += &format!(
                "{addr:08x}-{:08x} {perms} 00000000 00:2a {inode}   {path}\n\
                 Size:               4 kB\nRss:            {rss} kB\nPss:            {pss} kB\n\
                 Pss_Dirty:      0 kB\nShared_Clean:    0 kB\nPrivate_Clean:  {clean} kB\n\
                 Private_Dirty:  {dirty} kB\nSwap:           {swap} kB\nVmFlags: rd wr mr mw me ac\n",
                addr + 0x1000
            );
            addr += 0x1000;
            rollup[0] += u64::from(rss) * 1024;
            rollup[1] += u64::from(pss) * 1024;
            rollup[2] += u64::from(clean + dirty) * 1024;
            rollup[3] += u64::from(swap) * 1024;
        }
        (text, rollup)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(19), ..ProptestConfig::default() })]

        #[test]
        fn categories_sum_exactly_to_the_rollup(maps in prop::collection::vec(arb_mapping(), 0..60)) {
            let (text, rollup) = render(&maps);
            let s = parse_smaps(&text);
            prop_assert_eq!(s.skipped, 0);
            let tmp: HashSet<(u32, u32)> = [(0, 0x2a)].into_iter().collect();
            let ctx = Context { exe: Some("/usr/bin/app"), tmpfs: &tmp, stack_pointers: &[] };
            let b = breakdown(&s, &ctx);
            let mut sum = Mem::default();
            b.by.values().for_each(|m| sum.add(m));
            prop_assert_eq!(sum, b.total);
            prop_assert_eq!([b.total.rss, b.total.pss, b.total.uss, b.total.swap], rollup);
        }

        #[test]
        fn a_cut_read_never_panics_and_never_half_counts(
            maps in prop::collection::vec(arb_mapping(), 1..20),
            cut in 0usize..4000,
        ) {
            // A process exiting mid-read: the text ends anywhere.
            let (text, rollup) = render(&maps);
            let cut = text.char_indices().map(|(i, _)| i).take_while(|&i| i <= cut).last().unwrap_or(0);
            let s = parse_smaps(&text[..cut]);
            let t = s.total();
            prop_assert!(t.rss <= rollup[0] && t.uss <= rollup[2]);
            prop_assert!(s.mappings.len() + s.skipped as usize <= maps.len());
        }

        #[test]
        fn garbage_never_panics(text in "\\PC*(\n\\PC*){0,20}") {
            let s = parse_smaps(&text);
            let none = HashSet::new();
            let b = breakdown(&s, &Context { exe: None, tmpfs: &none, stack_pointers: &[] });
            let mut sum = Mem::default();
            b.by.values().for_each(|m| sum.add(m));
            prop_assert_eq!(sum, b.total);
            let _ = tmpfs_devices(&text);
            let _ = parse_syscall_sp(&text);
            let _ = parse_vm_pte(&text);
        }
    }
}
