//! `prewarm:` a command run in the target once per cell, after its
//! entities are created and checked and before warm-up, so the window sees
//! the target in the state it serves in. Memory a service reserves but
//! touches only when used (a database's shared buffers, a cache's arena)
//! costs nothing until touched: without this a footprint reads a server
//! whose buffers are still empty, and a larger reservation goes unseen.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrewarmSpec {
    /// Argv run in the service's container (as `entities.exec` is); a
    /// non-zero exit fails the cell with its stderr. Nothing is substituted.
    pub exec: Vec<String>,
}

/// The section's problem, as (field, fix), for the caller to place in the file.
pub fn validate(p: &PrewarmSpec) -> Result<(), (&'static str, String)> {
    if p.exec.is_empty() || p.exec[0].trim().is_empty() {
        return Err((
            "exec",
            "must be a command as an argv list, e.g. [psql, --command, \"SELECT pg_prewarm('t')\"]"
                .into(),
        ));
    }
    if let Some(a) = p.exec.iter().find(|a| a.contains("{n}")) {
        return Err((
            "exec",
            format!(
                "`{a}` has `{{n}}`, which only `entities.exec` fills in; prewarm runs after the entities exist and gets no count"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(argv: &[&str]) -> PrewarmSpec {
        PrewarmSpec {
            exec: argv.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn a_command_is_required_and_gets_no_count() {
        assert!(validate(&spec(&["psql", "--command", "SELECT 1"])).is_ok());
        for bad in [&[][..], &[" "][..]] {
            let (field, msg) = validate(&spec(bad)).unwrap_err();
            assert_eq!(field, "exec");
            assert!(msg.contains("argv list"), "{msg}");
        }
        let (_, msg) = validate(&spec(&["psql", "--command", "SELECT {n}"])).unwrap_err();
        assert!(
            msg.contains("`SELECT {n}`") && msg.contains("entities.exec"),
            "{msg}"
        );
    }
}
