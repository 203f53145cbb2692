//! Profiles: a YAML file per target saying how to start it (compose file and
//! service), which process to sample, how to tell it is ready, and how the
//! harness sets entity counts and knobs. Relative paths in a profile are
//! resolved against the profile file's own directory, as compose does.
//!
//! Every error names the file, the line, the field and the fix.

use crate::error::BadInput;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod hold;
pub mod load;
pub mod prewarm;
mod spec;
pub mod suite;
pub mod thresholds;
pub mod tool;
pub use spec::*;

/// A validated profile with resolved paths.
#[derive(Debug, Clone)]
pub struct Profile {
    pub spec: ProfileSpec,
    /// The profile file.
    pub path: PathBuf,
    /// Absolute compose file path.
    pub compose_file: PathBuf,
    /// Services declared in the compose file (all get our labels).
    pub compose_services: Vec<String>,
    /// sha256 of the profile text, recorded in results.
    pub hash: String,
    /// `wrap.memcheck.suppressions`, resolved and checked to be a directory.
    pub suppressions_dir: Option<PathBuf>,
}

impl Profile {
    /// The process names to sample (empty: the container's main process).
    pub fn process_names(&self) -> Vec<String> {
        self.spec
            .process
            .as_ref()
            .map(ProcessNames::names)
            .unwrap_or_default()
    }

    /// Resolves `--profile NAME|PATH`: a path if it names a file, else
    /// `profiles/<NAME>.yaml` under the repository root.
    pub fn resolve(repo_root: &Path, arg: &str) -> Result<Profile> {
        let as_path = PathBuf::from(arg);
        let path = if as_path.is_file() {
            as_path
        } else {
            let candidate = repo_root.join("profiles").join(format!("{arg}.yaml"));
            if !candidate.is_file() {
                let known = list_names(repo_root).join(", ");
                return Err(BadInput(format!(
                    "--profile {arg}: no such file and no profiles/{arg}.yaml; \
                     known profiles: {known}"
                ))
                .into());
            }
            candidate
        };
        Profile::load(&path)
    }

    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read profile {}", path.display()))?;
        Profile::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Profile> {
        let shown = path.display();
        let de = serde_yaml::Deserializer::from_str(text);
        let spec: ProfileSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let at = inner
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            let field = if field == "." {
                String::new()
            } else {
                format!(" field `{field}`:")
            };
            BadInput(format!(
                "{shown}{at}:{field} {inner}; fix the profile (see README, \"Writing a profile\")"
            ))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let err = |key: &str, msg: String| -> anyhow::Error {
            let line = line_of(text, key)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            BadInput(format!("{shown}{line}: field `{key}`: {msg}")).into()
        };

        if spec.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        let compose_file = dir.join(&spec.compose);
        if !compose_file.is_file() {
            return Err(err(
                "compose",
                format!(
                    "compose file {} does not exist; the path is relative to the profile file",
                    compose_file.display()
                ),
            ));
        }
        let compose_services = compose_service_names(&compose_file)?;
        if !compose_services.contains(&spec.service) {
            return Err(err(
                "service",
                format!(
                    "service `{}` is not in {}; it declares: {}",
                    spec.service,
                    compose_file.display(),
                    compose_services.join(", ")
                ),
            ));
        }
        if let Some(p) = &spec.process {
            let names = p.names();
            if names.is_empty() {
                return Err(err(
                    "process",
                    "is an empty list; name at least one process, or leave `process:` out to sample the main process".into(),
                ));
            }
            for n in &names {
                if n.is_empty() || n.len() > 15 {
                    return Err(err(
                        "process",
                        format!("`{n}` must be a process name as /proc/<pid>/comm shows it (1 to 15 characters)"),
                    ));
                }
            }
            if let Some(d) = names
                .iter()
                .enumerate()
                .find_map(|(i, n)| names[..i].contains(n).then_some(n))
            {
                return Err(err("process", format!("`{d}` is listed twice")));
            }
        }
        let argv_ok = |key: &str, argv: &[String], example: &str| {
            if argv.is_empty() || argv[0].trim().is_empty() {
                Err(err(
                    key,
                    format!("must be a command as an argv list, e.g. {example}"),
                ))
            } else {
                Ok(())
            }
        };
        let check_ok = |c: &CheckSpec| -> Result<()> {
            let kinds = usize::from(c.http.is_some())
                + usize::from(c.exec.is_some())
                + usize::from(c.memcached.is_some());
            if kinds != 1 {
                return Err(err(
                    "check",
                    "must read the value one way: `http` with `json`, `exec`, or `memcached`"
                        .into(),
                ));
            }
            match (&c.http, &c.json) {
                (Some(h), Some(j)) => {
                    if !j.starts_with('/') {
                        return Err(err(
                            "json",
                            format!("`{j}` is not a JSON pointer; write e.g. /entities"),
                        ));
                    }
                    if !h.path.starts_with('/') {
                        return Err(err("path", format!("`{}` must start with /", h.path)));
                    }
                }
                (Some(_), None) => return Err(err(
                    "check",
                    "an `http` check needs `json`: the JSON pointer of the value, e.g. /entities"
                        .into(),
                )),
                (None, Some(_)) => {
                    return Err(err("json", "goes with an `http` check only".into()))
                }
                (None, None) => {}
            }
            if let Some(argv) = &c.exec {
                argv_ok("exec", argv, "[redis-cli, DBSIZE]")?;
            }
            if let Some(m) = &c.memcached {
                if m.stat.is_empty() || m.stat.contains(char::is_whitespace) {
                    return Err(err(
                        "stat",
                        "must name one statistic, e.g. curr_items".into(),
                    ));
                }
            }
            Ok(())
        };
        if let Some(e) = &spec.entities {
            let ways = usize::from(e.env.is_some())
                + usize::from(e.exec.is_some())
                + usize::from(e.memcached.is_some())
                + usize::from(e.hold.is_some());
            if ways != 1 {
                return Err(err(
                    "entities",
                    "must set the count one way: `env`, `exec` (with {n}), `memcached` or `hold`"
                        .into(),
                ));
            }
            if let Some(h) = &e.hold {
                let herr = |key: &str, msg: String| -> anyhow::Error {
                    let leaf = key.split('.').next_back().unwrap_or(key);
                    let line = hold::nested_line(text, &["entities", "hold", leaf])
                        .map(|l| format!(":{l}"))
                        .unwrap_or_default();
                    BadInput(format!("{shown}{line}: field `entities.hold.{key}`: {msg}")).into()
                };
                hold::validate_request(&h.request, &herr)?;
                if h.timeout.0.is_zero() {
                    return Err(herr(
                        "timeout",
                        "must be longer than 0s: how long opening every connection may take (e.g. 60s)".into(),
                    ));
                }
                if let Some(n) = e.default {
                    hold::check_count(n)
                        .map_err(|m| err("default", format!("{m}; lower `entities.default`")))?;
                }
            }
            if let Some(name) = &e.env {
                check_env_name(name).map_err(|m| err("env", m))?;
                if e.default.is_some() {
                    return Err(err(
                        "default",
                        format!("with `env`, the default count is the profile's `env.{name}`"),
                    ));
                }
            }
            if let Some(argv) = &e.exec {
                argv_ok("exec", argv, "[redis-cli, DEBUG, POPULATE, \"{n}\"]")?;
                if !argv.iter().any(|a| a.contains("{n}")) {
                    return Err(err(
                        "exec",
                        "no argument contains {n}, the entity count; e.g. [redis-cli, DEBUG, POPULATE, \"{n}\"]".into(),
                    ));
                }
            }
            if let Some(m) = &e.memcached {
                if m.value_bytes == 0 || m.value_bytes > 1 << 20 {
                    return Err(err("value_bytes", "must be between 1 and 1048576".into()));
                }
                if m.prefix.is_empty()
                    || m.prefix.len() > 200
                    || m.prefix
                        .contains(|c: char| c.is_whitespace() || c.is_control())
                {
                    return Err(err(
                        "prefix",
                        "must be 1-200 characters without spaces (a memcached key prefix)".into(),
                    ));
                }
            }
            if let Some(c) = &e.check {
                check_ok(c)?;
            }
            use crate::results::MetricKind as M;
            if let Some(m) = e.metric {
                if !M::MEMORY.contains(&m) {
                    return Err(err(
                        "metric",
                        format!(
                            "`{}` is not a memory metric; use one of {}",
                            m.name(),
                            M::names(&M::MEMORY)
                        ),
                    ));
                }
            }
        }
        for k in spec.knobs.values() {
            check_env_name(&k.env).map_err(|m| err("env", m))?;
            if let Some(c) = &k.check {
                check_ok(c)?;
            }
        }
        let r = &spec.ready;
        let ways = usize::from(r.http.is_some())
            + usize::from(r.tcp.is_some())
            + usize::from(r.exec.is_some());
        if ways != 1 {
            return Err(err(
                "ready",
                "must name one readiness probe: `http: { port, path }`, `tcp: PORT` or `exec: [argv]`".into(),
            ));
        }
        if let Some(h) = &r.http {
            if !h.path.starts_with('/') {
                return Err(err("path", format!("`{}` must start with /", h.path)));
            }
        }
        if let Some(argv) = &r.exec {
            argv_ok("exec", argv, "[redis-cli, ping]")?;
        }
        if let Some(c) = spec.fault.as_ref().and_then(|f| f.client.as_ref()) {
            if usize::from(c.http.is_some()) + usize::from(c.tcp.is_some()) != 1 {
                return Err(err(
                    "client",
                    "must name one probe: `http: { port, path }` or `tcp: PORT`".into(),
                ));
            }
            if let Some(h) = &c.http {
                if !h.path.starts_with('/') {
                    return Err(err("path", format!("`{}` must start with /", h.path)));
                }
            }
        }
        if let Some(load) = &spec.load {
            load::validate(&shown.to_string(), text, load)?;
        }
        for k in spec.env.keys() {
            check_env_name(k).map_err(|m| {
                // Point at the key's own line (the first `env:` may be another section's).
                let line = text
                    .lines()
                    .position(|l| l.contains(k.as_str()) && l.contains(':'))
                    .map(|i| format!(":{}", i + 1))
                    .unwrap_or_default();
                anyhow::Error::from(BadInput(format!(
                    "{shown}{line}: field `env`: {m}; rename the variable"
                )))
            })?;
        }
        if spec.steady.window.0.is_zero() {
            return Err(in_section_early(
                text,
                &shown,
                "steady",
                "window",
                "must be longer than 0s: the slope is judged over this trailing window (e.g. 3s)",
            ));
        }
        if let Some(s) = &spec.suite {
            suite::validate(
                s,
                &|key, msg| in_section_early(text, &shown, "suite", key, &msg),
                check_env_name,
            )?;
        }
        if spec.steady.floor_bytes_per_s <= 0.0 || !spec.steady.floor_bytes_per_s.is_finite() {
            return Err(err("floor_bytes_per_s", "must be a positive number".into()));
        }
        let in_section = |section: &str, key: &str, msg: String| -> anyhow::Error {
            let line = line_in_section(text, section, key)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            BadInput(format!("{shown}{line}: field `{section}.{key}`: {msg}")).into()
        };
        thresholds::validate(&thresholds::GateRules::of(&spec), &in_section)?;
        if let Some(b) = &spec.build {
            if !dir.join(&b.dockerfile).is_file() {
                return Err(in_section(
                    "build",
                    "dockerfile",
                    format!(
                        "{} does not exist; the path is relative to the profile file",
                        dir.join(&b.dockerfile).display()
                    ),
                ));
            }
            if let Some(c) = &b.context {
                if !dir.join(c).is_dir() {
                    return Err(in_section(
                        "build",
                        "context",
                        format!(
                            "{} is not a directory; the path is relative to the profile file",
                            dir.join(c).display()
                        ),
                    ));
                }
            }
        }
        let mut suppressions_dir = None;
        if let Some(w) = &spec.wrap {
            if w.argv.is_empty() || w.argv[0].trim().is_empty() {
                return Err(in_section(
                    "wrap",
                    "argv",
                    "must name the target's command, e.g. [\"/usr/local/bin/gateway\"]".into(),
                ));
            }
            if w.image.trim().is_empty() {
                return Err(in_section("wrap", "image", "must not be empty".into()));
            }
            for k in w.env.keys() {
                check_env_name(k).map_err(|m| in_section("wrap", "env", m))?;
            }
            if let Some(d) = &w.dockerfile {
                let f = dir.join(d);
                if !f.is_file() {
                    return Err(in_section(
                        "wrap",
                        "dockerfile",
                        format!(
                            "{} does not exist; the path is relative to the profile file",
                            f.display()
                        ),
                    ));
                }
            }
            if w.ready_timeout.0 < Duration::from_secs(1) || w.stop_grace.0 < Duration::from_secs(1)
            {
                return Err(in_section(
                    "wrap",
                    "stop_grace",
                    "ready_timeout and stop_grace must be at least 1s".into(),
                ));
            }
            if let Some(d) = &w.memcheck.suppressions {
                let p = dir.join(d);
                if !p.is_dir() {
                    return Err(in_section(
                        "memcheck",
                        "suppressions",
                        format!(
                            "{} is not a directory; give a directory of valgrind *.supp files, relative to the profile file",
                            p.display()
                        ),
                    ));
                }
                let p = p
                    .canonicalize()
                    .with_context(|| format!("resolve {}", p.display()))?;
                if p.to_string_lossy().contains(':') {
                    return Err(in_section(
                        "memcheck",
                        "suppressions",
                        "the path must not contain `:` (it is bind-mounted)".into(),
                    ));
                }
                suppressions_dir = Some(p);
            }
        }
        if let Some(c) = &spec.churn {
            let execs = usize::from(c.create.exec.is_some()) + usize::from(c.delete.exec.is_some());
            if execs == 1 {
                return Err(in_section(
                    "churn",
                    if c.create.exec.is_some() {
                        "delete"
                    } else {
                        "create"
                    },
                    "create and delete must both be HTTP requests or both `exec` commands".into(),
                ));
            }
            if execs == 0 && c.port.is_none() {
                return Err(in_section(
                    "churn",
                    "port",
                    "HTTP churn needs the container `port` of its requests".into(),
                ));
            }
            for (key, r) in [("create", &c.create), ("delete", &c.delete)] {
                if let Some(argv) = &r.exec {
                    if argv.is_empty() || argv[0].trim().is_empty() {
                        return Err(in_section(
                            "churn",
                            key,
                            "`exec` must be a command as an argv list".into(),
                        ));
                    }
                    if !r.method.is_empty()
                        || !r.path.is_empty()
                        || r.id.is_some()
                        || r.body.is_some()
                    {
                        return Err(in_section(
                            "churn",
                            key,
                            "an `exec` request has no method, path, id or body".into(),
                        ));
                    }
                }
            }
            for (key, r, want) in [
                ("create", &c.create, "POST"),
                ("delete", &c.delete, "DELETE"),
            ]
            .into_iter()
            .filter(|_| execs == 0)
            {
                const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
                if !METHODS.contains(&r.method.as_str()) {
                    return Err(in_section(
                        "churn",
                        key,
                        format!(
                            "method `{}` is not one of {} (usually {want})",
                            r.method,
                            METHODS.join(", ")
                        ),
                    ));
                }
                if !r.path.starts_with('/') {
                    return Err(in_section(
                        "churn",
                        key,
                        format!("path `{}` must start with /", r.path),
                    ));
                }
            }
            if c.delete.path.contains("{id}") {
                match &c.create.id {
                    Some(p) if p.starts_with('/') => {}
                    Some(p) => {
                        return Err(in_section(
                            "churn",
                            "create",
                            format!("id `{p}` is not a JSON pointer; write e.g. /id"),
                        ))
                    }
                    None => {
                        return Err(in_section(
                            "churn",
                            "create",
                            "the delete path uses {id}: give `id:`, the JSON pointer to the new object's id in the create response (e.g. /id)".into(),
                        ))
                    }
                }
            }
            if c.delete.id.is_some() {
                return Err(in_section(
                    "churn",
                    "delete",
                    "`id` belongs to `create` (where the id is read from)".into(),
                ));
            }
            for k in c.env.keys() {
                check_env_name(k).map_err(|m| in_section("churn", "env", m))?;
            }
            if !(1..=100_000).contains(&c.batch) {
                return Err(in_section(
                    "churn",
                    "batch",
                    "must be between 1 and 100000".into(),
                ));
            }
            use crate::results::MetricKind as M;
            for (i, m) in c.metrics.iter().enumerate() {
                if !M::SAMPLED.contains(m) {
                    return Err(in_section(
                        "churn",
                        "metrics",
                        format!(
                            "`{}` is not read per cycle; use any of {}",
                            m.name(),
                            M::names(&M::SAMPLED)
                        ),
                    ));
                }
                if c.metrics[..i].contains(m) {
                    return Err(in_section(
                        "churn",
                        "metrics",
                        format!("`{}` is listed twice", m.name()),
                    ));
                }
            }
            if !(c.floor_bytes_per_cycle.is_finite() && c.floor_bytes_per_cycle >= 0.0) {
                return Err(in_section(
                    "churn",
                    "floor_bytes_per_cycle",
                    "must be a non-negative number".into(),
                ));
            }
        }
        if let Some((key, msg)) = spec
            .prewarm
            .as_ref()
            .and_then(|p| prewarm::validate(p).err())
        {
            return Err(in_section("prewarm", key, msg));
        }
        let compose_file = compose_file
            .canonicalize()
            .with_context(|| format!("resolve {}", compose_file.display()))?;
        Ok(Profile {
            hash: sha256_hex(text.as_bytes()),
            path: path.to_path_buf(),
            compose_file,
            compose_services,
            spec,
            suppressions_dir,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The container ports the harness must reach from the host.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.spec.ready.port().into_iter().collect();
        let checks = self
            .spec
            .entities
            .iter()
            .filter_map(|e| e.check.as_ref())
            .chain(self.spec.knobs.values().filter_map(|k| k.check.as_ref()));
        ports.extend(checks.filter_map(CheckSpec::port));
        ports.extend(
            self.spec
                .entities
                .iter()
                .filter_map(|e| e.memcached.as_ref().map(|m| m.port)),
        );
        ports.extend(self.spec.load.iter().map(|l| l.port));
        ports.extend(
            self.spec
                .entities
                .iter()
                .filter_map(|e| e.hold.as_ref().map(|h| h.port)),
        );
        ports.extend(self.spec.fault.iter().filter_map(|f| match &f.action {
            FaultAction::Http(h) => Some(h.port),
            _ => None,
        }));
        ports.extend(
            self.spec
                .fault
                .iter()
                .filter_map(|f| f.client_probe(&self.spec.ready).map(|(p, _)| p)),
        );
        ports.extend(self.spec.churn.iter().filter_map(|c| c.port));
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

fn check_env_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

/// Names of the profiles shipped in `profiles/`.
pub fn list_names(repo_root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root.join("profiles"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// Service names declared in a compose file.
pub fn compose_service_names(file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
        BadInput(format!(
            "{}: not valid YAML: {e}; fix the compose file",
            file.display()
        ))
    })?;
    let services = doc
        .get("services")
        .and_then(|s| s.as_mapping())
        .ok_or_else(|| {
            BadInput(format!(
                "{}: no `services:` mapping; runcost needs a compose file that declares services",
                file.display()
            ))
        })?;
    Ok(services
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect())
}

/// A bad `section.key`, pointed at its line inside the section.
fn in_section_early(
    text: &str,
    shown: &std::path::Display<'_>,
    section: &str,
    key: &str,
    msg: &str,
) -> anyhow::Error {
    let line = line_in_section(text, section, key)
        .map(|l| format!(":{l}"))
        .unwrap_or_default();
    let field = if key == section {
        section.to_string()
    } else {
        format!("{section}.{key}")
    };
    BadInput(format!("{shown}{line}: field `{field}`: {msg}")).into()
}

/// 1-based line of the first `key:` in a YAML text, to point errors at it.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let needle = format!("{key}:");
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.starts_with(&needle)
                || t.contains(&format!(" {needle}"))
                || t.contains(&format!("{{{needle}"))
        })
        .map(|i| i + 1)
}

/// 1-based line of `key:` inside the block that starts at `section:` (the
/// first one), so an error about `churn.path` points at the churn section.
fn line_in_section(text: &str, section: &str, key: &str) -> Option<usize> {
    let start = line_of(text, section)?;
    let rest: String = text.lines().skip(start - 1).collect::<Vec<_>>().join("\n");
    line_of(&rest, key).map(|l| l + start - 1).or(Some(start))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
