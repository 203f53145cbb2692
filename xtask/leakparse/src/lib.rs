//! Typed parsers for the output of the two leak tools runcost runs.
//!
//! * **heap lane**: the target runs under heaptrack 1.4, then `heaptrack_print`
//!   turns the trace into text. [`parse_heaptrack_print`] reads the *whole*
//!   stdout of `heaptrack_print` (never a `tail` of it: the leak section sits in
//!   the middle and the summary at the very end) into a [`HeapReport`].
//! * **memcheck lane**: valgrind 3.19 memcheck writes XML to `--xml-file`.
//!   [`parse_memcheck_xml`] reads that file (never valgrind's text on stderr)
//!   into a [`MemcheckReport`].
//!
//! Both parsers never panic, whatever the input; lines or elements they do
//! not know become `warnings`, not errors. They return a [`ParseError`] only
//! when the input is not the tool's output at all (empty, not XML, XML with
//! another root, nothing recognisable as `heaptrack_print` text).
//!
//! # How to run the tools
//!
//! ```text
//! heaptrack -o TRACE target args...            # writes TRACE.zst
//! heaptrack_print --print-leaks=1 --print-peaks=1 --print-allocators=1 \
//!     --print-temporary=1 --merge-backtraces=1 --file TRACE.zst > heap.txt
//! ```
//!
//! [`HEAPTRACK_PRINT_ARGS`] holds those options and [`heaptrack_print_command`]
//! builds the argv. The leak section is only printed with `--print-leaks`
//! (its default is off). Spell boolean options with `=`: in heaptrack 1.4,
//! `heaptrack_print -l TRACE.zst` takes the file name as the value of `-l`,
//! prints an error and its help text to stderr, and prints nothing on stdout.
//!
//! ```text
//! valgrind --tool=memcheck --leak-check=full \
//!     --show-leak-kinds=definite,indirect,possible --xml=yes \
//!     --xml-file=memcheck.xml target args...
//! ```
//!
//! [`MEMCHECK_ARGS`] and [`memcheck_command`] give that argv.
//!
//! # Things the tools do that a reader must know
//!
//! * heaptrack sizes are decimal (K = 1000 bytes) and rounded to two decimals:
//!   a 4096-byte block prints as `4.10K` and parses to 4100. Values below
//!   1000 bytes are exact (`100B`).
//! * heaptrack's `count` on a leak entry is the number of calls to allocation
//!   functions at that site, not the number of leaked blocks.
//! * heaptrack has no notion of definite / indirect / possible: every block not
//!   freed at exit is "leaked", including libc's stdout buffer (4096 bytes),
//!   which valgrind does not report (it frees it through `__libc_freeres`).
//! * valgrind's `<leakedbytes>` for a definitely lost block *includes* the
//!   indirectly lost blocks it points to (`80 (16 direct, 64 indirect) bytes`);
//!   those indirect bytes are also reported in their own `Leak_IndirectlyLost`
//!   record. [`MemcheckReport::leak_summary`] sums the *direct* bytes so its
//!   totals equal valgrind's own `LEAK SUMMARY`.
//! * valgrind writes `<status><state>FINISHED</state>` *before* the leak
//!   records. A file is complete only when the root element closes as well;
//!   [`MemcheckReport::complete`] checks both, and [`MemcheckReport::leak_verdict`]
//!   never passes an incomplete file.
//! * heaptrack 1.4 does not demangle Rust symbols fully: user code shows as
//!   `crate::Type$LT$T$GT$::method::h0123456789abcdef` and some std frames as
//!   raw `_R...` v0 symbols. The parser keeps names as printed; [`tidy_symbol`]
//!   makes them readable, and [`Site::mentions`] matches either form.
//!
//! # Why quick-xml
//!
//! Valgrind's XML carries escaped text (`&lt;`, `&amp;` in C++ and Rust
//! names), nested stacks whose meaning depends on position (the first
//! `<stack>` of an error is where it happened, later ones are auxiliary), and
//! may be cut anywhere when valgrind is killed. A streaming XML parser handles
//! escaping and nesting exactly, reports where a document breaks, and needs no
//! recursion (so deeply nested input cannot overflow the stack); regular
//! expressions over XML get all three wrong. quick-xml is a small, widely used
//! pull parser with no dependencies beyond `memchr`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod heaptrack;
mod memcheck;
mod number;
mod symbol;

pub use error::ParseError;
pub use heaptrack::{
    parse_heaptrack_print, parse_heaptrack_print_bytes, Backtrace, HeapFrame, HeapReport,
    HeapSummary, OtherPlaces, Site, SuppressionUse,
};
pub use memcheck::{
    parse_memcheck_xml, parse_memcheck_xml_str, Amount, ErrorKind, FatalSignal, Frame, KindCount,
    LeakSummary, LeakVerdict, MemcheckError, MemcheckReport, RunState, Status,
};
pub use number::parse_size;
pub use symbol::tidy_symbol;

/// Options for `heaptrack_print` that make it print every section this crate
/// parses: the leak section (off by default in heaptrack 1.4), peak memory
/// consumers, most calls to allocation functions and most temporary
/// allocations, with backtraces merged per allocation site.
///
/// Pass them before `--file TRACE` (see [`heaptrack_print_command`]). Always
/// the `--opt=value` form: `-l TRACE` would make heaptrack 1.4 read the trace
/// path as the value of `-l` and fail.
pub const HEAPTRACK_PRINT_ARGS: &[&str] = &[
    "--print-leaks=1",
    "--print-peaks=1",
    "--print-allocators=1",
    "--print-temporary=1",
    "--merge-backtraces=1",
];

/// The full argv for `heaptrack_print` on a trace file written by
/// `heaptrack -o ...` (heaptrack 1.4 appends `.zst` to the `-o` name):
/// `heaptrack_print` + [`HEAPTRACK_PRINT_ARGS`] + `--file TRACE`.
///
/// Capture all of its stdout and give it to [`parse_heaptrack_print`]; stderr
/// only carries errors.
pub fn heaptrack_print_command(trace_file: &str) -> Vec<String> {
    let mut argv = vec!["heaptrack_print".to_string()];
    argv.extend(HEAPTRACK_PRINT_ARGS.iter().map(|s| s.to_string()));
    argv.push("--file".to_string());
    argv.push(trace_file.to_string());
    argv
}

/// Options for valgrind's memcheck lane, to be followed by
/// `--xml-file=PATH` and the target's argv (see [`memcheck_command`]).
pub const MEMCHECK_ARGS: &[&str] = &[
    "--tool=memcheck",
    "--leak-check=full",
    "--show-leak-kinds=definite,indirect,possible",
    "--xml=yes",
];

/// The full argv for a memcheck run writing XML to `xml_file`:
/// `valgrind` + [`MEMCHECK_ARGS`] + `--xml-file=XML` + `target`.
pub fn memcheck_command(xml_file: &str, target: &[&str]) -> Vec<String> {
    let mut argv = vec!["valgrind".to_string()];
    argv.extend(MEMCHECK_ARGS.iter().map(|s| s.to_string()));
    argv.push(format!("--xml-file={xml_file}"));
    argv.extend(target.iter().map(|s| s.to_string()));
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heaptrack_argv_uses_equals_form_and_file_option() {
        let argv = heaptrack_print_command("run.heaptrack.zst");
        assert_eq!(argv.first().map(String::as_str), Some("heaptrack_print"));
        assert!(argv.contains(&"--print-leaks=1".to_string()));
        assert_eq!(&argv[argv.len() - 2..], ["--file", "run.heaptrack.zst"]);
        assert!(HEAPTRACK_PRINT_ARGS.iter().all(|a| a.contains('=')));
    }

    #[test]
    fn memcheck_argv() {
        let argv = memcheck_command("out.xml", &["./svc", "--port", "1"]);
        assert_eq!(argv[0], "valgrind");
        assert!(argv.contains(&"--xml=yes".to_string()));
        assert!(argv.contains(&"--xml-file=out.xml".to_string()));
        assert_eq!(&argv[argv.len() - 3..], ["./svc", "--port", "1"]);
    }
}
