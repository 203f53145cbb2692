//! Box profiles (`profiles/boxes/<name>.yaml`): which runtime a box runs
//! on and how. Three backends: `engine` (a container of the base image with
//! the engine's `--runtime`), `qemu` (runcost's microVM) and `command` (any
//! runtime driven through its command line by argv templates, never a
//! shell line). Parsed like service profiles: every error names the file,
//! the line, the field and the fix, and is exit 2.

use crate::error::BadInput;
use crate::units::HumanDuration;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub use crate::results::boxes::{AccelChoice, Transport};

/// A profile as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxProfileSpec {
    /// One line for the report: what this runtime is.
    #[serde(default)]
    pub description: String,
    #[serde(rename = "backend")]
    backend_section: BackendSection,
}

/// `backend:` as written: exactly one of its keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendSection {
    engine: Option<EngineSpec>,
    qemu: Option<QemuSpec>,
    command: Option<CommandSpec>,
}

#[derive(Clone, Debug)]
pub enum BackendSpec {
    Engine(EngineSpec),
    Qemu(QemuSpec),
    Command(Box<CommandSpec>),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSpec {
    /// The engine's runtime name (`docker info` → Runtimes).
    pub runtime: String,
    #[serde(default = "default_image")]
    pub image: String,
    /// Read and write limit on the engine's data disk, bytes/s (the
    /// engine's `--device-read-bps`/`--device-write-bps`): a slow disk.
    #[serde(default)]
    pub disk_bps: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QemuSpec {
    #[serde(default = "default_accel")]
    pub accel: AccelChoice,
    #[serde(default = "default_transport")]
    pub transport: Transport,
    /// qemu's throttle on the scratch disk (`throttling.bps-total`),
    /// bytes/s: a slow disk.
    #[serde(default)]
    pub disk_bps: Option<u64>,
}

/// Any runtime through its command line. Templates are argv vectors; the
/// placeholders are `{id}` (the box id), `{bundle}` (the box's OCI bundle
/// directory), `{state}` (the profile's state directory in this run),
/// `{pid_file}` (a file the runtime may write the box's pid to) and
/// `{cgroup}` (the box's cgroup path, e.g. `/runcost-<run>-<box>`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The runtime's executable: a name on PATH or an absolute path. Missing
    /// → the profile is SKIPPED with the reason.
    pub binary: String,
    /// Build an OCI bundle (config.json + the image's rootfs) per box.
    #[serde(default)]
    pub bundle: Option<BundleSpec>,
    /// Whether `create` names the box (`{id}` in its argv) or prints it.
    #[serde(default)]
    pub id: IdMode,
    pub create: Vec<String>,
    #[serde(default)]
    pub start: Option<Vec<String>>,
    /// The box command's argv is appended to this one.
    pub exec: Vec<String>,
    pub stop: Vec<String>,
    pub remove: Vec<String>,
    /// Polled until it exits 0; without it, readiness is an exec of `true`
    /// that succeeds.
    #[serde(default)]
    pub ready: Option<Vec<String>>,
    /// Snapshot the running box into the directory `{image}` (the snapshot
    /// lane; without it the runtime is SKIPPED there with the reason).
    #[serde(default)]
    pub checkpoint: Option<Vec<String>>,
    /// Bring the box back from `{image}` (after `remove`), running.
    #[serde(default)]
    pub restore: Option<Vec<String>>,
    #[serde(rename = "host_pids")]
    host_pids_section: HostPidsSection,
    #[serde(skip, default = "no_pids")]
    pub host_pids: HostPidsSpec,
    #[serde(default)]
    pub timeouts: Timeouts,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSpec {
    #[serde(default = "default_image")]
    pub image: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdMode {
    /// runcost picks the id; `create` must contain `{id}`.
    #[default]
    Named,
    /// `create` prints the id as the first line of its stdout.
    Printed,
}

/// `host_pids:` as written: exactly one of its keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostPidsSection {
    pid_file: Option<String>,
    cgroup: Option<String>,
    command: Option<Vec<String>>,
}

/// How to find the box's host processes (its memory cost).
#[derive(Clone, Debug)]
pub enum HostPidsSpec {
    /// A file holding one pid: that process and its descendants.
    PidFile(String),
    /// A cgroup's `cgroup.procs` file: every process in it.
    Cgroup(String),
    /// A command printing pids, one per line (or whitespace-separated).
    Command(Vec<String>),
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "t30")]
    pub create: HumanDuration,
    #[serde(default = "t30")]
    pub start: HumanDuration,
    #[serde(default = "t30")]
    pub ready: HumanDuration,
    #[serde(default = "t30")]
    pub exec: HumanDuration,
    #[serde(default = "t10")]
    pub stop: HumanDuration,
    #[serde(default = "t10")]
    pub remove: HumanDuration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            create: t30(),
            start: t30(),
            ready: t30(),
            exec: t30(),
            stop: t10(),
            remove: t10(),
        }
    }
}

fn t30() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}
fn t10() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
fn no_pids() -> HostPidsSpec {
    HostPidsSpec::Command(Vec::new())
}
fn default_image() -> String {
    super::container::IMAGE.into()
}
fn default_accel() -> AccelChoice {
    AccelChoice::Auto
}
fn default_transport() -> Transport {
    Transport::Virtio
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 6] = [
    "{id}",
    "{bundle}",
    "{state}",
    "{pid_file}",
    "{cgroup}",
    "{image}",
];

/// A validated box profile.
#[derive(Clone, Debug)]
pub struct BoxProfile {
    /// The file stem: what `--profile` and the report call it.
    pub name: String,
    pub path: PathBuf,
    pub spec: BoxProfileSpec,
    /// The one backend of `backend:`.
    pub backend: BackendSpec,
}

pub fn dir(repo_root: &Path) -> PathBuf {
    repo_root.join("profiles/boxes")
}

/// Shipped box profiles, sorted.
pub fn list_names(repo_root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir(repo_root))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension()? == "yaml")
                        .then(|| p.file_stem()?.to_str().map(str::to_owned))?
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `--profile a,b,c`: each a shipped name or a path; the same profile
/// twice is bad input (it would be compared with itself).
pub fn resolve_list(repo_root: &Path, raw: &[String]) -> Result<Vec<BoxProfile>> {
    let mut out: Vec<BoxProfile> = Vec::new();
    for r in raw.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        let p = resolve(repo_root, r)?;
        if out.iter().any(|o| o.name == p.name) {
            return Err(BadInput(format!(
                "--profile: `{}` is listed twice; name each runtime once (e.g. --profile runc,runsc,qemu)",
                p.name
            ))
            .into());
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err(BadInput(format!(
            "--profile: give at least one box profile; shipped: {}",
            list_names(repo_root).join(", ")
        ))
        .into());
    }
    Ok(out)
}

pub fn resolve(repo_root: &Path, arg: &str) -> Result<BoxProfile> {
    let as_path = Path::new(arg);
    let path = if arg.ends_with(".yaml") || arg.contains('/') {
        as_path.to_path_buf()
    } else {
        dir(repo_root).join(format!("{arg}.yaml"))
    };
    if !path.is_file() {
        return Err(BadInput(format!(
            "--profile {arg}: no box profile {}; shipped: {}",
            path.display(),
            list_names(repo_root).join(", ")
        ))
        .into());
    }
    load(&path)
}

pub fn load(path: &Path) -> Result<BoxProfile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read box profile {}", path.display()))?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<BoxProfile> {
    let shown = path.display();
    let de = serde_yaml::Deserializer::from_str(text);
    let spec: BoxProfileSpec = serde_path_to_error::deserialize(de).map_err(|e| {
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
            "{shown}{at}:{field} {inner}; fix the box profile (see README, \"Sandbox runtimes\")"
        ))
    })?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("box")
        .to_string();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(BadInput(format!(
            "{shown}: the file name `{name}` names the profile; use letters, digits and `-` only"
        ))
        .into());
    }
    let err = |key: &str, msg: String| -> anyhow::Error {
        let line = line_of_path(text, key)
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        BadInput(format!("{shown}{line}: field `{key}`: {msg}")).into()
    };
    let b = spec.backend_section.clone();
    let backend = match (b.engine, b.qemu, b.command) {
        (Some(e), None, None) => BackendSpec::Engine(e),
        (None, Some(q), None) => BackendSpec::Qemu(q),
        (None, None, Some(mut c)) => {
            let h = &c.host_pids_section;
            c.host_pids = match (h.pid_file.clone(), h.cgroup.clone(), h.command.clone()) {
                (Some(p), None, None) => HostPidsSpec::PidFile(p),
                (None, Some(g), None) => HostPidsSpec::Cgroup(g),
                (None, None, Some(v)) => HostPidsSpec::Command(v),
                _ => {
                    return Err(err(
                        "backend.command.host_pids",
                        "give exactly one of `pid_file:`, `cgroup:` (a cgroup.procs path) or `command:` (an argv printing pids)".into(),
                    ))
                }
            };
            BackendSpec::Command(Box::new(c))
        }
        _ => {
            return Err(err(
                "backend",
                "give exactly one of `engine:`, `qemu:` or `command:`".into(),
            ))
        }
    };
    match &backend {
        BackendSpec::Engine(e) => {
            if e.runtime.trim().is_empty() {
                return Err(err(
                    "backend.engine.runtime",
                    "must name one of the engine's runtimes (e.g. runc, runsc)".into(),
                ));
            }
            check_disk_bps(e.disk_bps, "backend.engine.disk_bps", &err)?;
        }
        BackendSpec::Qemu(q) => check_disk_bps(q.disk_bps, "backend.qemu.disk_bps", &err)?,
        BackendSpec::Command(c) => check_command(c, &err)?,
    }
    Ok(BoxProfile {
        name,
        path: path.to_path_buf(),
        spec,
        backend,
    })
}

/// A disk limit below 4 KiB/s is a typo (0 means "no limit" to the engine
/// and to qemu, so it would silently measure the unthrottled disk).
fn check_disk_bps(
    v: Option<u64>,
    key: &str,
    err: &dyn Fn(&str, String) -> anyhow::Error,
) -> Result<()> {
    match v {
        Some(b) if b < 4096 => Err(err(
            key,
            format!("{b} bytes/s: give at least 4096 (e.g. 8388608 for 8 MiB/s), or leave it out for no limit"),
        )),
        _ => Ok(()),
    }
}

fn check_command(c: &CommandSpec, err: &dyn Fn(&str, String) -> anyhow::Error) -> Result<()> {
    if c.binary.trim().is_empty() {
        return Err(err(
            "backend.command.binary",
            "name the runtime's executable (e.g. runc)".into(),
        ));
    }
    let mut templates: Vec<(&str, &Vec<String>)> = vec![
        ("create", &c.create),
        ("exec", &c.exec),
        ("stop", &c.stop),
        ("remove", &c.remove),
    ];
    if let Some(s) = &c.start {
        templates.push(("start", s));
    }
    if let Some(r) = &c.ready {
        templates.push(("ready", r));
    }
    if let Some(t) = &c.checkpoint {
        templates.push(("checkpoint", t));
    }
    if let Some(t) = &c.restore {
        templates.push(("restore", t));
    }
    if let HostPidsSpec::Command(v) = &c.host_pids {
        templates.push(("host_pids.command", v));
    }
    for (key, t) in &templates {
        let field = format!("backend.command.{key}");
        if t.is_empty() {
            return Err(err(
                &field,
                "an empty argv; give the program and its arguments as a list".into(),
            ));
        }
        for a in t.iter() {
            if let Some(bad) = unknown_placeholder(a) {
                return Err(err(
                    &field,
                    format!(
                        "`{bad}` in `{a}` is not a placeholder; use {}",
                        PLACEHOLDERS.join(", ")
                    ),
                ));
            }
        }
        if t.len() == 1 && t[0].contains(' ') {
            return Err(err(
                &field,
                format!(
                    "`{}` looks like a shell line; templates are argv lists (no shell runs them): split it into items",
                    t[0]
                ),
            ));
        }
        if c.bundle.is_none() && t.iter().any(|a| a.contains("{bundle}")) {
            return Err(err(
                &field,
                "uses {bundle} but the profile has no `bundle:`; add `bundle: {}` (or drop {bundle})"
                    .into(),
            ));
        }
    }
    let needs_id = |key: &str, t: &[String]| -> Result<()> {
        if t.iter().any(|a| a.contains("{id}")) {
            Ok(())
        } else {
            Err(err(
                &format!("backend.command.{key}"),
                format!("has no `{{id}}`: without it the runtime cannot tell which box to {key}; add \"{{id}}\" where the runtime expects the container id"),
            ))
        }
    };
    if c.id == IdMode::Named {
        needs_id("create", &c.create)?;
    }
    if let Some(s) = &c.start {
        needs_id("start", s)?;
    }
    needs_id("exec", &c.exec)?;
    needs_id("stop", &c.stop)?;
    needs_id("remove", &c.remove)?;
    let t = &c.timeouts;
    for (k, d) in [
        ("create", t.create),
        ("start", t.start),
        ("ready", t.ready),
        ("exec", t.exec),
        ("stop", t.stop),
        ("remove", t.remove),
    ] {
        if d.0.is_zero() {
            return Err(err(
                &format!("backend.command.timeouts.{k}"),
                "must be more than 0 (e.g. 30s)".into(),
            ));
        }
    }
    Ok(())
}

/// The first `{…}` in `a` that is not a known placeholder.
fn unknown_placeholder(a: &str) -> Option<String> {
    let mut rest = a;
    while let Some(i) = rest.find('{') {
        let tail = &rest[i..];
        let Some(j) = tail.find('}') else {
            return Some(tail.to_string());
        };
        let ph = &tail[..=j];
        if !PLACEHOLDERS.contains(&ph) {
            return Some(ph.to_string());
        }
        rest = &tail[j + 1..];
    }
    None
}

/// 1-based line of a dotted field path (`backend.command.timeouts.create`):
/// each key searched from the line of the one before, inline maps included.
fn line_of_path(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut at = 0;
    for key in path.split('.') {
        let needle = format!("{key}:");
        let found = (at..lines.len()).find(|&i| {
            let t = lines[i].trim_start().trim_start_matches("- ");
            t.starts_with(&needle)
                || t.contains(&format!("{{{needle}"))
                || t.contains(&format!(" {needle}"))
        })?;
        at = found;
    }
    Some(at + 1)
}

/// Fills a template's placeholders (values never pass through a shell).
pub fn fill(t: &[String], vars: &[(&str, &str)]) -> Vec<String> {
    t.iter()
        .map(|a| {
            let mut s = a.clone();
            for (k, v) in vars {
                s = s.replace(k, v);
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<BoxProfile> {
        parse(Path::new("profiles/boxes/x.yaml"), text)
    }

    const GOOD: &str = r#"description: runc through its CLI
backend:
  command:
    binary: runc
    bundle: {}
    create: [runc, --root, "{state}", create, --bundle, "{bundle}", "{id}"]
    start: [runc, --root, "{state}", start, "{id}"]
    exec: [runc, --root, "{state}", exec, "{id}"]
    stop: [runc, --root, "{state}", kill, "{id}", KILL]
    remove: [runc, --root, "{state}", delete, --force, "{id}"]
    host_pids:
      cgroup: "/sys/fs/cgroup/memory{cgroup}/cgroup.procs"
    timeouts: {create: 5s}
"#;

    #[test]
    fn shipped_profiles_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let names = list_names(root);
        for n in [
            "runc",
            "runsc",
            "crun",
            "qemu",
            "runc-cli",
            "runsc-cli",
            "crun-cli",
        ] {
            assert!(names.contains(&n.to_string()), "{n} not shipped: {names:?}");
        }
        for n in names {
            resolve(root, &n).unwrap_or_else(|e| panic!("{n}: {e:#}"));
        }
    }

    #[test]
    fn a_good_command_profile_parses() {
        let p = parse_str(GOOD).unwrap();
        let BackendSpec::Command(c) = p.backend else {
            panic!("not command")
        };
        assert_eq!(c.timeouts.create.0.as_secs(), 5);
        assert_eq!(c.timeouts.exec.0.as_secs(), 30);
        assert_eq!(
            fill(&c.exec, &[("{id}", "b1"), ("{state}", "/s")]),
            vec!["runc", "--root", "/s", "exec", "b1"]
        );
    }

    fn bad(text: &str, field: &str, line: usize, fix: &str) {
        let e = parse_str(text).unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some(), "{e:#}");
        let m = e.to_string();
        assert!(
            m.contains(&format!("x.yaml:{line}")),
            "line {line} expected: {m}"
        );
        assert!(m.contains(field), "field {field} expected: {m}");
        assert!(m.contains(fix), "fix `{fix}` expected: {m}");
    }

    #[test]
    fn bad_profiles_name_file_line_field_fix() {
        // exec without {id}.
        bad(
            &GOOD.replace(
                r#"exec: [runc, --root, "{state}", exec, "{id}"]"#,
                r#"exec: [runc, exec]"#,
            ),
            "backend.command.exec",
            8,
            "add \"{id}\"",
        );
        // A shell line instead of an argv.
        bad(
            &GOOD.replace(
                r#"stop: [runc, --root, "{state}", kill, "{id}", KILL]"#,
                r#"stop: ["runc kill {id} KILL"]"#,
            ),
            "backend.command.stop",
            9,
            "split it into items",
        );
        // An unknown placeholder.
        bad(
            &GOOD.replace("{bundle}", "{bundel}"),
            "backend.command.create",
            6,
            "is not a placeholder",
        );
        // {bundle} without a bundle.
        bad(
            &GOOD.replace("    bundle: {}\n", ""),
            "backend.command.create",
            5,
            "add `bundle: {}`",
        );
        // A zero timeout.
        bad(
            &GOOD.replace("create: 5s", "create: 0s"),
            "timeouts.create",
            13,
            "more than 0",
        );
        // An unknown field, caught by serde with its location.
        bad(
            &GOOD.replace("    binary: runc\n", "    binary: runc\n    bianry: x\n"),
            "backend.command.bianry",
            5,
            "fix the box profile",
        );
        // An empty engine runtime.
        bad(
            "backend:\n  engine:\n    runtime: \"\"\n",
            "backend.engine.runtime",
            3,
            "must name",
        );
    }

    #[test]
    fn a_profile_listed_twice_is_bad_input() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let e = resolve_list(root, &["runc".into(), "qemu".into(), "runc".into()]).unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some(), "{e:#}");
        assert!(e.to_string().contains("listed twice"), "{e}");
        let e = resolve_list(root, &["nope".into()]).unwrap_err();
        assert!(e.to_string().contains("shipped:"), "{e}");
    }
}
