use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an input could not be read as the tool's output at all.
///
/// Anything less severe (an unknown line, a number out of range, a file cut
/// short) is reported in the report's `warnings` instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParseError {
    /// The input is empty or only whitespace.
    Empty {
        /// Which parser saw it: `"heaptrack_print"` or `"valgrind XML"`.
        what: String,
    },
    /// The valgrind input is not XML (for example valgrind's text output, or
    /// binary data).
    NotXml {
        /// The start of the input, escaped.
        found: String,
        /// Whether it looks like valgrind's text output (`==PID== ...`).
        valgrind_text: bool,
    },
    /// XML whose root element is not `<valgrindoutput>`.
    NotValgrindXml {
        /// The root element found.
        root: String,
    },
    /// The XML is malformed before its root element starts.
    Xml {
        /// Byte offset of the problem.
        position: u64,
        /// The XML parser's message.
        message: String,
    },
    /// Nothing in the text is recognisable as `heaptrack_print` output.
    NotHeaptrack {
        /// The first non-empty line, escaped.
        first_line: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty { what } => write!(f, "{what} input is empty"),
            ParseError::NotXml {
                found,
                valgrind_text,
            } => {
                write!(f, "valgrind output is not XML (it starts with {found})")?;
                if *valgrind_text {
                    write!(
                        f,
                        "; this is valgrind's text output: run valgrind with --xml=yes \
                         --xml-file=FILE and parse FILE"
                    )?;
                }
                Ok(())
            }
            ParseError::NotValgrindXml { root } => write!(
                f,
                "XML root element is <{root}>, not <valgrindoutput>: not a valgrind XML file"
            ),
            ParseError::Xml { position, message } => write!(
                f,
                "malformed XML at byte {position} before <valgrindoutput>: {message}"
            ),
            ParseError::NotHeaptrack { first_line } => write!(
                f,
                "no heaptrack_print section, entry or summary line found (first line: {first_line})"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// The first `max` characters of `s`, Debug-escaped, for messages.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let mut cut: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_clear() {
        let e = ParseError::NotXml {
            found: excerpt("==12== Memcheck, a memory error detector", 20),
            valgrind_text: true,
        };
        let s = e.to_string();
        assert!(s.contains("not XML"), "{s}");
        assert!(s.contains("--xml=yes"), "{s}");
        assert!(ParseError::NotValgrindXml {
            root: "html".into()
        }
        .to_string()
        .contains("<html>"));
    }

    #[test]
    fn excerpt_is_bounded_and_escaped() {
        assert_eq!(excerpt("ab\u{0}cd", 3), "\"ab\\0…\"");
        assert_eq!(excerpt("ab", 3), "\"ab\"");
    }
}
