//! Held connections in a profile: `load.hold` (connections held open
//! through the load window) and `entities.hold` (the held-connection count
//! is the scaling lane's entity), their validation, and the machine's
//! open-file limit that bounds them.

use crate::units::HumanDuration;
use runcost_loadgen::HoldRequest;
use serde::Deserialize;
use std::time::Duration;

/// What each held connection sends: `path` (an HTTP GET whose answer is
/// streamed, e.g. SSE), `send` (bytes, TCP) or neither (idle keep-alive).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequestSpec {
    #[serde(default)]
    pub path: Option<String>,
    /// Escapes `\r \n \t \0 \\ \xHH`.
    #[serde(default)]
    pub send: Option<String>,
}

/// `load.hold: { connections: N, request: {...} }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadHold {
    pub connections: usize,
    #[serde(default)]
    pub request: Option<HoldRequestSpec>,
    /// Until every connection is held, else the cell fails.
    #[serde(default = "default_hold_timeout")]
    pub timeout: HumanDuration,
}

/// `entities.hold: { port, request: {...} }`: the count is set by holding
/// that many connections open from readiness through the window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitiesHold {
    pub port: u16,
    #[serde(default)]
    pub request: Option<HoldRequestSpec>,
    #[serde(default = "default_hold_timeout")]
    pub timeout: HumanDuration,
}

fn default_hold_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}

/// File descriptors the harness keeps for itself beyond the held ones.
pub const FD_RESERVE: u64 = 512;

impl HoldRequestSpec {
    /// The generator's request; the error is the message for the field.
    pub fn request(&self) -> Result<HoldRequest, (&'static str, String)> {
        match (&self.path, &self.send) {
            (Some(_), Some(_)) => Err((
                "request",
                "give `path` (an HTTP GET) or `send` (TCP bytes), not both".into(),
            )),
            (Some(p), None) => {
                if !p.starts_with('/') || p.contains(char::is_whitespace) {
                    return Err((
                        "path",
                        format!("`{p}` must start with / and contain no spaces, e.g. /events"),
                    ));
                }
                Ok(HoldRequest::HttpGet { path: p.clone() })
            }
            (None, Some(s)) => match runcost_loadgen::tcp::unescape(s) {
                Ok(b) if b.is_empty() => Err((
                    "send",
                    "is empty; give the bytes, or drop `request` for an idle connection".into(),
                )),
                Ok(b) => Ok(HoldRequest::Tcp { send: b }),
                Err(e) => Err(("send", format!("{e:#}"))),
            },
            (None, None) => Ok(HoldRequest::Idle),
        }
    }
}

/// 1-based line of the last key of `path` (`["load", "hold", "connections"]`),
/// each looked for below the one before; the deepest found.
pub(super) fn nested_line(text: &str, path: &[&str]) -> Option<usize> {
    let mut start = 1;
    let mut found = None;
    for key in path {
        let rest: String = text.lines().skip(start - 1).collect::<Vec<_>>().join("\n");
        match super::line_of(&rest, key) {
            Some(l) => {
                start += l - 1;
                found = Some(start);
            }
            None => break,
        }
    }
    found
}

/// Checks a `hold` block: its request, and for `load.hold` its count;
/// `err(key, msg)` points at `section.hold.key`.
pub(super) fn validate_request(
    request: &Option<HoldRequestSpec>,
    err: &dyn Fn(&str, String) -> anyhow::Error,
) -> anyhow::Result<()> {
    if let Some(r) = request {
        if let Err((key, msg)) = r.request() {
            let key = if key == "request" {
                "request".to_string()
            } else {
                format!("request.{key}")
            };
            return Err(err(&key, msg));
        }
    }
    Ok(())
}

/// The request of an optional spec (none: idle).
pub fn request_of(spec: &Option<HoldRequestSpec>) -> HoldRequest {
    spec.as_ref()
        .and_then(|r| r.request().ok())
        .unwrap_or(HoldRequest::Idle)
}

/// Checks `n` held connections against the range and this machine's
/// open-file limit (RLIMIT_NOFILE, hard: the harness raises its soft limit
/// to it before holding). The message says which and how to fix it.
pub fn check_count(n: u64) -> Result<(), String> {
    let max = runcost_loadgen::hold::MAX_HELD as u64;
    if !(1..=max).contains(&n) {
        return Err(format!("{n} held connections: must be between 1 and {max}"));
    }
    let (soft, hard) = nofile();
    if n + FD_RESERVE > hard {
        return Err(format!(
            "{n} held connections need {} open files, but this machine's open-file limit (RLIMIT_NOFILE) is {hard} (soft {soft}): hold at most {}, or raise the hard limit (`ulimit -Hn` as root, `LimitNOFILE=` for a systemd service, /etc/security/limits.conf)",
            n + FD_RESERVE,
            hard.saturating_sub(FD_RESERVE)
        ));
    }
    Ok(())
}

/// (soft, hard) RLIMIT_NOFILE of this process.
pub fn nofile() -> (u64, u64) {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap_or((1024, 1024))
}

/// Raises the soft open-file limit to the hard one (what `n` held
/// connections need was checked against the hard limit up front).
pub fn raise_nofile() {
    use nix::sys::resource::{setrlimit, Resource};
    let (soft, hard) = nofile();
    if soft < hard {
        if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            tracing::warn!("could not raise the open-file limit from {soft} to {hard}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_their_errors() {
        let r = |path: Option<&str>, send: Option<&str>| HoldRequestSpec {
            path: path.map(Into::into),
            send: send.map(Into::into),
        };
        assert_eq!(
            r(Some("/events"), None).request().unwrap(),
            HoldRequest::HttpGet {
                path: "/events".into()
            }
        );
        assert_eq!(
            r(None, Some("SUBSCRIBE a\\r\\n")).request().unwrap(),
            HoldRequest::Tcp {
                send: b"SUBSCRIBE a\r\n".to_vec()
            }
        );
        assert_eq!(r(None, None).request().unwrap(), HoldRequest::Idle);
        assert_eq!(r(Some("/a"), Some("x")).request().unwrap_err().0, "request");
        assert_eq!(r(Some("events"), None).request().unwrap_err().0, "path");
        assert_eq!(r(None, Some("")).request().unwrap_err().0, "send");
        assert_eq!(r(None, Some("\\xZZ")).request().unwrap_err().0, "send");
    }

    #[test]
    fn counts_beyond_the_range_or_the_open_file_limit_are_refused() {
        assert!(check_count(0).is_err());
        assert!(check_count(1).is_ok() || nofile().1 < 1 + FD_RESERVE);
        let over = nofile().1; // the hard limit itself leaves no reserve
        if over < runcost_loadgen::hold::MAX_HELD as u64 {
            let e = check_count(over).unwrap_err();
            assert!(e.contains("open-file limit"), "{e}");
            assert!(e.contains("ulimit -Hn"), "{e}");
        }
        assert!(check_count(runcost_loadgen::hold::MAX_HELD as u64 + 1).is_err());
    }
}
