//! The real compose CLI: `docker compose` (v2) when present, else
//! `docker-compose` (v1). Every call is an argv vector; nothing from a
//! profile reaches a shell.

use crate::engine::labels;
use anyhow::{bail, Context, Result};
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComposeVariant {
    /// `docker compose` plugin.
    V2,
    /// Standalone `docker-compose` (Python, 1.x).
    V1,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ComposeCli {
    pub variant: ComposeVariant,
    pub version: String,
}

impl ComposeCli {
    /// Finds a working compose CLI, preferring v2.
    pub fn detect() -> Result<ComposeCli> {
        let try_run = |argv: &[&str]| -> Option<String> {
            let out = std::process::Command::new(argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        if let Some(v) = try_run(&["docker", "compose", "version", "--short"]) {
            return Ok(ComposeCli {
                variant: ComposeVariant::V2,
                version: v,
            });
        }
        if let Some(v) = try_run(&["docker-compose", "version", "--short"]) {
            return Ok(ComposeCli {
                variant: ComposeVariant::V1,
                version: v,
            });
        }
        Err(crate::error::BadInput(
            "no compose CLI: neither `docker compose` nor `docker-compose` works; \
             run `cargo xtask setup` (installs Debian's docker-compose)"
                .into(),
        )
        .into())
    }

    fn argv(&self, project: &str, files: &[PathBuf]) -> Vec<String> {
        let mut argv: Vec<String> = match self.variant {
            ComposeVariant::V2 => vec!["docker".into(), "compose".into()],
            ComposeVariant::V1 => vec!["docker-compose".into()],
        };
        argv.extend(["--project-name".into(), project.into()]);
        for f in files {
            argv.extend(["--file".into(), f.display().to_string()]);
        }
        argv
    }

    /// Synchronous variant for drop guards and signal paths.
    pub fn command_blocking(
        &self,
        project: &str,
        files: &[PathBuf],
        args: &[&str],
    ) -> std::process::Command {
        let argv = self.argv(project, files);
        let mut cmd = std::process::Command::new(&argv[0]);
        cmd.args(&argv[1..]).args(args).stdin(Stdio::null());
        cmd
    }

    /// Runs one compose subcommand with a deadline; on failure the error
    /// carries the command and the tail of its stderr.
    pub async fn run(
        &self,
        project: &str,
        files: &[PathBuf],
        args: &[&str],
        timeout: Duration,
    ) -> Result<String> {
        let argv = self.argv(project, files);
        let shown = format!("{} {}", argv.join(" "), args.join(" "));
        let child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start `{shown}`"))?;
        let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(r) => r.with_context(|| format!("wait for `{shown}`"))?,
            Err(_) => bail!("`{shown}` did not finish within {timeout:?}"),
        };
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(12).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("`{shown}` failed ({}):\n{}", out.status, tail.join("\n"));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// What a cell changes on top of the user's compose file.
#[derive(Clone, Debug, Default)]
pub struct CellOverride {
    pub run_id: String,
    pub cell: String,
    /// The service under test.
    pub service: String,
    /// Every service in the user's file (all get our labels).
    pub services: Vec<String>,
    /// Environment for the service under test.
    pub env: BTreeMap<String, String>,
    /// Container ports of the service under test to publish on 127.0.0.1
    /// (a random host port each), so the harness never talks to bridge IPs.
    pub ports: Vec<u16>,
    /// CPU set for the service under test (e.g. "1"), when pinned.
    pub cpuset: Option<String>,
    /// Another image for the service under test (e.g. one with heaptrack).
    pub image: Option<String>,
    /// Replaces the service's entrypoint, and empties its command, so this
    /// argv is exactly what runs (e.g. `heaptrack -o ... <target argv>`).
    pub entrypoint: Option<Vec<String>>,
    /// Bind mounts for the service under test: (host path, container path,
    /// read-only). Host paths must be absolute and free of `:`.
    pub binds: Vec<(PathBuf, String, bool)>,
    /// Limits for the service under test (Podman's defaults exceed the
    /// hard limits of some hosts; see `Engine::target_ulimits`).
    pub ulimits: Vec<super::Ulimit>,
}

impl CellOverride {
    /// The override document, generated from the user's file so that every
    /// service, network and volume it creates carries our labels.
    pub fn render(&self, user_file: &Path) -> Result<String> {
        let text = std::fs::read_to_string(user_file)
            .with_context(|| format!("read {}", user_file.display()))?;
        let user: Value = serde_yaml::from_str(&text)
            .with_context(|| format!("parse {}", user_file.display()))?;
        let labels = {
            let mut m = Mapping::new();
            m.insert(labels::RUN.into(), self.run_id.clone().into());
            m.insert(labels::CELL.into(), self.cell.clone().into());
            Value::Mapping(m)
        };
        let mut doc = Mapping::new();
        // Compose v1 refuses to merge files of different `version:`.
        if let Some(v) = user.get("version") {
            doc.insert("version".into(), v.clone());
        }
        let mut services = Mapping::new();
        for name in &self.services {
            let mut svc = Mapping::new();
            svc.insert("labels".into(), labels.clone());
            if *name == self.service {
                if !self.env.is_empty() {
                    let env: Mapping = self
                        .env
                        .iter()
                        .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
                        .collect();
                    svc.insert("environment".into(), Value::Mapping(env));
                }
                if !self.ports.is_empty() {
                    let ports: Vec<Value> = self
                        .ports
                        .iter()
                        .map(|p| Value::from(super::endpoint::publish_spec(*p)))
                        .collect();
                    svc.insert("ports".into(), Value::Sequence(ports));
                }
                if let Some(cpus) = &self.cpuset {
                    svc.insert("cpuset".into(), cpus.clone().into());
                }
                if let Some(image) = &self.image {
                    svc.insert("image".into(), image.clone().into());
                }
                if let Some(argv) = &self.entrypoint {
                    let argv: Vec<Value> = argv.iter().map(|a| Value::from(a.as_str())).collect();
                    svc.insert("entrypoint".into(), Value::Sequence(argv));
                    svc.insert("command".into(), Value::Sequence(Vec::new()));
                }
                if !self.ulimits.is_empty() {
                    let limits: Mapping = self
                        .ulimits
                        .iter()
                        .map(|u| {
                            let mut m = Mapping::new();
                            m.insert("soft".into(), u.value.into());
                            m.insert("hard".into(), u.value.into());
                            (Value::from(u.name), Value::Mapping(m))
                        })
                        .collect();
                    svc.insert("ulimits".into(), Value::Mapping(limits));
                }
                if !self.binds.is_empty() {
                    let mut mounts = Vec::new();
                    for (host, target, ro) in &self.binds {
                        let h = host.to_string_lossy();
                        if !host.is_absolute() || h.contains(':') || target.contains(':') {
                            bail!(
                                "cannot bind-mount {h} at {target}: the host path must be absolute and neither may contain `:`"
                            );
                        }
                        let mode = if *ro { "ro" } else { "rw" };
                        mounts.push(Value::from(format!("{h}:{target}:{mode}")));
                    }
                    svc.insert("volumes".into(), Value::Sequence(mounts));
                }
            }
            services.insert(name.as_str().into(), Value::Mapping(svc));
        }
        doc.insert("services".into(), Value::Mapping(services));

        let labelled = |section: &str, always_default: bool| -> Mapping {
            let mut out = Mapping::new();
            if always_default {
                let mut d = Mapping::new();
                d.insert("labels".into(), labels.clone());
                out.insert("default".into(), Value::Mapping(d));
            }
            if let Some(Value::Mapping(m)) = user.get(section) {
                for (name, def) in m {
                    let external = def
                        .get("external")
                        .is_some_and(|e| e != &Value::Bool(false));
                    if !external {
                        let mut d = Mapping::new();
                        d.insert("labels".into(), labels.clone());
                        out.insert(name.clone(), Value::Mapping(d));
                    }
                }
            }
            out
        };
        doc.insert(
            "networks".into(),
            Value::Mapping(labelled("networks", true)),
        );
        let volumes = labelled("volumes", false);
        if !volumes.is_empty() {
            doc.insert("volumes".into(), Value::Mapping(volumes));
        }
        // JSON is YAML too, with every string quoted: docker-compose v1
        // reads YAML 1.1, where a bare `no` or `on` in an argv is a boolean.
        let body = serde_json::to_string_pretty(&Value::Mapping(doc))?;
        Ok(format!(
            "# Generated by runcost for cell {}; the user's compose file is not modified.\n{body}",
            self.cell
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_labels_everything_and_touches_only_the_target() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.yml");
        std::fs::write(
            &f,
            "version: '3.8'\nservices:\n  web: {image: a}\n  db: {image: b}\n\
             networks:\n  back: {}\n  outside: {external: true}\nvolumes:\n  data: {}\n",
        )
        .unwrap();
        let o = CellOverride {
            run_id: "r1".into(),
            cell: "c0".into(),
            service: "web".into(),
            services: vec!["web".into(), "db".into()],
            env: [("ENTITIES".to_string(), "10".to_string())].into(),
            ports: vec![8080],
            ..Default::default()
        };
        let text = o.render(&f).unwrap();
        let v: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(v["version"], Value::from("3.8"));
        assert_eq!(
            v["services"]["web"]["environment"]["ENTITIES"],
            Value::from("10")
        );
        assert_eq!(
            v["services"]["web"]["ports"][0],
            Value::from("127.0.0.1::8080")
        );
        assert!(v["services"]["db"].get("environment").is_none());
        assert_eq!(
            v["services"]["db"]["labels"][labels::RUN],
            Value::from("r1")
        );
        assert_eq!(
            v["networks"]["default"]["labels"][labels::CELL],
            Value::from("c0")
        );
        assert_eq!(
            v["networks"]["back"]["labels"][labels::RUN],
            Value::from("r1")
        );
        assert!(
            v["networks"].get("outside").is_none(),
            "external networks are not ours"
        );
        assert_eq!(
            v["volumes"]["data"]["labels"][labels::RUN],
            Value::from("r1")
        );
        assert!(v["services"]["web"].get("entrypoint").is_none());
        assert!(v["services"]["web"].get("ulimits").is_none());
    }

    #[test]
    fn override_sets_ulimits_on_the_target_only() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.yml");
        std::fs::write(&f, "services:\n  web: {image: a}\n  db: {image: b}\n").unwrap();
        let o = CellOverride {
            service: "web".into(),
            services: vec!["web".into(), "db".into()],
            ulimits: vec![super::super::Ulimit {
                name: "nofile",
                value: 20000,
            }],
            ..Default::default()
        };
        let v: Value = serde_yaml::from_str(&o.render(&f).unwrap()).unwrap();
        assert_eq!(
            v["services"]["web"]["ulimits"]["nofile"]["hard"],
            Value::from(20000)
        );
        assert_eq!(
            v["services"]["web"]["ulimits"]["nofile"]["soft"],
            Value::from(20000)
        );
        assert!(v["services"]["db"].get("ulimits").is_none());
    }

    #[test]
    fn override_wraps_the_target_in_a_tool() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.yml");
        std::fs::write(&f, "services:\n  web: {image: a, command: [--x]}\n").unwrap();
        let mut o = CellOverride {
            run_id: "r1".into(),
            cell: "heap".into(),
            service: "web".into(),
            services: vec!["web".into()],
            image: Some("a-tools".into()),
            entrypoint: Some(vec![
                "heaptrack".into(),
                "-o".into(),
                "/out/t".into(),
                "/bin/a b".into(),
                "no".into(),
                "".into(),
            ]),
            binds: vec![(PathBuf::from("/tmp/run/out"), "/out".into(), false)],
            ..Default::default()
        };
        let text = o.render(&f).unwrap();
        assert!(
            text.contains("\"no\"") && text.contains("\"\""),
            "YAML 1.1 would read a bare no as false: {text}"
        );
        let v: Value = serde_yaml::from_str(&text).unwrap();
        let web = &v["services"]["web"];
        assert_eq!(web["image"], Value::from("a-tools"));
        assert_eq!(
            web["entrypoint"][3],
            Value::from("/bin/a b"),
            "argv, not a shell line"
        );
        assert_eq!(
            web["command"],
            Value::Sequence(vec![]),
            "the user's command is emptied"
        );
        assert_eq!(web["volumes"][0], Value::from("/tmp/run/out:/out:rw"));
        o.binds = vec![(PathBuf::from("relative/out"), "/out".into(), true)];
        assert!(o.render(&f).is_err());
        o.binds = vec![(PathBuf::from("/a:b"), "/out".into(), true)];
        assert!(o.render(&f).is_err());
    }
}
