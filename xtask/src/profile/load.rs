//! The `load:` section: HTTP requests or TCP request/response exchanges
//! against one container port, and their validation.

use crate::error::BadInput;
use crate::units::HumanDuration;
use runcost_loadgen::{Expect, Framing, RequestSpec, TcpConfig, TcpRequestSpec};
use serde::Deserialize;
use std::time::Duration;

/// Load: a weighted mix of requests against one container port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub port: u16,
    /// `http` (default) or `tcp`.
    #[serde(default)]
    pub protocol: LoadProtocol,
    /// The mix runcost's generator sends (may be empty when `tool` is set).
    #[serde(default)]
    pub requests: Vec<LoadRequest>,
    /// Keep-alive connections (default 16).
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// A request not answered within this counts as an error, at this latency.
    #[serde(default = "default_load_timeout")]
    pub timeout: HumanDuration,
    /// `{rand}` in a path or a send template becomes a random integer in
    /// [0, rand_max).
    #[serde(default = "default_rand_max")]
    pub rand_max: u64,
    /// TCP: the largest reply accepted, bytes (default 1 MiB); a longer one
    /// is a protocol error.
    #[serde(default = "default_max_reply")]
    pub max_reply: usize,
    /// TCP, closed loop: requests written back to back per connection
    /// (default 1).
    #[serde(default = "default_pipeline")]
    pub pipeline: usize,
    /// Connections held open from before the window through it
    /// (profile/hold.rs).
    #[serde(default)]
    pub hold: Option<super::hold::LoadHold>,
    /// The service's own load tool, for `--mode tool` (profile/tool.rs).
    #[serde(default)]
    pub tool: Option<super::tool::LoadTool>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LoadProtocol {
    #[default]
    Http,
    Tcp,
}

/// One request of the mix. HTTP: `method`, `path`, `body`. TCP: `send` and
/// one of `reply` (a protocol-aware reader), `until` (a terminator) or
/// `length` (a binary length prefix), optionally `expect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadRequest {
    #[serde(default)]
    pub method: Option<String>,
    /// Path template: `{rand}` and `{seq}` are substituted.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default)]
    pub body: Option<String>,
    /// TCP: bytes to send; escapes `\r \n \t \0 \\ \xHH`, `{rand}`, `{seq}`.
    #[serde(default)]
    pub send: Option<String>,
    #[serde(default)]
    pub reply: Option<ReplyReader>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub length: Option<LengthPrefix>,
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// Protocol-aware reply readers.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReplyReader {
    /// One RESP value (redis).
    Resp,
    /// One memcached text-protocol reply (`VALUE`... `END`, `STORED`, ...).
    Memcached,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthPrefix {
    /// 1, 2 or 4.
    pub bytes: u8,
    #[serde(default)]
    pub endian: Endian,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Endian {
    #[default]
    Big,
    Little,
}

fn default_connections() -> usize {
    16
}
fn default_load_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(2))
}
fn default_rand_max() -> u64 {
    1000
}
fn default_max_reply() -> usize {
    1 << 20
}
fn default_pipeline() -> usize {
    1
}
fn default_weight() -> u32 {
    1
}

impl LoadSpec {
    /// The HTTP mix (empty for TCP).
    pub fn http_mix(&self) -> Vec<RequestSpec> {
        if self.protocol != LoadProtocol::Http {
            return Vec::new();
        }
        self.requests
            .iter()
            .map(|r| RequestSpec {
                method: r.method.clone().unwrap_or_else(|| "GET".into()),
                path_template: r.path.clone().unwrap_or_default(),
                weight: r.weight,
                body: r.body.clone(),
            })
            .collect()
    }

    /// The TCP side of the generator's configuration, `None` for HTTP.
    pub fn tcp(&self) -> Option<TcpConfig> {
        if self.protocol != LoadProtocol::Tcp {
            return None;
        }
        let requests = self
            .requests
            .iter()
            .map(|r| TcpRequestSpec {
                send: r.send.clone().unwrap_or_default(),
                framing: r.framing().unwrap_or(Framing::Resp),
                expect: r.expect.clone().unwrap_or_default(),
                weight: r.weight,
            })
            .collect();
        Some(TcpConfig {
            requests,
            max_reply_bytes: self.max_reply,
        })
    }
}

impl LoadRequest {
    fn framing(&self) -> Option<Framing> {
        match (&self.reply, &self.until, &self.length) {
            (Some(ReplyReader::Resp), None, None) => Some(Framing::Resp),
            (Some(ReplyReader::Memcached), None, None) => Some(Framing::Memcached),
            (None, Some(t), None) => Some(Framing::Terminator(t.clone())),
            (None, None, Some(l)) => Some(Framing::Length {
                bytes: l.bytes,
                big_endian: l.endian == Endian::Big,
            }),
            _ => None,
        }
    }
}

/// Checks the section; errors are `BadInput` naming the file, the line of
/// the field in the `load:` block, the field and the fix.
pub(super) fn validate(shown: &str, text: &str, load: &LoadSpec) -> anyhow::Result<()> {
    let err = |key: &str, msg: String| -> anyhow::Error {
        let line = super::line_in_section(text, "load", key)
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        BadInput(format!("{shown}{line}: field `load.{key}`: {msg}")).into()
    };
    // The line of the n-th request (0-based) in the `requests:` list.
    let err_at = |i: usize, key: &str, msg: String| -> anyhow::Error {
        let line = request_line(text, i, key)
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        BadInput(format!(
            "{shown}{line}: field `load.requests[{i}].{key}`: {msg}"
        ))
        .into()
    };
    if let Some(tool) = &load.tool {
        super::tool::validate(shown, text, tool)?;
    }
    if load.requests.is_empty() && load.tool.is_none() {
        return Err(err(
            "requests",
            "the load mix is empty; list at least one request (or give `load.tool`)".into(),
        ));
    }
    for (i, r) in load.requests.iter().enumerate() {
        if r.weight == 0 {
            return Err(err_at(i, "weight", "must be at least 1".into()));
        }
        match load.protocol {
            LoadProtocol::Http => {
                for (set, name) in [
                    (r.send.is_some(), "send"),
                    (r.reply.is_some(), "reply"),
                    (r.until.is_some(), "until"),
                    (r.length.is_some(), "length"),
                    (r.expect.is_some(), "expect"),
                ] {
                    if set {
                        return Err(err_at(
                            i,
                            name,
                            "is for `protocol: tcp`; an HTTP request has `method`, `path` and `body`".into(),
                        ));
                    }
                }
                let method = r.method.as_deref().unwrap_or("GET");
                const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"];
                if !METHODS.contains(&method) {
                    return Err(err_at(
                        i,
                        "method",
                        format!("`{method}` is not one of {}", METHODS.join(", ")),
                    ));
                }
                let Some(path) = &r.path else {
                    return Err(err_at(
                        i,
                        "path",
                        "is missing; give the request path, e.g. `path: /health`".into(),
                    ));
                };
                if !path.starts_with('/') {
                    return Err(err_at(i, "path", format!("`{path}` must start with /")));
                }
            }
            LoadProtocol::Tcp => {
                for (set, name) in [
                    (r.method.is_some(), "method"),
                    (r.path.is_some(), "path"),
                    (r.body.is_some(), "body"),
                ] {
                    if set {
                        return Err(err_at(
                            i,
                            name,
                            "is for HTTP; a `protocol: tcp` request has `send` and `reply`, `until` or `length`".into(),
                        ));
                    }
                }
                let Some(send) = &r.send else {
                    return Err(err_at(
                        i,
                        "send",
                        "is missing; give the bytes to send, e.g. `send: \"GET key:{rand}\\r\\n\"`"
                            .into(),
                    ));
                };
                if send.is_empty() {
                    return Err(err_at(i, "send", "is empty; give the bytes to send".into()));
                }
                if let Err(e) = runcost_loadgen::tcp::check_template(send) {
                    return Err(err_at(i, "send", format!("{e:#}")));
                }
                if r.framing().is_none() {
                    return Err(err_at(
                        i,
                        "reply",
                        "say where the reply ends with exactly one of `reply: resp|memcached`, `until: \"\\r\\n\"` (a terminator) or `length: { bytes: 4, endian: big }`".into(),
                    ));
                }
                if let Some(t) = &r.until {
                    match runcost_loadgen::tcp::unescape(t) {
                        Ok(b) if b.is_empty() => {
                            return Err(err_at(
                                i,
                                "until",
                                "is empty; give the terminator, e.g. \"\\r\\n\"".into(),
                            ))
                        }
                        Ok(_) => {}
                        Err(e) => return Err(err_at(i, "until", format!("{e:#}"))),
                    }
                }
                if let Some(l) = &r.length {
                    if !matches!(l.bytes, 1 | 2 | 4) {
                        return Err(err_at(
                            i,
                            "length",
                            format!("bytes: {} must be 1, 2 or 4", l.bytes),
                        ));
                    }
                }
                if let Some(e) = &r.expect {
                    for (v, name) in [
                        (&e.exact, "exact"),
                        (&e.prefix, "prefix"),
                        (&e.contains, "contains"),
                    ] {
                        if let Some(Err(e)) = v.as_deref().map(runcost_loadgen::tcp::unescape) {
                            return Err(err_at(i, &format!("expect.{name}"), format!("{e:#}")));
                        }
                    }
                }
            }
        }
    }
    if !(1..=10_000).contains(&load.connections) {
        return Err(err("connections", "must be between 1 and 10000".into()));
    }
    if load.rand_max == 0 {
        return Err(err("rand_max", "must be at least 1".into()));
    }
    let limit = runcost_loadgen::tcp::MAX_REPLY_LIMIT;
    if !(1..=limit).contains(&load.max_reply) {
        return Err(err(
            "max_reply",
            format!("must be between 1 and {limit} bytes"),
        ));
    }
    let depth = runcost_loadgen::tcp::MAX_PIPELINE;
    if !(1..=depth).contains(&load.pipeline) {
        return Err(err("pipeline", format!("must be between 1 and {depth}")));
    }
    if let Some(h) = &load.hold {
        let err = |key: &str, msg: String| -> anyhow::Error {
            let line = super::hold::nested_line(
                text,
                &["load", "hold", key.split('.').next_back().unwrap_or(key)],
            )
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
            BadInput(format!("{shown}{line}: field `load.hold.{key}`: {msg}")).into()
        };
        super::hold::check_count(h.connections as u64)
            .map_err(|m| err("connections", format!("{m}; lower `load.hold.connections`")))?;
        super::hold::validate_request(&h.request, &err)?;
        if h.timeout.0.is_zero() {
            return Err(err(
                "timeout",
                "must be longer than 0s: how long opening every connection may take (e.g. 60s)"
                    .into(),
            ));
        }
    }
    if load.pipeline > 1 && load.protocol != LoadProtocol::Tcp {
        return Err(err(
            "pipeline",
            "applies to `protocol: tcp` only (HTTP/1.1 keeps one request in flight); drop it"
                .into(),
        ));
    }
    Ok(())
}

/// 1-based line of `key:` in the `i`-th item of `load.requests`, or of the
/// item itself.
fn request_line(text: &str, i: usize, key: &str) -> Option<usize> {
    let start = super::line_in_section(text, "load", "requests")?;
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    for (n, l) in lines.iter().enumerate().skip(start) {
        let t = l.trim_start();
        if t.starts_with("- ") {
            items.push(n);
        } else if !t.is_empty() && !t.starts_with('#') && l.len() - t.len() == 0 {
            break; // the next top-level key
        }
    }
    let first = *items.get(i)?;
    let end = items.get(i + 1).copied().unwrap_or(lines.len());
    let needle = format!("{key}:");
    let found = (first..end).find(|&n| {
        let t = lines[n].trim_start().trim_start_matches("- ");
        t.starts_with(&needle)
            || t.contains(&format!(" {needle}"))
            || t.contains(&format!("{{{needle}"))
    });
    Some(found.unwrap_or(first) + 1)
}
