//! `load.tool`: the service's own load tool (pgbench, redis-benchmark) as
//! an argv, run in its own container from the target's image (or another
//! image that holds it), sharing the target's network namespace, while the
//! load lane samples the target. Words are argv entries, never a shell
//! line; placeholders fill whole values inside a word.

use crate::error::BadInput;
use crate::results::tool::ToolKind;
use crate::units::HumanDuration;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadTool {
    /// The tool's argv. Placeholders: `{host}` (127.0.0.1: the tool shares
    /// the target's network namespace), `{port}` (`load.port`),
    /// `{connections}` (`--connections` or `load.connections`) and
    /// `{seconds}` (the measured part of `--duration`, whole seconds).
    pub argv: Vec<String>,
    /// Run once in the same way before warm-up (e.g. `pgbench -i`), so the
    /// target settles with its data in place. Same placeholders.
    #[serde(default)]
    pub setup: Option<Vec<String>>,
    /// The image to run the tool from (default: the target's own image).
    #[serde(default)]
    pub image: Option<String>,
    /// Which parser reads the output (default: from argv[0]'s name,
    /// `pgbench` or `redis-benchmark`; another tool's output is kept but not
    /// read).
    #[serde(default)]
    pub parse: Option<ToolKind>,
    /// The longest one tool run (or its setup) may take (default 300s).
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}

/// The placeholders an argv word may hold.
pub const PLACEHOLDERS: [&str; 4] = ["host", "port", "connections", "seconds"];

/// Values for the placeholders of one run.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    pub port: u16,
    pub connections: usize,
    pub seconds: u64,
}

impl LoadTool {
    /// The parser for this tool's output.
    pub fn kind(&self) -> Option<ToolKind> {
        self.parse.or_else(|| {
            let name = self.argv.first()?.rsplit('/').next()?;
            match name {
                "pgbench" => Some(ToolKind::Pgbench),
                "redis-benchmark" => Some(ToolKind::RedisBenchmark),
                _ => None,
            }
        })
    }
}

/// `argv` with its placeholders filled in (validated words only).
pub fn fill(argv: &[String], f: Fill) -> Vec<String> {
    argv.iter()
        .map(|w| {
            w.replace("{host}", "127.0.0.1")
                .replace("{port}", &f.port.to_string())
                .replace("{connections}", &f.connections.to_string())
                .replace("{seconds}", &f.seconds.to_string())
        })
        .collect()
}

/// Checks one argv: not empty, no empty program, only known placeholders.
/// The message says what to fix.
fn check_argv(argv: &[String]) -> Result<(), String> {
    let Some(first) = argv.first() else {
        return Err(
            "is empty; give the tool's argv, e.g. [pgbench, --time, \"{seconds}\", ...]".into(),
        );
    };
    if first.trim().is_empty() {
        return Err("starts with an empty word; the first word is the program".into());
    }
    if matches!(first.as_str(), "sh" | "bash" | "/bin/sh" | "/bin/bash") {
        return Err(format!(
            "runs `{first}`: profile strings never reach a shell; give the tool's own argv"
        ));
    }
    for w in argv {
        let mut rest = w.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!("`{w}` has a `{{` without `}}`"));
            };
            let name = &after[..close];
            if !PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "`{w}` names `{{{name}}}`; the placeholders are {}",
                    PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                ));
            }
            rest = &after[close + 1..];
        }
    }
    Ok(())
}

/// Checks `load.tool`; errors name the file, the line, the field and the fix.
pub(super) fn validate(shown: &str, text: &str, tool: &LoadTool) -> anyhow::Result<()> {
    let err = |key: &str, msg: String| -> anyhow::Error {
        let line = super::hold::nested_line(text, &["load", "tool", key])
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        BadInput(format!("{shown}{line}: field `load.tool.{key}`: {msg}")).into()
    };
    check_argv(&tool.argv).map_err(|m| err("argv", m))?;
    if let Some(setup) = &tool.setup {
        check_argv(setup).map_err(|m| err("setup", m))?;
    }
    if tool.kind() == Some(ToolKind::RedisBenchmark)
        && !tool.argv.iter().any(|w| w == "--csv" || w == "-q")
    {
        return Err(err(
            "argv",
            "redis-benchmark's figures are read from `--csv` (or `-q`) output; add \"--csv\""
                .into(),
        ));
    }
    if let Some(image) = &tool.image {
        if image.trim().is_empty() {
            return Err(err(
                "image",
                "is empty; give an image name or drop the field (default: the target's image)"
                    .into(),
            ));
        }
    }
    if tool.timeout.0.is_zero() {
        return Err(err("timeout", "must be longer than 0s (e.g. 300s)".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placeholders_fill_whole_values() {
        let argv = v(&[
            "pgbench",
            "-h",
            "{host}",
            "-p",
            "{port}",
            "-c",
            "{connections}",
            "-T",
            "{seconds}",
            "--x={port}",
        ]);
        let f = Fill {
            port: 5432,
            connections: 4,
            seconds: 9,
        };
        assert_eq!(
            fill(&argv, f),
            v(&[
                "pgbench",
                "-h",
                "127.0.0.1",
                "-p",
                "5432",
                "-c",
                "4",
                "-T",
                "9",
                "--x=5432"
            ])
        );
    }

    #[test]
    fn bad_argv_says_what_to_fix() {
        assert!(check_argv(&[]).unwrap_err().contains("empty"));
        assert!(check_argv(&v(&["sh", "-c", "pgbench"]))
            .unwrap_err()
            .contains("shell"));
        assert!(check_argv(&v(&["pgbench", "-T", "{secs}"]))
            .unwrap_err()
            .contains("{seconds}"));
        assert!(check_argv(&v(&["pgbench", "{port"]))
            .unwrap_err()
            .contains("without"));
        assert!(check_argv(&v(&["pgbench", "-T", "{seconds}"])).is_ok());
    }

    #[test]
    fn the_parser_follows_the_program_name() {
        let t = |argv: &[&str], parse| LoadTool {
            argv: v(argv),
            setup: None,
            image: None,
            parse,
            timeout: default_timeout(),
        };
        assert_eq!(
            t(&["/usr/bin/pgbench"], None).kind(),
            Some(ToolKind::Pgbench)
        );
        assert_eq!(
            t(&["redis-benchmark"], None).kind(),
            Some(ToolKind::RedisBenchmark)
        );
        assert_eq!(t(&["memtier_benchmark"], None).kind(), None);
        assert_eq!(
            t(&["mytool"], Some(ToolKind::Pgbench)).kind(),
            Some(ToolKind::Pgbench)
        );
    }
}
