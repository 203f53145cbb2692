//! Parser for the text `heaptrack_print` writes to stdout.
//!
//! Layout of heaptrack 1.4 with merged backtraces (the default):
//!
//! ```text
//! reading file "x.zst" - please wait, this might take some time...
//! Debuggee command was: ./leaky
//! finished reading file, now analyzing data:
//!
//! MEMORY LEAKS
//! 100B leaked over 1 calls from          <- entry: one allocation site
//! leak_definite                          <- the site's function
//!   at /src/leaky.c:25                   <- its location
//!   in /bin/leaky                        <- its module
//! 100B leaked over 1 calls from:         <- one backtrace into the site
//!     main
//!       at /src/leaky.c:69
//!       in /bin/leaky
//!   and 0B from 2 other places           <- backtraces not printed
//!
//! total runtime: 0.00s.
//! calls to allocation functions: 58 (29000/s)
//! ...
//! ```
//!
//! Inlined frames follow their frame with an `at` line but no `in` line.
//! With `--merge-backtraces=0` an entry has no sub-labels: its whole
//! backtrace is indented under the entry line. Older heaptrack versions print
//! `MB`/`KB` units, a `bytes allocated in total` summary line and a
//! `MOST MEMORY ALLOCATED OVER TIME` section; those are read too.

use serde::{Deserialize, Serialize};

use crate::error::{excerpt, ParseError};
use crate::number::{parse_seconds, parse_size, parse_u64};
use crate::symbol::tidy_symbol;

/// At most this many warnings are kept; the rest are counted in a last one.
const MAX_WARNINGS: usize = 100;

/// The summary block at the end of `heaptrack_print` output. A field is
/// `None` when its line is missing (older versions, cut output) or unreadable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeapSummary {
    /// `total runtime: 0.00s.`
    pub runtime_seconds: Option<f64>,
    /// `calls to allocation functions: N (R/s)`: N.
    pub total_allocations: Option<u64>,
    /// `calls to allocation functions: N (R/s)`: R.
    pub allocations_per_second: Option<u64>,
    /// `temporary memory allocations: N (R/s)`: N.
    pub temporary_allocations: Option<u64>,
    /// `temporary memory allocations: N (R/s)`: R.
    pub temporary_per_second: Option<u64>,
    /// `bytes allocated in total (ignoring deallocations): X` (heaptrack
    /// before 1.4 only).
    pub total_allocated_bytes: Option<u64>,
    /// `peak heap memory consumption: X`.
    pub peak_heap_bytes: Option<u64>,
    /// `peak RSS (including heaptrack overhead): X`.
    pub peak_rss_bytes: Option<u64>,
    /// `total memory leaked: X` (after suppressions).
    pub leaked_bytes: Option<u64>,
    /// `suppressed leaks: X`; heaptrack prints the line only when non-zero,
    /// so `None` next to a present `leaked_bytes` means zero.
    pub suppressed_leak_bytes: Option<u64>,
}

/// One frame of a backtrace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeapFrame {
    /// Function name as printed (`0x7f...` when unknown, `??` for no trace).
    pub function: String,
    /// `file:line` from the `at` line, if any.
    pub location: Option<String>,
    /// Binary or library from the `in` line; inlined frames have none.
    pub module: Option<String>,
}

/// One backtrace leading into a merged allocation site (a sub-entry ending
/// in `from:`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backtrace {
    /// Bytes on the sub-entry line (peak, leaked), if it has any.
    pub bytes: Option<u64>,
    /// Calls, or temporary allocations in the temporary section.
    pub count: Option<u64>,
    /// Temporary section: all allocations on this path.
    pub total_count: Option<u64>,
    /// Callers, innermost first.
    pub frames: Vec<HeapFrame>,
}

/// `and X from N other places`: backtraces heaptrack did not print.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherPlaces {
    /// Bytes, or calls in the allocations section, of those backtraces.
    pub amount: Option<u64>,
    /// How many backtraces.
    pub places: Option<u64>,
}

/// One entry of a section: an allocation site with its numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// Leaked bytes (leaks), peak bytes (peak and allocations sections);
    /// `None` in the temporary section. Sizes of 1000 bytes and more are
    /// rounded by heaptrack (`4.10K` -> 4100).
    pub bytes: Option<u64>,
    /// Calls to allocation functions at the site; temporary allocations in
    /// the temporary section. Not a count of leaked blocks.
    pub count: Option<u64>,
    /// Temporary section: all allocations at the site.
    pub total_count: Option<u64>,
    /// The allocating function, as printed.
    pub function: String,
    /// `file:line` of the allocation, if known.
    pub location: Option<String>,
    /// Binary or library of the allocation, if known.
    pub module: Option<String>,
    /// Function names of the call chain above the site, innermost first:
    /// the functions the site was inlined into, then the first (heaviest)
    /// backtrace. See `frames` and `backtraces` for locations.
    pub stack: Vec<String>,
    /// The frames printed directly under the entry line: the site itself,
    /// then what it was inlined into (with `--merge-backtraces=0`, the whole
    /// backtrace).
    pub frames: Vec<HeapFrame>,
    /// The backtraces into this site, heaviest first.
    pub backtraces: Vec<Backtrace>,
    /// Backtraces left out (`and X from N other places`).
    pub other_places: Option<OtherPlaces>,
}

impl Site {
    /// Whether `needle` occurs in the site's function or any function of its
    /// backtraces, as printed or after [`tidy_symbol`].
    pub fn mentions(&self, needle: &str) -> bool {
        let hit = |f: &str| f.contains(needle) || tidy_symbol(f).contains(needle);
        hit(&self.function)
            || self.frames.iter().any(|f| hit(&f.function))
            || self
                .backtraces
                .iter()
                .flat_map(|b| &b.frames)
                .any(|f| hit(&f.function))
    }
}

/// One row of the `Suppressions used:` table (`--print-suppressions=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionUse {
    /// Allocations matched.
    pub matches: u64,
    /// Bytes suppressed.
    pub leaked_bytes: Option<u64>,
    /// The pattern (heaptrack 1.4 prints it empty for patterns from a
    /// `--suppressions` file).
    pub pattern: String,
}

/// Everything read from one `heaptrack_print` output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeapReport {
    /// The summary numbers.
    pub summary: HeapSummary,
    /// `MEMORY LEAKS` (printed only with `--print-leaks=1`).
    pub leaks: Vec<Site>,
    /// `PEAK MEMORY CONSUMERS`.
    pub peak: Vec<Site>,
    /// `MOST CALLS TO ALLOCATION FUNCTIONS`.
    pub allocations: Vec<Site>,
    /// `MOST TEMPORARY ALLOCATIONS`.
    pub temporary: Vec<Site>,
    /// `MOST MEMORY ALLOCATED OVER TIME` (heaptrack before 1.4).
    pub allocated: Vec<Site>,
    /// `Debuggee command was: ...`.
    pub debuggee: Option<String>,
    /// Section headings seen, in order.
    pub sections: Vec<String>,
    /// The `Suppressions used:` table.
    pub suppressions: Vec<SuppressionUse>,
    /// Lines not understood and other oddities; never fatal.
    pub warnings: Vec<String>,
}

impl HeapReport {
    /// Parses `heaptrack_print` output; same as [`parse_heaptrack_print`].
    pub fn parse(text: &str) -> Result<HeapReport, ParseError> {
        parse_heaptrack_print(text)
    }

    /// `total memory leaked` from the summary, if present.
    pub fn leaked_bytes(&self) -> Option<u64> {
        self.summary.leaked_bytes
    }

    /// Whether the leak section was printed (`--print-leaks=1`).
    pub fn has_leak_section(&self) -> bool {
        self.sections.iter().any(|s| s == "MEMORY LEAKS")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Allocations,
    Peak,
    Leaks,
    Temporary,
    Allocated,
}

impl Section {
    fn from_heading(line: &str) -> Option<Section> {
        match line {
            "MOST CALLS TO ALLOCATION FUNCTIONS" => Some(Section::Allocations),
            "PEAK MEMORY CONSUMERS" => Some(Section::Peak),
            "MEMORY LEAKS" => Some(Section::Leaks),
            "MOST TEMPORARY ALLOCATIONS" => Some(Section::Temporary),
            l if l.starts_with("MOST MEMORY ALLOCATED OVER TIME")
                || l.starts_with("MOST BYTES ALLOCATED") =>
            {
                Some(Section::Allocated)
            }
            _ => None,
        }
    }
}

/// Numbers read from an entry or sub-entry line.
#[derive(Debug, Default, Clone, Copy)]
struct Label {
    kind: Option<Section>,
    bytes: Option<u64>,
    count: Option<u64>,
    total: Option<u64>,
}

/// Where `at`/`in` lines and new frames go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    SiteFrames,
    Backtrace,
}

struct OpenSite {
    section: Option<Section>,
    site: Site,
    target: Target,
}

#[derive(Default)]
struct Parser {
    report: HeapReport,
    section: Option<Section>,
    open: Option<OpenSite>,
    in_suppression_table: bool,
    recognised: usize,
    summary_lines: usize,
    dropped_warnings: usize,
    entries_without_section: usize,
}

/// Parses the whole stdout of `heaptrack_print`.
///
/// Unknown lines become warnings. Fails only on empty input, or when not a
/// single line is recognisable as `heaptrack_print` output.
pub fn parse_heaptrack_print(text: &str) -> Result<HeapReport, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ParseError::Empty {
            what: "heaptrack_print".into(),
        });
    }
    let mut p = Parser::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        p.line(i + 1, line);
    }
    p.flush_site();
    p.finish(text)
}

/// [`parse_heaptrack_print`] on raw bytes; invalid UTF-8 is replaced.
pub fn parse_heaptrack_print_bytes(bytes: &[u8]) -> Result<HeapReport, ParseError> {
    parse_heaptrack_print(&String::from_utf8_lossy(bytes))
}

impl Parser {
    fn warn(&mut self, msg: String) {
        if self.report.warnings.len() < MAX_WARNINGS {
            self.report.warnings.push(msg);
        } else {
            self.dropped_warnings += 1;
        }
    }

    fn line(&mut self, no: usize, line: &str) {
        let trimmed = line.trim();
        let indented = line.starts_with(' ') || line.starts_with('\t');

        if trimmed.is_empty() {
            self.flush_site();
            self.in_suppression_table = false;
            return;
        }

        if self.in_suppression_table {
            if self.suppression_row(trimmed) {
                self.recognised += 1;
                return;
            }
            self.in_suppression_table = false;
        }

        if !indented {
            if let Some(section) = Section::from_heading(trimmed) {
                self.flush_site();
                self.section = Some(section);
                self.report.sections.push(trimmed.to_string());
                self.recognised += 1;
                return;
            }
            if self.header_line(trimmed) || self.summary_line(no, trimmed) {
                self.recognised += 1;
                return;
            }
            if trimmed == "Suppressions used:" {
                self.flush_site();
                self.in_suppression_table = true;
                self.recognised += 1;
                return;
            }
            if looks_like_heading(trimmed) {
                self.flush_site();
                self.section = None;
                self.report.sections.push(trimmed.to_string());
                self.warn(format!("line {no}: unknown section {trimmed:?}"));
                return;
            }
        }

        if let Some(label) = label_line(trimmed) {
            self.recognised += 1;
            if trimmed.ends_with(':') {
                self.sub_label(no, label);
            } else {
                self.entry(no, label);
            }
            return;
        }

        if let Some(other) = other_places_line(trimmed) {
            self.recognised += 1;
            match self.open.as_mut() {
                Some(open) => open.site.other_places = Some(other),
                None => self.warn(format!("line {no}: {trimmed:?} outside an entry")),
            }
            return;
        }

        if self.open.is_some() {
            self.frame_line(trimmed);
            return;
        }

        self.warn(format!("line {no}: unrecognised {}", excerpt(trimmed, 120)));
    }

    fn header_line(&mut self, trimmed: &str) -> bool {
        if let Some(cmd) = trimmed.strip_prefix("Debuggee command was:") {
            self.flush_site();
            self.report.debuggee = Some(cmd.trim().to_string());
            return true;
        }
        trimmed.starts_with("reading file \"")
            || trimmed.starts_with("reading diff file \"")
            || trimmed.starts_with("finished reading file")
    }

    fn summary_line(&mut self, no: usize, trimmed: &str) -> bool {
        let Some((key, value)) = trimmed.split_once(':') else {
            return self.old_total_line(no, trimmed);
        };
        let value = value.trim();
        let s = &mut self.report.summary;
        let (ok, what) = match key.trim() {
            "total runtime" => {
                s.runtime_seconds = parse_seconds(value);
                (s.runtime_seconds.is_some(), "total runtime")
            }
            "calls to allocation functions" => {
                let (n, rate) = count_and_rate(value);
                s.total_allocations = n;
                s.allocations_per_second = rate;
                (n.is_some(), "calls to allocation functions")
            }
            "temporary memory allocations" => {
                let (n, rate) = count_and_rate(value);
                s.temporary_allocations = n;
                s.temporary_per_second = rate;
                (n.is_some(), "temporary memory allocations")
            }
            "bytes allocated in total (ignoring deallocations)" => {
                s.total_allocated_bytes = parse_size(before_paren(value));
                (s.total_allocated_bytes.is_some(), "bytes allocated")
            }
            "peak heap memory consumption" => {
                s.peak_heap_bytes = parse_size(value);
                (s.peak_heap_bytes.is_some(), "peak heap memory consumption")
            }
            k if k.starts_with("peak RSS") => {
                s.peak_rss_bytes = parse_size(value);
                (s.peak_rss_bytes.is_some(), "peak RSS")
            }
            "total memory leaked" => {
                s.leaked_bytes = parse_size(value);
                (s.leaked_bytes.is_some(), "total memory leaked")
            }
            "suppressed leaks" => {
                s.suppressed_leak_bytes = parse_size(value);
                (s.suppressed_leak_bytes.is_some(), "suppressed leaks")
            }
            _ => return false,
        };
        self.flush_site();
        self.section = None;
        self.summary_lines += 1;
        if !ok {
            self.warn(format!("line {no}: unreadable value in {what}: {value:?}"));
        }
        true
    }

    /// heaptrack 1.0: `N bytes allocated in total (ignoring deallocations)
    /// over M calls to allocation functions.`
    fn old_total_line(&mut self, no: usize, trimmed: &str) -> bool {
        let Some((bytes, rest)) =
            trimmed.split_once(" allocated in total (ignoring deallocations)")
        else {
            return false;
        };
        self.flush_site();
        self.section = None;
        self.summary_lines += 1;
        let s = &mut self.report.summary;
        s.total_allocated_bytes = parse_size(bytes);
        let calls = rest
            .trim()
            .strip_prefix("over ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(parse_u64);
        if calls.is_some() {
            s.total_allocations = calls;
        }
        if s.total_allocated_bytes.is_none() {
            self.warn(format!("line {no}: unreadable value in {trimmed:?}"));
        }
        true
    }

    fn suppression_row(&mut self, trimmed: &str) -> bool {
        if trimmed.starts_with("matches") {
            return true; // column header
        }
        let mut parts = trimmed.splitn(3, char::is_whitespace);
        let Some(matches) = parts.next().and_then(parse_u64) else {
            return false;
        };
        let rest = parts.collect::<Vec<_>>().join(" ");
        let rest = rest.trim_start();
        let (size, pattern) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        self.report.suppressions.push(SuppressionUse {
            matches,
            leaked_bytes: parse_size(size),
            pattern: pattern.trim().to_string(),
        });
        true
    }

    fn entry(&mut self, no: usize, label: Label) {
        self.flush_site();
        let section = match (label.kind, self.section) {
            (Some(k), Some(s)) if k != s => {
                self.warn(format!(
                    "line {no}: {k:?} entry under the {s:?} section; filed as {k:?}"
                ));
                Some(k)
            }
            (Some(k), _) => Some(k),
            (None, s) => s,
        };
        if self.section.is_none() && section.is_some() {
            self.entries_without_section += 1;
        }
        self.open = Some(OpenSite {
            section,
            site: Site {
                bytes: label.bytes,
                count: label.count,
                total_count: label.total,
                ..Site::default()
            },
            target: Target::SiteFrames,
        });
    }

    fn sub_label(&mut self, no: usize, label: Label) {
        match self.open.as_mut() {
            Some(open) => {
                open.site.backtraces.push(Backtrace {
                    bytes: label.bytes,
                    count: label.count,
                    total_count: label.total,
                    frames: Vec::new(),
                });
                open.target = Target::Backtrace;
            }
            None => self.warn(format!("line {no}: backtrace header outside an entry")),
        }
    }

    fn frame_line(&mut self, trimmed: &str) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let frames = match open.target {
            Target::SiteFrames => &mut open.site.frames,
            Target::Backtrace => match open.site.backtraces.last_mut() {
                Some(b) => &mut b.frames,
                None => &mut open.site.frames,
            },
        };
        if let Some(loc) = trimmed.strip_prefix("at ") {
            match frames.last_mut() {
                Some(f) if f.location.is_none() => f.location = Some(loc.to_string()),
                _ => frames.push(HeapFrame {
                    function: "??".into(),
                    location: Some(loc.to_string()),
                    module: None,
                }),
            }
        } else if let Some(module) = trimmed.strip_prefix("in ") {
            match frames.last_mut() {
                Some(f) if f.module.is_none() => f.module = Some(module.to_string()),
                _ => frames.push(HeapFrame {
                    function: "??".into(),
                    location: None,
                    module: Some(module.to_string()),
                }),
            }
        } else {
            frames.push(HeapFrame {
                function: trimmed.to_string(),
                location: None,
                module: None,
            });
        }
    }

    fn flush_site(&mut self) {
        let Some(OpenSite {
            section, mut site, ..
        }) = self.open.take()
        else {
            return;
        };
        if let Some(first) = site.frames.first() {
            site.function = first.function.clone();
            site.location = first.location.clone();
            site.module = first.module.clone();
        } else {
            site.function = "??".into();
        }
        site.stack = site
            .frames
            .iter()
            .skip(1)
            .chain(site.backtraces.first().map_or(&[][..], |b| &b.frames[..]))
            .map(|f| f.function.clone())
            .collect();
        match section {
            Some(Section::Leaks) => self.report.leaks.push(site),
            Some(Section::Peak) => self.report.peak.push(site),
            Some(Section::Allocations) => self.report.allocations.push(site),
            Some(Section::Temporary) => self.report.temporary.push(site),
            Some(Section::Allocated) => self.report.allocated.push(site),
            None => self.warn(format!(
                "entry for {:?} in no known section, dropped",
                site.function
            )),
        }
    }

    fn finish(mut self, text: &str) -> Result<HeapReport, ParseError> {
        if self.recognised == 0 {
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(ParseError::NotHeaptrack {
                first_line: excerpt(first.trim(), 80),
            });
        }
        if self.entries_without_section > 0 {
            self.warn(format!(
                "{} entries before any section heading: output cut at the top?",
                self.entries_without_section
            ));
        }
        if self.summary_lines == 0 {
            self.warn(
                "no summary lines (total memory leaked, ...): output cut at the end?".to_string(),
            );
        }
        if self.report.summary.leaked_bytes.is_some_and(|b| b > 0)
            && !self.report.has_leak_section()
        {
            self.warn(
                "memory was leaked but there is no MEMORY LEAKS section: \
                 run heaptrack_print with --print-leaks=1"
                    .to_string(),
            );
        }
        if self.dropped_warnings > 0 {
            let n = self.dropped_warnings;
            self.report.warnings.push(format!("... {n} more warnings"));
        }
        Ok(self.report)
    }
}

/// An all-capitals line such as a section heading.
fn looks_like_heading(s: &str) -> bool {
    s.len() >= 6
        && s.contains(' ')
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b" ()-/".contains(&b))
}

/// `58 (29000/s)` -> (58, 29000).
fn count_and_rate(value: &str) -> (Option<u64>, Option<u64>) {
    let n = parse_u64(before_paren(value));
    let rate = value
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .and_then(|r| r.strip_suffix("/s"))
        .and_then(parse_u64);
    (n, rate)
}

fn before_paren(value: &str) -> &str {
    value.split_once('(').map_or(value, |(v, _)| v).trim()
}

/// `and 0B from 2 other places`.
fn other_places_line(trimmed: &str) -> Option<OtherPlaces> {
    let rest = trimmed.strip_prefix("and ")?;
    let rest = rest.strip_suffix(" other places")?;
    let (amount, places) = rest.rsplit_once(" from ")?;
    Some(OtherPlaces {
        amount: parse_size(amount),
        places: parse_u64(places),
    })
}

/// Reads an entry line (`... from`) or sub-entry line (`... from:`) of any
/// section. `None` when the line is not one.
fn label_line(trimmed: &str) -> Option<Label> {
    let first = trimmed.bytes().next()?;
    if !(first.is_ascii_digit() || first == b'-') {
        return None;
    }
    let body = trimmed.strip_suffix(':').unwrap_or(trimmed);
    let body = body.strip_suffix(" from")?;
    let words: Vec<&str> = body.split_whitespace().collect();

    // N temporary allocations of M allocations in total (P%)
    if let Some(pos) = find_seq(&words, &["temporary", "allocations", "of"]) {
        return Some(Label {
            kind: Some(Section::Temporary),
            bytes: None,
            count: words
                .first()
                .and_then(|w| parse_u64(w))
                .filter(|_| pos == 1),
            total: words.get(pos + 3).and_then(|w| parse_u64(w)),
        });
    }
    // N calls to allocation functions with X peak consumption
    // N calls with X peak consumption
    if words.get(1) == Some(&"calls") && words.contains(&"with") {
        let with = words.iter().position(|w| *w == "with")?;
        let kind = words.contains(&"functions").then_some(Section::Allocations);
        return Some(Label {
            kind,
            bytes: words.get(with + 1).and_then(|w| parse_size(w)),
            count: parse_u64(words[0]),
            total: None,
        });
    }
    // X peak memory consumed over N calls / X consumed over N calls /
    // X leaked over N calls / X allocated over N calls /
    // N bytes peak memory consumed over N calls (heaptrack 1.0)
    let over = words.iter().position(|w| *w == "over")?;
    if words.get(over + 2) != Some(&"calls") {
        return None;
    }
    let (size_end, what) = if words.get(1) == Some(&"bytes") {
        (2, &words[2..over])
    } else {
        (1, &words[1..over])
    };
    let kind = match what {
        ["peak", "memory", "consumed"] => Some(Section::Peak),
        ["leaked"] => Some(Section::Leaks),
        ["allocated"] => Some(Section::Allocated),
        ["consumed"] | [] => None,
        _ => return None,
    };
    Some(Label {
        kind,
        bytes: parse_size(&words[..size_end].join(" ")),
        count: words.get(over + 1).and_then(|w| parse_u64(w)),
        total: None,
    })
}

fn find_seq(words: &[&str], seq: &[&str]) -> Option<usize> {
    words.windows(seq.len()).position(|w| w == seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_each_section() {
        let l =
            label_line("50 calls to allocation functions with 0B peak consumption from").unwrap();
        assert_eq!(
            (l.kind, l.count, l.bytes),
            (Some(Section::Allocations), Some(50), Some(0))
        );
        let l = label_line("1 calls with 4.10K peak consumption from:").unwrap();
        assert_eq!((l.kind, l.count, l.bytes), (None, Some(1), Some(4100)));
        let l = label_line("72.70K peak memory consumed over 1 calls from").unwrap();
        assert_eq!(
            (l.kind, l.count, l.bytes),
            (Some(Section::Peak), Some(1), Some(72_700))
        );
        let l = label_line("72.70K consumed over 1 calls from:").unwrap();
        assert_eq!((l.kind, l.count, l.bytes), (None, Some(1), Some(72_700)));
        let l = label_line("4.17K leaked over 103 calls from").unwrap();
        assert_eq!(
            (l.kind, l.count, l.bytes),
            (Some(Section::Leaks), Some(103), Some(4170))
        );
        let l = label_line("50 temporary allocations of 51 allocations in total (98.04%) from")
            .unwrap();
        assert_eq!(
            (l.kind, l.count, l.total, l.bytes),
            (Some(Section::Temporary), Some(50), Some(51), None)
        );
        let l = label_line("123 bytes peak memory consumed over 4 calls from").unwrap();
        assert_eq!(
            (l.kind, l.count, l.bytes),
            (Some(Section::Peak), Some(4), Some(123))
        );
        let l = label_line("-4.10K leaked over 1 calls from").unwrap();
        assert_eq!((l.kind, l.bytes), (Some(Section::Leaks), None));
        assert!(label_line("0x7fd7f96a57b9").is_none());
        assert!(label_line("42 things from").is_none());
        assert!(label_line("main").is_none());
    }

    #[test]
    fn other_places() {
        let o = other_places_line("and 0B from 2 other places").unwrap();
        assert_eq!((o.amount, o.places), (Some(0), Some(2)));
        let o = other_places_line("and 17 from 3 other places").unwrap();
        assert_eq!((o.amount, o.places), (Some(17), Some(3)));
    }

    #[test]
    fn headings() {
        assert!(looks_like_heading("MOST BYTES ALLOCATED (IGNORING FREES)"));
        assert!(!looks_like_heading("main"));
        assert!(!looks_like_heading("OK"));
    }

    #[test]
    fn unmerged_output() {
        let text = "MEMORY LEAKS\n\
                    100B leaked over 1 calls from\n  \
                    leak_definite\n    at /src/leaky.c:25\n    in /bin/leaky\n  \
                    main\n    at /src/leaky.c:69\n    in /bin/leaky\n\n\
                    total memory leaked: 100B\n";
        let r = parse_heaptrack_print(text).unwrap();
        assert_eq!(r.leaks.len(), 1);
        let s = &r.leaks[0];
        assert_eq!(s.function, "leak_definite");
        assert_eq!(s.location.as_deref(), Some("/src/leaky.c:25"));
        assert_eq!(s.stack, ["main"]);
        assert_eq!(r.summary.leaked_bytes, Some(100));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn older_summary_formats() {
        let text = "total runtime: 46.97s.\n\
            bytes allocated in total (ignoring deallocations): 18.06MB (384.41KB/s)\n\
            calls to allocation functions: 118007 (2512/s)\n\
            temporary memory allocations: 52076 (1108/s)\n\
            peak heap memory consumption: 8.15MB\n\
            peak RSS (including heaptrack overhead): 291.84MB\n\
            total memory leaked: 692.92KB\n";
        let r = parse_heaptrack_print(text).unwrap();
        let s = &r.summary;
        assert_eq!(s.runtime_seconds, Some(46.97));
        assert_eq!(s.total_allocated_bytes, Some(18_060_000));
        assert_eq!(s.total_allocations, Some(118_007));
        assert_eq!(s.allocations_per_second, Some(2512));
        assert_eq!(s.temporary_allocations, Some(52_076));
        assert_eq!(s.peak_heap_bytes, Some(8_150_000));
        assert_eq!(s.peak_rss_bytes, Some(291_840_000));
        assert_eq!(s.leaked_bytes, Some(692_920));
        assert_eq!(s.suppressed_leak_bytes, None);

        let text = "1234 bytes allocated in total (ignoring deallocations) over 56 calls to \
                    allocation functions.\npeak heap memory consumption: 99 bytes\n\
                    total memory leaked: 7 bytes\n";
        let r = parse_heaptrack_print(text).unwrap();
        assert_eq!(r.summary.total_allocated_bytes, Some(1234));
        assert_eq!(r.summary.total_allocations, Some(56));
        assert_eq!(r.summary.peak_heap_bytes, Some(99));
        assert_eq!(r.summary.leaked_bytes, Some(7));
    }
}
