//! From a tool's stacks to the place in the code a reader should look at.
//!
//! Both tools report the allocator first: `malloc`, and in Rust the inlined
//! shims `alloc`, `alloc_impl`, `RawVec::with_capacity_in`, `from_elem`
//! (valgrind 3.19 even prints them as `UnknownInlinedFun`). The *site* is
//! the innermost frame that is neither an allocator nor the standard
//! library; the frames above it are its callers. Rows with the same site
//! are summed (heaptrack prints one entry per backtrace).

use crate::results::leaks::SiteRow;
use runcost_leakparse::{tidy_symbol, HeapReport, MemcheckReport, Site};
use std::collections::BTreeMap;

/// Rows kept per table.
pub const TOP: usize = 10;
/// Callers kept per row.
const CALLERS: usize = 6;

/// One frame, tool-neutral.
struct F<'a> {
    function: &'a str,
    /// `file:line` as shown.
    location: Option<String>,
    /// The full path (with valgrind's directory), to tell library code.
    full: Option<String>,
}

fn is_allocator(name: &str) -> bool {
    let bare = name.split('<').next().unwrap_or(name).trim();
    matches!(
        bare,
        "malloc"
            | "calloc"
            | "realloc"
            | "free"
            | "memalign"
            | "aligned_alloc"
            | "posix_memalign"
            | "valloc"
            | "reallocarray"
            | "alloc"
            | "alloc_zeroed"
            | "realloc_impl"
            | "__rust_alloc"
            | "__rust_alloc_zeroed"
            | "__rust_realloc"
            | "__rdl_alloc"
            | "__rdl_alloc_zeroed"
            | "__rdl_realloc"
            | "__rg_alloc"
            | "UnknownInlinedFun"
            | "??"
    ) || bare.starts_with("operator new")
        || bare.starts_with("0x")
        || bare.is_empty()
}

/// Frames from the Rust or C++ standard library.
fn is_std(location: Option<&str>) -> bool {
    location.is_some_and(|l| {
        l.contains("/rustc/")
            || l.starts_with("library/")
            || l.contains("/include/c++/")
            || l.contains("/library/alloc/")
            || l.contains("/library/core/")
            || l.contains("/library/std/")
    })
}

/// Rust standard library functions by name, for frames without a location.
fn is_std_name(function: &str) -> bool {
    let t = tidy_symbol(function);
    let bare = t.trim_start_matches('<');
    ["alloc::", "core::", "std::", "T as alloc::", "T as core::"]
        .iter()
        .any(|p| bare.starts_with(p))
}

fn plumbing(f: &F<'_>) -> bool {
    is_allocator(f.function)
        || is_std(f.full.as_deref().or(f.location.as_deref()))
        || is_std_name(f.function)
}

/// (site, location, callers) of a stack, innermost first.
fn pick(frames: &[F<'_>]) -> (String, Option<String>, Vec<String>) {
    let at = frames
        .iter()
        .position(|f| !plumbing(f))
        .or_else(|| frames.iter().position(|f| !is_allocator(f.function)))
        .unwrap_or(0);
    let Some(site) = frames.get(at) else {
        return ("?".into(), None, Vec::new());
    };
    let callers = frames[at + 1..]
        .iter()
        .filter(|f| !plumbing(f))
        .take(CALLERS)
        .map(|f| match &f.location {
            Some(l) => format!("{} ({})", display(f.function), short_path(l)),
            None => display(f.function),
        })
        .collect();
    (
        display(site.function),
        site.location.as_deref().map(short_path),
        callers,
    )
}

/// A symbol for a table: tidied, and generic arguments of long names
/// elided (`poll_future<gateway::…, Arc<…>>` → `poll_future<…>`).
fn display(function: &str) -> String {
    let t = tidy_symbol(function);
    if t.len() <= 60 {
        return t;
    }
    let mut out = String::with_capacity(t.len());
    let mut depth = 0usize;
    for c in t.chars() {
        match c {
            '<' => {
                if depth == 0 {
                    out.push_str("<…");
                }
                depth += 1;
            }
            '>' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push('>');
                }
            }
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Cargo registry paths shortened to `crate-x.y/src/...`.
fn short_path(l: &str) -> String {
    match l.find("/registry/src/") {
        Some(i) => {
            let rest = &l[i + "/registry/src/".len()..];
            rest.split_once('/')
                .map(|(_, r)| r.to_string())
                .unwrap_or_else(|| rest.to_string())
        }
        None => l.to_string(),
    }
}

fn heap_frames(s: &Site) -> Vec<F<'_>> {
    let mut out: Vec<F<'_>> = s
        .frames
        .iter()
        .map(|f| F {
            function: &f.function,
            location: f.location.clone(),
            full: None,
        })
        .collect();
    if out.is_empty() {
        out.push(F {
            function: &s.function,
            location: s.location.clone(),
            full: None,
        });
    }
    // Merged output prints the callers as sub-backtraces.
    if let Some(b) = s.backtraces.first() {
        out.extend(b.frames.iter().map(|f| F {
            function: &f.function,
            location: f.location.clone(),
            full: None,
        }));
    }
    out
}

/// Sums rows with the same (kind, site, location), heaviest first by
/// `key`, the first `TOP`.
fn merge(rows: Vec<SiteRow>, key: impl Fn(&SiteRow) -> u64) -> Vec<SiteRow> {
    let mut by: BTreeMap<(Option<String>, String, Option<String>), SiteRow> = BTreeMap::new();
    for r in rows {
        let k = (r.kind.clone(), r.site.clone(), r.location.clone());
        match by.get_mut(&k) {
            Some(e) => {
                let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
                };
                // Keep the callers of the heavier row.
                if key(&r) > key(e) {
                    e.stack = r.stack.clone();
                }
                e.bytes = add(e.bytes, r.bytes);
                e.count = add(e.count, r.count);
            }
            None => {
                by.insert(k, r);
            }
        }
    }
    let mut rows: Vec<SiteRow> = by.into_values().collect();
    rows.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.site.cmp(&b.site)));
    rows.truncate(TOP);
    rows
}

fn heap_rows(sites: &[Site], by_count: bool) -> Vec<SiteRow> {
    let rows = sites
        .iter()
        .map(|s| {
            let (site, location, stack) = pick(&heap_frames(s));
            SiteRow {
                site,
                location,
                bytes: s.bytes,
                count: s.count,
                kind: None,
                stack,
            }
        })
        .collect();
    if by_count {
        merge(rows, |r| r.count.unwrap_or(0))
    } else {
        merge(rows, |r| r.bytes.unwrap_or(0))
    }
}

/// Top sites of each `heaptrack_print` section: leaks, peak, allocations
/// (by calls), temporary (by temporary allocations).
pub struct HeapTables {
    pub leaks: Vec<SiteRow>,
    pub peak: Vec<SiteRow>,
    pub allocations: Vec<SiteRow>,
    pub temporary: Vec<SiteRow>,
}

pub fn heap_tables(r: &HeapReport) -> HeapTables {
    HeapTables {
        leaks: heap_rows(&r.leaks, false),
        peak: heap_rows(&r.peak, false),
        allocations: heap_rows(&r.allocations, true),
        temporary: heap_rows(&r.temporary, true),
    }
}

fn memcheck_frames(e: &runcost_leakparse::MemcheckError) -> Vec<F<'_>> {
    e.stack
        .iter()
        .map(|f| F {
            function: f.function.as_deref().unwrap_or("??"),
            location: match (&f.file, f.line) {
                (Some(file), Some(l)) => Some(format!("{file}:{l}")),
                (Some(file), None) => Some(file.clone()),
                _ => None,
            },
            full: match (&f.dir, &f.file) {
                (Some(d), Some(file)) => Some(format!("{d}/{file}")),
                (None, Some(file)) => Some(file.clone()),
                _ => None,
            },
        })
        .collect()
}

/// Loss records by kind and site, definitely lost first, then by bytes.
pub fn memcheck_leaks(r: &MemcheckReport) -> Vec<SiteRow> {
    let rows: Vec<SiteRow> = r
        .leaks()
        .map(|e| {
            let (site, location, stack) = pick(&memcheck_frames(e));
            SiteRow {
                site,
                location,
                bytes: e.own_bytes(),
                count: e.leaked_blocks,
                kind: Some(e.kind.as_str().to_string()),
                stack,
            }
        })
        .collect();
    let rank = |k: &Option<String>| match k.as_deref() {
        Some("Leak_DefinitelyLost") => 0,
        Some("Leak_IndirectlyLost") => 1,
        Some("Leak_PossiblyLost") => 2,
        _ => 3,
    };
    let mut out = Vec::new();
    for tier in 0..4 {
        let these: Vec<SiteRow> = rows
            .iter()
            .filter(|r| rank(&r.kind) == tier)
            .cloned()
            .collect();
        out.extend(merge(these, |r| r.bytes.unwrap_or(0)));
    }
    out.truncate(TOP);
    out
}

/// Memory errors (not leaks) by kind and site, most frequent first.
pub fn memcheck_errors(r: &MemcheckReport) -> Vec<SiteRow> {
    let rows = r
        .memory_errors()
        .map(|e| {
            let (site, location, stack) = pick(&memcheck_frames(e));
            let count = e
                .unique
                .as_ref()
                .and_then(|u| r.error_counts.get(u).copied())
                .unwrap_or(1);
            SiteRow {
                site,
                location,
                bytes: None,
                count: Some(count),
                kind: Some(e.kind.as_str().to_string()),
                stack,
            }
        })
        .collect();
    merge(rows, |r| r.count.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("leakparse/tests/data")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn c_fixture_sites_are_the_leaking_functions() {
        let r = runcost_leakparse::parse_memcheck_xml(&data("leaky.memcheck.xml")).unwrap();
        let rows = memcheck_leaks(&r);
        assert_eq!(rows[0].kind.as_deref(), Some("Leak_DefinitelyLost"));
        let definite: Vec<&str> = rows
            .iter()
            .filter(|r| r.kind.as_deref() == Some("Leak_DefinitelyLost"))
            .map(|r| r.site.as_str())
            .collect();
        assert!(definite.contains(&"leak_definite"), "{definite:?}");
        assert!(definite.contains(&"make_holder"), "{definite:?}");
        let total: u64 = rows
            .iter()
            .filter(|r| r.kind.as_deref() == Some("Leak_DefinitelyLost"))
            .filter_map(|r| r.bytes)
            .sum();
        assert_eq!(total, 116, "direct bytes, as valgrind's summary");
        let errors = memcheck_errors(&r);
        assert_eq!(errors[0].kind.as_deref(), Some("InvalidRead"));
        assert_eq!(errors[0].site, "invalid_read");

        let h =
            runcost_leakparse::parse_heaptrack_print_bytes(&data("leaky.heaptrack.txt")).unwrap();
        let t = heap_tables(&h);
        let sites: Vec<&str> = t.leaks.iter().map(|r| r.site.as_str()).collect();
        assert!(sites.contains(&"leak_definite"), "{sites:?}");
        assert!(!sites.contains(&"malloc"), "{sites:?}");
    }

    #[test]
    fn rust_fixture_site_skips_the_allocator_shims() {
        let r = runcost_leakparse::parse_memcheck_xml(&data("leaky_rs.memcheck.xml")).unwrap();
        let rows = memcheck_leaks(&r);
        assert!(
            rows.iter().any(|r| r.site.contains("leak_bucket")),
            "{rows:#?}"
        );
        let h = runcost_leakparse::parse_heaptrack_print_bytes(&data("leaky_rs.heaptrack.txt"))
            .unwrap();
        let t = heap_tables(&h);
        assert!(
            t.leaks.iter().any(|r| r.site.contains("leak_bucket")),
            "{:#?}",
            t.leaks
        );
    }

    #[test]
    fn rows_with_the_same_site_are_summed() {
        let row = |site: &str, bytes: u64| SiteRow {
            site: site.into(),
            bytes: Some(bytes),
            count: Some(1),
            ..Default::default()
        };
        let m = merge(vec![row("a", 10), row("b", 15), row("a", 10)], |r| {
            r.bytes.unwrap_or(0)
        });
        assert_eq!(m[0].site, "a");
        assert_eq!((m[0].bytes, m[0].count), (Some(20), Some(2)));
        assert_eq!(m[1].site, "b");
        assert_eq!(
            display("poll_future<gateway::server::connection::{async_fn_env#0}, alloc::sync::Arc<tokio::Handle>>"),
            "poll_future<…>"
        );
        assert_eq!(
            display("gateway::leak::leak_tick"),
            "gateway::leak::leak_tick"
        );
        assert_eq!(short_path("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/x.rs:3"), "tokio-1.54.1/src/x.rs:3");
    }
}
