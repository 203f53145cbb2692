//! Parser for valgrind memcheck's XML output (`--xml=yes --xml-file=...`,
//! protocol version 4 as written by valgrind 3.19).
//!
//! The document is read as a stream of events with quick-xml; a path of open
//! element names tells where each piece of text belongs. Nothing recurses, so
//! nesting depth cannot overflow the stack; names deeper than [`MAX_DEPTH`]
//! are not kept (valgrind's own documents are 5 levels deep).

use std::collections::BTreeMap;
use std::fmt;

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;
use serde::{Deserialize, Serialize};

use crate::error::{excerpt, ParseError};
use crate::number::parse_u64;

const MAX_DEPTH: usize = 64;
const MAX_WARNINGS: usize = 100;
/// Text of one element beyond this many bytes is cut (with a warning).
const MAX_TEXT: usize = 1 << 20;

/// The `<kind>` of a valgrind error.
///
/// Serialized as valgrind's own string (`"Leak_DefinitelyLost"`, or the
/// unknown kind's text for [`ErrorKind::Other`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ErrorKind {
    /// `Leak_DefinitelyLost`: no pointer to the block remains.
    LeakDefinitelyLost,
    /// `Leak_IndirectlyLost`: only reachable from lost blocks.
    LeakIndirectlyLost,
    /// `Leak_PossiblyLost`: only interior pointers remain.
    LeakPossiblyLost,
    /// `Leak_StillReachable`: still pointed to at exit.
    LeakStillReachable,
    /// `InvalidRead`.
    InvalidRead,
    /// `InvalidWrite`.
    InvalidWrite,
    /// `InvalidFree`.
    InvalidFree,
    /// `MismatchedFree`.
    MismatchedFree,
    /// `UninitCondition`.
    UninitCondition,
    /// `UninitValue`.
    UninitValue,
    /// `SyscallParam`.
    SyscallParam,
    /// `Overlap`.
    Overlap,
    /// Any other kind, as valgrind wrote it.
    Other(String),
}

impl ErrorKind {
    /// Valgrind's name of the kind.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorKind::LeakDefinitelyLost => "Leak_DefinitelyLost",
            ErrorKind::LeakIndirectlyLost => "Leak_IndirectlyLost",
            ErrorKind::LeakPossiblyLost => "Leak_PossiblyLost",
            ErrorKind::LeakStillReachable => "Leak_StillReachable",
            ErrorKind::InvalidRead => "InvalidRead",
            ErrorKind::InvalidWrite => "InvalidWrite",
            ErrorKind::InvalidFree => "InvalidFree",
            ErrorKind::MismatchedFree => "MismatchedFree",
            ErrorKind::UninitCondition => "UninitCondition",
            ErrorKind::UninitValue => "UninitValue",
            ErrorKind::SyscallParam => "SyscallParam",
            ErrorKind::Overlap => "Overlap",
            ErrorKind::Other(s) => s,
        }
    }

    /// Whether this is a leak record (`Leak_*`).
    pub fn is_leak(&self) -> bool {
        self.as_str().starts_with("Leak_")
    }
}

impl From<String> for ErrorKind {
    fn from(s: String) -> Self {
        match s.as_str() {
            "Leak_DefinitelyLost" => ErrorKind::LeakDefinitelyLost,
            "Leak_IndirectlyLost" => ErrorKind::LeakIndirectlyLost,
            "Leak_PossiblyLost" => ErrorKind::LeakPossiblyLost,
            "Leak_StillReachable" => ErrorKind::LeakStillReachable,
            "InvalidRead" => ErrorKind::InvalidRead,
            "InvalidWrite" => ErrorKind::InvalidWrite,
            "InvalidFree" => ErrorKind::InvalidFree,
            "MismatchedFree" => ErrorKind::MismatchedFree,
            "UninitCondition" => ErrorKind::UninitCondition,
            "UninitValue" => ErrorKind::UninitValue,
            "SyscallParam" => ErrorKind::SyscallParam,
            "Overlap" => ErrorKind::Overlap,
            _ => ErrorKind::Other(s),
        }
    }
}

impl From<ErrorKind> for String {
    fn from(k: ErrorKind) -> String {
        match k {
            ErrorKind::Other(s) => s,
            k => k.as_str().to_string(),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `<frame>` of a stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Instruction pointer, as written (`0x48417B4`).
    pub ip: Option<String>,
    /// Object file (binary or library).
    pub obj: Option<String>,
    /// Function name, demangled by valgrind.
    #[serde(rename = "fn")]
    pub function: Option<String>,
    /// Source directory.
    pub dir: Option<String>,
    /// Source file.
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u64>,
}

/// One `<error>`: a memory error or a leak record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemcheckError {
    /// `<unique>` id (`0x0`), which `<errorcounts>` refers to.
    pub unique: Option<String>,
    /// Thread id.
    pub tid: Option<u64>,
    /// The kind.
    pub kind: ErrorKind,
    /// `<what>`, or `<xwhat><text>` for leaks.
    pub what: Option<String>,
    /// `<xwhat><leakedbytes>`: for a definitely lost record this includes
    /// the indirectly lost blocks it points to (see `direct_bytes`).
    pub leaked_bytes: Option<u64>,
    /// `<xwhat><leakedblocks>`: the directly lost blocks.
    pub leaked_blocks: Option<u64>,
    /// From the leak text `80 (16 direct, 64 indirect) bytes ...`: 16.
    /// `None` when the text has no such part (then all bytes are direct).
    pub direct_bytes: Option<u64>,
    /// From the leak text: 64 in the example above.
    pub indirect_bytes: Option<u64>,
    /// `<auxwhat>` and `<xauxwhat><text>` lines.
    pub auxwhat: Vec<String>,
    /// The first `<stack>`: where the error happened or the block was
    /// allocated. Innermost frame first.
    pub stack: Vec<Frame>,
    /// Later `<stack>`s (for example where the block was allocated or freed).
    pub aux_stacks: Vec<Vec<Frame>>,
}

impl MemcheckError {
    fn new() -> Self {
        MemcheckError {
            unique: None,
            tid: None,
            kind: ErrorKind::Other(String::new()),
            what: None,
            leaked_bytes: None,
            leaked_blocks: None,
            direct_bytes: None,
            indirect_bytes: None,
            auxwhat: Vec::new(),
            stack: Vec::new(),
            aux_stacks: Vec::new(),
        }
    }

    /// Bytes this record adds to its kind's total, as valgrind's
    /// `LEAK SUMMARY` counts: the direct bytes when the text splits them out,
    /// else all leaked bytes.
    pub fn own_bytes(&self) -> Option<u64> {
        self.direct_bytes.or(self.leaked_bytes)
    }

    /// The innermost frame whose function is not an allocator
    /// (`malloc`, `operator new`, ...) and not valgrind's own.
    pub fn first_user_frame(&self) -> Option<&Frame> {
        self.stack.iter().find(|f| {
            let name = f.function.as_deref().unwrap_or("");
            let obj = f.obj.as_deref().unwrap_or("");
            !(obj.contains("vgpreload_") || is_allocator(name))
        })
    }
}

fn is_allocator(name: &str) -> bool {
    matches!(
        name,
        "malloc"
            | "calloc"
            | "realloc"
            | "free"
            | "memalign"
            | "aligned_alloc"
            | "posix_memalign"
            | "valloc"
            | "reallocarray"
    ) || name.starts_with("operator new")
        || name.starts_with("operator delete")
}

/// The state of the run in a `<status>` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum RunState {
    /// `RUNNING`: written when the client starts.
    Running,
    /// `FINISHED`: written when the client exits, before the leak records.
    Finished,
    /// Anything else.
    Other(String),
}

impl From<String> for RunState {
    fn from(s: String) -> Self {
        match s.as_str() {
            "RUNNING" => RunState::Running,
            "FINISHED" => RunState::Finished,
            _ => RunState::Other(s),
        }
    }
}

impl From<RunState> for String {
    fn from(s: RunState) -> String {
        match s {
            RunState::Running => "RUNNING".into(),
            RunState::Finished => "FINISHED".into(),
            RunState::Other(s) => s,
        }
    }
}

/// One `<status>` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// `<state>`.
    pub state: RunState,
    /// `<time>`, as written (`00:00:00:00.331`).
    pub time: Option<String>,
}

/// `<fatal_signal>`: the client died of a signal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FatalSignal {
    /// Thread id.
    pub tid: Option<u64>,
    /// Signal number.
    pub signo: Option<u64>,
    /// Signal name (`SIGSEGV`).
    pub signame: Option<String>,
    /// Where it happened.
    pub stack: Vec<Frame>,
}

/// Bytes and blocks of one leak kind.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Amount {
    /// Bytes (direct bytes of each record; saturating sum).
    pub bytes: u64,
    /// Blocks.
    pub blocks: u64,
    /// Loss records (`<error>` elements).
    pub records: u64,
}

/// Leaks per kind, summed over the leak records in the file. Only kinds
/// shown by `--show-leak-kinds` have records; with the recommended options
/// `still_reachable` stays zero.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct LeakSummary {
    /// `Leak_DefinitelyLost`.
    pub definitely_lost: Amount,
    /// `Leak_IndirectlyLost`.
    pub indirectly_lost: Amount,
    /// `Leak_PossiblyLost`.
    pub possibly_lost: Amount,
    /// `Leak_StillReachable`.
    pub still_reachable: Amount,
}

/// Errors of one kind.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct KindCount {
    /// Distinct errors (`<error>` elements, "contexts").
    pub contexts: u64,
    /// Occurrences: from `<errorcounts>` for non-leak errors (1 per context
    /// when the file has no count for it); leak records count 1 each.
    pub occurrences: u64,
}

/// Outcome of [`MemcheckReport::leak_verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum LeakVerdict {
    /// Definitely lost bytes are at most the threshold.
    Pass {
        /// Definitely lost bytes.
        definitely_lost_bytes: u64,
        /// The threshold.
        threshold_bytes: u64,
    },
    /// Definitely lost bytes exceed the threshold.
    Fail {
        /// Definitely lost bytes.
        definitely_lost_bytes: u64,
        /// The threshold.
        threshold_bytes: u64,
    },
    /// The file is incomplete, so leak records may be missing; a gate must
    /// not pass on it.
    Incomplete {
        /// Definitely lost bytes in the records that were read.
        definitely_lost_bytes: u64,
        /// The threshold.
        threshold_bytes: u64,
    },
}

/// Everything read from one valgrind XML file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemcheckReport {
    /// True when the run finished (`FINISHED` status) and the document ends
    /// properly (`</valgrindoutput>`). False for a file cut short, for
    /// example because valgrind was killed.
    pub complete: bool,
    /// `<protocolversion>`.
    pub protocol_version: Option<u64>,
    /// `<tool>` (or `<protocoltool>`).
    pub tool: Option<String>,
    /// From the preamble: `Using Valgrind-3.19.0 and LibVEX` -> `3.19.0`.
    pub valgrind_version: Option<String>,
    /// The preamble lines.
    pub preamble: Vec<String>,
    /// `<pid>`.
    pub pid: Option<u64>,
    /// `<ppid>`.
    pub ppid: Option<u64>,
    /// Valgrind's own argv (`<args><vargv>`): exe, then its options.
    pub valgrind_argv: Vec<String>,
    /// The client command (`<args><argv>`): exe, then its arguments.
    pub command: Vec<String>,
    /// `<status>` blocks in order.
    pub status: Vec<Status>,
    /// `<error>` elements in order: memory errors, then leak records.
    pub errors: Vec<MemcheckError>,
    /// `<errorcounts>`: unique id -> occurrences (non-leak errors only).
    pub error_counts: BTreeMap<String, u64>,
    /// `<suppcounts>`: suppression name -> times used.
    pub supp_counts: BTreeMap<String, u64>,
    /// `<fatal_signal>`, if the client died of a signal.
    pub fatal_signal: Option<FatalSignal>,
    /// Oddities, and why `complete` is false; never fatal.
    pub warnings: Vec<String>,
}

impl MemcheckReport {
    /// Parses valgrind XML; same as [`parse_memcheck_xml`].
    pub fn parse(bytes: &[u8]) -> Result<MemcheckReport, ParseError> {
        parse_memcheck_xml(bytes)
    }

    /// The last `<status>` state.
    pub fn final_state(&self) -> Option<&RunState> {
        self.status.last().map(|s| &s.state)
    }

    /// Leak records of the file.
    pub fn leaks(&self) -> impl Iterator<Item = &MemcheckError> {
        self.errors.iter().filter(|e| e.kind.is_leak())
    }

    /// Bytes and blocks per leak kind, summed over the leak records, counting
    /// each record's direct bytes so the totals equal valgrind's own
    /// `LEAK SUMMARY` (a definitely lost record's `leakedbytes` also holds
    /// the indirectly lost bytes it points to).
    pub fn leak_summary(&self) -> LeakSummary {
        let mut s = LeakSummary::default();
        for e in &self.errors {
            let slot = match e.kind {
                ErrorKind::LeakDefinitelyLost => &mut s.definitely_lost,
                ErrorKind::LeakIndirectlyLost => &mut s.indirectly_lost,
                ErrorKind::LeakPossiblyLost => &mut s.possibly_lost,
                ErrorKind::LeakStillReachable => &mut s.still_reachable,
                _ => continue,
            };
            slot.bytes = slot.bytes.saturating_add(e.own_bytes().unwrap_or(0));
            slot.blocks = slot.blocks.saturating_add(e.leaked_blocks.unwrap_or(0));
            slot.records = slot.records.saturating_add(1);
        }
        s
    }

    /// Definitely lost bytes (direct), as in valgrind's `LEAK SUMMARY`.
    pub fn definitely_lost_bytes(&self) -> u64 {
        self.leak_summary().definitely_lost.bytes
    }

    /// `definitely_lost_bytes() > threshold_bytes`. Does not look at
    /// `complete`; see [`MemcheckReport::leak_verdict`] for a gate.
    pub fn definitely_lost_exceeds(&self, threshold_bytes: u64) -> bool {
        self.definitely_lost_bytes() > threshold_bytes
    }

    /// Gate on definitely lost bytes: fails above `threshold_bytes`, and is
    /// [`LeakVerdict::Incomplete`] for a file cut short (leak records come
    /// last, so a cut file can look clean).
    pub fn leak_verdict(&self, threshold_bytes: u64) -> LeakVerdict {
        let definitely_lost_bytes = self.definitely_lost_bytes();
        if definitely_lost_bytes > threshold_bytes {
            LeakVerdict::Fail {
                definitely_lost_bytes,
                threshold_bytes,
            }
        } else if !self.complete {
            LeakVerdict::Incomplete {
                definitely_lost_bytes,
                threshold_bytes,
            }
        } else {
            LeakVerdict::Pass {
                definitely_lost_bytes,
                threshold_bytes,
            }
        }
    }

    /// Error counts per kind name. Non-leak errors take their occurrences
    /// from `<errorcounts>` (matched by `<unique>`).
    pub fn error_counts_by_kind(&self) -> BTreeMap<String, KindCount> {
        let mut out: BTreeMap<String, KindCount> = BTreeMap::new();
        for e in &self.errors {
            let occurrences = if e.kind.is_leak() {
                1
            } else {
                e.unique
                    .as_ref()
                    .and_then(|u| self.error_counts.get(u))
                    .copied()
                    .unwrap_or(1)
            };
            let c = out.entry(e.kind.as_str().to_string()).or_default();
            c.contexts = c.contexts.saturating_add(1);
            c.occurrences = c.occurrences.saturating_add(occurrences);
        }
        out
    }

    /// Non-leak errors (invalid reads, uninitialised values, ...).
    pub fn memory_errors(&self) -> impl Iterator<Item = &MemcheckError> {
        self.errors.iter().filter(|e| !e.kind.is_leak())
    }
}

/// Parses valgrind's XML output (the `--xml-file`), from raw bytes (invalid
/// UTF-8 is replaced).
///
/// A document cut short gives `Ok` with `complete: false` and a warning.
/// Errors: empty input, input that is not XML (for instance valgrind's text
/// output), XML with another root element, or XML broken before its root.
pub fn parse_memcheck_xml(bytes: &[u8]) -> Result<MemcheckReport, ParseError> {
    parse_memcheck_xml_str(&String::from_utf8_lossy(bytes))
}

/// [`parse_memcheck_xml`] on a string.
pub fn parse_memcheck_xml_str(text: &str) -> Result<MemcheckReport, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let start = text.trim_start();
    if start.is_empty() {
        return Err(ParseError::Empty {
            what: "valgrind XML".into(),
        });
    }
    if !start.starts_with('<') {
        return Err(ParseError::NotXml {
            found: excerpt(start, 60),
            valgrind_text: looks_like_valgrind_text(start),
        });
    }
    let mut st = State::default();
    let mut reader = Reader::from_str(text);
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(err) => {
                if !st.root_started {
                    return Err(ParseError::Xml {
                        position: reader.error_position(),
                        message: err.to_string(),
                    });
                }
                st.warn(format!(
                    "malformed XML at byte {}: {err}; reading stopped there",
                    reader.error_position()
                ));
                st.broken = true;
                break;
            }
        };
        match event {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                st.start(&name)?;
            }
            Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                st.start(&name)?;
                st.end();
            }
            Event::End(_) => st.end(),
            Event::Text(t) => {
                let s = t.xml_content(XmlVersion::Implicit1_0);
                if !st.root_started && !s.trim().is_empty() {
                    return Err(ParseError::NotXml {
                        found: excerpt(s.trim(), 60),
                        valgrind_text: false,
                    });
                }
                st.text(&s);
            }
            Event::CData(t) => {
                let s = t.xml_content(XmlVersion::Implicit1_0).into_owned();
                st.text(&s);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => {
                        quick_xml::escape::resolve_predefined_entity(&r).map(str::to_string)
                    }
                    Err(_) => None,
                };
                match resolved {
                    Some(s) => st.text(&s),
                    None => {
                        let raw = format!("&{};", &*r);
                        st.warn(format!("unknown entity {raw:?} kept as written"));
                        st.text(&raw);
                    }
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    st.finish()
}

fn looks_like_valgrind_text(s: &str) -> bool {
    s.strip_prefix("==")
        .and_then(|r| r.split_once("=="))
        .is_some_and(|(pid, _)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Default)]
struct State {
    report: MemcheckReport,
    /// Open element names, up to MAX_DEPTH.
    path: Vec<String>,
    depth: usize,
    text: String,
    text_cut: bool,
    root_started: bool,
    root_closed: bool,
    broken: bool,
    error: Option<MemcheckError>,
    stack: Option<Vec<Frame>>,
    frame: Option<Frame>,
    status: Option<(Option<String>, Option<String>)>,
    pair: Option<(Option<u64>, Option<String>)>,
    fatal: Option<FatalSignal>,
    unknown_seen: Vec<String>,
    dropped_warnings: usize,
}

impl State {
    fn warn(&mut self, msg: String) {
        if self.report.warnings.len() < MAX_WARNINGS {
            self.report.warnings.push(msg);
        } else {
            self.dropped_warnings += 1;
        }
    }

    fn text(&mut self, s: &str) {
        if self.text.len() + s.len() > MAX_TEXT {
            if !self.text_cut {
                self.text_cut = true;
                self.warn(format!("element text longer than {MAX_TEXT} bytes cut"));
            }
            return;
        }
        self.text.push_str(s);
    }

    fn take_text(&mut self) -> String {
        let t = std::mem::take(&mut self.text);
        t.trim().to_string()
    }

    fn path_is(&self, names: &[&str]) -> bool {
        self.depth == self.path.len()
            && self.path.len() == names.len()
            && self.path.iter().zip(names).all(|(a, b)| a == b)
    }

    /// The path below `<valgrindoutput>`, if not too deep.
    fn rel(&self) -> Option<Vec<String>> {
        (self.depth == self.path.len() && self.depth >= 1).then(|| self.path[1..].to_vec())
    }

    fn start(&mut self, name: &str) -> Result<(), ParseError> {
        self.text.clear();
        if !self.root_started {
            if name != "valgrindoutput" {
                return Err(ParseError::NotValgrindXml {
                    root: excerpt(name, 60).trim_matches('"').to_string(),
                });
            }
            self.root_started = true;
        } else if self.depth == 0 {
            self.warn(format!("element <{name}> after the root element"));
        }
        self.depth += 1;
        if self.path.len() < MAX_DEPTH && self.path.len() + 1 == self.depth {
            self.path.push(name.to_string());
        } else if self.depth == MAX_DEPTH + 1 {
            self.warn(format!("elements nested deeper than {MAX_DEPTH} ignored"));
        }
        let Some(owned) = self.rel() else {
            return Ok(());
        };
        let rel: Vec<&str> = owned.iter().map(String::as_str).collect();
        match rel.as_slice() {
            ["error"] => self.error = Some(MemcheckError::new()),
            ["error", "stack"] | ["fatal_signal", "stack"] => self.stack = Some(Vec::new()),
            ["error", "stack", "frame"] | ["fatal_signal", "stack", "frame"] => {
                self.frame = Some(Frame::default())
            }
            ["status"] => self.status = Some((None, None)),
            ["errorcounts", "pair"] | ["suppcounts", "pair"] => self.pair = Some((None, None)),
            ["fatal_signal"] => self.fatal = Some(FatalSignal::default()),
            [top] if !KNOWN_TOP.contains(top) => {
                let top = top.to_string();
                if !self.unknown_seen.contains(&top) && self.unknown_seen.len() < 32 {
                    self.unknown_seen.push(top.clone());
                    self.warn(format!("unknown element <{top}> ignored"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self) {
        if self.depth == 0 {
            return;
        }
        let text = self.take_text();
        if self.path_is(&["valgrindoutput"]) {
            self.root_closed = true;
        }
        if let Some(owned) = self.rel() {
            let rel: Vec<&str> = owned.iter().map(String::as_str).collect();
            self.end_element(&rel, text);
        }
        if self.path.len() == self.depth {
            self.path.pop();
        }
        self.depth -= 1;
    }

    fn number(&mut self, what: &str, text: &str) -> Option<u64> {
        let n = parse_u64(text);
        if n.is_none() {
            self.warn(format!("<{what}> is not a number: {}", excerpt(text, 40)));
        }
        n
    }

    fn end_element(&mut self, rel: &[&str], text: String) {
        match rel {
            ["protocolversion"] => self.report.protocol_version = parse_u64(&text),
            ["protocoltool"] if self.report.tool.is_none() => self.report.tool = Some(text),
            ["tool"] => self.report.tool = Some(text),
            ["preamble", "line"] => {
                if let Some(v) = text.split_once("Valgrind-").map(|(_, v)| v) {
                    let v: String = v.chars().take_while(|c| !c.is_whitespace()).collect();
                    self.report.valgrind_version = Some(v);
                }
                self.report.preamble.push(text);
            }
            ["pid"] => self.report.pid = parse_u64(&text),
            ["ppid"] => self.report.ppid = parse_u64(&text),
            ["args", "vargv", "exe"] | ["args", "vargv", "arg"] => {
                self.report.valgrind_argv.push(text)
            }
            ["args", "argv", "exe"] | ["args", "argv", "arg"] => self.report.command.push(text),
            ["status", "state"] => {
                if let Some(s) = self.status.as_mut() {
                    s.0 = Some(text);
                }
            }
            ["status", "time"] => {
                if let Some(s) = self.status.as_mut() {
                    s.1 = Some(text);
                }
            }
            ["status"] => {
                if let Some((state, time)) = self.status.take() {
                    match state {
                        Some(state) => self.report.status.push(Status {
                            state: RunState::from(state),
                            time,
                        }),
                        None => self.warn("<status> without <state>".to_string()),
                    }
                }
            }
            ["errorcounts", "pair", "count"] | ["suppcounts", "pair", "count"] => {
                let n = self.number("count", &text);
                if let Some(p) = self.pair.as_mut() {
                    p.0 = n;
                }
            }
            ["errorcounts", "pair", "unique"] | ["suppcounts", "pair", "name"] => {
                if let Some(p) = self.pair.as_mut() {
                    p.1 = Some(text);
                }
            }
            ["errorcounts", "pair"] | ["suppcounts", "pair"] => {
                if let Some((Some(count), Some(key))) = self.pair.take() {
                    let map = if rel[0] == "errorcounts" {
                        &mut self.report.error_counts
                    } else {
                        &mut self.report.supp_counts
                    };
                    let slot = map.entry(key).or_insert(0);
                    *slot = slot.saturating_add(count);
                } else {
                    self.warn(format!("incomplete <pair> in <{}>", rel[0]));
                }
            }
            ["error", ..] => self.end_in_error(&rel[1..], text),
            ["fatal_signal", ..] => self.end_in_fatal(&rel[1..], text),
            _ => {}
        }
    }

    fn end_in_error(&mut self, rel: &[&str], text: String) {
        if let ["stack", ..] = rel {
            if let Some(done) = self.end_in_stack(&rel[1..], text) {
                if let Some(e) = self.error.as_mut() {
                    if e.stack.is_empty() && e.aux_stacks.is_empty() {
                        e.stack = done;
                    } else {
                        e.aux_stacks.push(done);
                    }
                }
            }
            return;
        }
        if rel.is_empty() {
            if let Some(e) = self.error.take() {
                if matches!(&e.kind, ErrorKind::Other(k) if k.is_empty()) {
                    self.warn("<error> without <kind>".to_string());
                }
                self.report.errors.push(e);
            }
            return;
        }
        let num = match rel {
            ["tid"] | ["xwhat", "leakedbytes"] | ["xwhat", "leakedblocks"] => {
                self.number(rel[rel.len() - 1], &text)
            }
            _ => None,
        };
        let Some(e) = self.error.as_mut() else {
            return;
        };
        match rel {
            ["unique"] => e.unique = Some(text),
            ["tid"] => e.tid = num,
            ["kind"] => e.kind = ErrorKind::from(text),
            ["what"] => e.what = Some(text),
            ["xwhat", "text"] => {
                let (direct, indirect) = direct_indirect(&text);
                e.direct_bytes = direct;
                e.indirect_bytes = indirect;
                e.what = Some(text);
            }
            ["xwhat", "leakedbytes"] => e.leaked_bytes = num,
            ["xwhat", "leakedblocks"] => e.leaked_blocks = num,
            ["auxwhat"] | ["xauxwhat", "text"] => e.auxwhat.push(text),
            _ => {}
        }
    }

    fn end_in_fatal(&mut self, rel: &[&str], text: String) {
        if let ["stack", ..] = rel {
            if let Some(done) = self.end_in_stack(&rel[1..], text) {
                if let Some(f) = self.fatal.as_mut() {
                    f.stack = done;
                }
            }
            return;
        }
        if rel.is_empty() {
            self.report.fatal_signal = self.fatal.take();
            return;
        }
        let Some(f) = self.fatal.as_mut() else {
            return;
        };
        match rel {
            ["tid"] => f.tid = parse_u64(&text),
            ["signo"] => f.signo = parse_u64(&text),
            ["signame"] => f.signame = Some(text),
            _ => {}
        }
    }

    /// Handles an end tag inside `<stack>`; returns the stack when it closes.
    fn end_in_stack(&mut self, rel: &[&str], text: String) -> Option<Vec<Frame>> {
        match rel {
            [] => return self.stack.take(),
            ["frame"] => {
                if let (Some(f), Some(s)) = (self.frame.take(), self.stack.as_mut()) {
                    s.push(f);
                }
            }
            ["frame", field] => {
                let line = (*field == "line").then(|| parse_u64(&text)).flatten();
                if let Some(f) = self.frame.as_mut() {
                    match *field {
                        "ip" => f.ip = Some(text),
                        "obj" => f.obj = Some(text),
                        "fn" => f.function = Some(text),
                        "dir" => f.dir = Some(text),
                        "file" => f.file = Some(text),
                        "line" => f.line = line,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        None
    }

    fn finish(mut self) -> Result<MemcheckReport, ParseError> {
        if !self.root_started {
            return Err(ParseError::NotXml {
                found: "no element at all".into(),
                valgrind_text: false,
            });
        }
        if self.error.is_some() {
            self.warn("document ends inside an <error>; that error is dropped".to_string());
        }
        let finished = self
            .report
            .status
            .iter()
            .any(|s| s.state == RunState::Finished);
        if !finished {
            self.warn(
                "no FINISHED status: valgrind did not finish (killed, or file cut short)"
                    .to_string(),
            );
        }
        if !self.root_closed && !self.broken {
            self.warn(
                "document ends before </valgrindoutput>: file cut short, leak records may be \
                 missing"
                    .to_string(),
            );
        }
        self.report.complete = finished && self.root_closed && !self.broken;
        if self.dropped_warnings > 0 {
            let n = self.dropped_warnings;
            self.report.warnings.push(format!("... {n} more warnings"));
        }
        Ok(self.report)
    }
}

const KNOWN_TOP: &[&str] = &[
    "protocolversion",
    "protocoltool",
    "preamble",
    "pid",
    "ppid",
    "tool",
    "args",
    "status",
    "error",
    "errorcounts",
    "suppcounts",
    "fatal_signal",
    "usercomment",
    "clientmsg",
    "logfilequalifier",
    "announcethread",
];

/// `80 (16 direct, 64 indirect) bytes in 1 blocks ...` -> (16, 64);
/// thousands separators allowed.
fn direct_indirect(text: &str) -> (Option<u64>, Option<u64>) {
    let Some((_, rest)) = text.split_once('(') else {
        return (None, None);
    };
    let Some((inside, _)) = rest.split_once(')') else {
        return (None, None);
    };
    let Some((d, i)) = inside.split_once(',') else {
        return (None, None);
    };
    // "4,096 direct, 1,024 indirect" has commas inside numbers too.
    let (d, i) = match inside.find(" direct,") {
        Some(pos) => (&inside[..pos], &inside[pos + " direct,".len()..]),
        None => (d, i),
    };
    let direct = d.trim().strip_suffix("direct").unwrap_or(d.trim());
    let indirect = i.trim().strip_suffix("indirect");
    match indirect {
        Some(ind) => (parse_u64(direct), parse_u64(ind)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_indirect_text() {
        assert_eq!(
            direct_indirect(
                "80 (16 direct, 64 indirect) bytes in 1 blocks are definitely lost in loss record 2 of 4"
            ),
            (Some(16), Some(64))
        );
        assert_eq!(
            direct_indirect("5,120 (4,096 direct, 1,024 indirect) bytes in 1 blocks"),
            (Some(4096), Some(1024))
        );
        assert_eq!(
            direct_indirect("100 bytes in 1 blocks are definitely lost"),
            (None, None)
        );
        assert_eq!(direct_indirect("(weird)"), (None, None));
    }

    #[test]
    fn kinds_round_trip_as_strings() {
        for k in [
            "Leak_DefinitelyLost",
            "Leak_IndirectlyLost",
            "Leak_PossiblyLost",
            "Leak_StillReachable",
            "InvalidRead",
            "InvalidWrite",
            "InvalidFree",
            "MismatchedFree",
            "UninitCondition",
            "UninitValue",
            "SyscallParam",
            "Overlap",
            "InvalidJump",
        ] {
            let kind = ErrorKind::from(k.to_string());
            assert_eq!(kind.as_str(), k);
            assert_eq!(String::from(kind.clone()), k);
            assert_eq!(kind.is_leak(), k.starts_with("Leak_"));
        }
        assert_eq!(
            ErrorKind::from("InvalidJump".to_string()),
            ErrorKind::Other("InvalidJump".into())
        );
    }

    #[test]
    fn valgrind_text_detected() {
        assert!(looks_like_valgrind_text("==2547== Memcheck"));
        assert!(!looks_like_valgrind_text("== == x"));
        assert!(!looks_like_valgrind_text("hello"));
    }
}
