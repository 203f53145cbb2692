//! `results/<run-id>/`: every file is written to a temporary name and
//! renamed, so a reader never sees half a file; `run.json` is written at the
//! start with status `partial` and rewritten as the run progresses.

use crate::fs::{symlink_atomic, write_atomic};
use crate::results::RunRecord;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub struct RunDir {
    pub root: PathBuf,
    pub id: String,
}

impl RunDir {
    /// Creates a new run directory under `results`. Ids are
    /// `YYYYMMDD-HHMMSS-xxxx` (UTC, random suffix): sortable, and valid in
    /// compose project names.
    pub fn create(results: &Path) -> Result<RunDir> {
        let now = time::OffsetDateTime::now_utc();
        let stamp = now
            .format(time::macros::format_description!(
                "[year][month][day]-[hour][minute][second]"
            ))
            .context("format run id")?;
        let suffix: u16 = rand::random();
        let id = format!("{stamp}-{suffix:04x}");
        let root = results.join(&id);
        std::fs::create_dir_all(root.join("samples"))
            .with_context(|| format!("create {}", root.display()))?;
        std::fs::create_dir_all(root.join("charts"))?;
        Ok(RunDir { root, id })
    }

    pub fn open(results: &Path, id: &str) -> Result<RunDir> {
        let root = results.join(id);
        if !root.join("run.json").is_file() {
            return Err(crate::error::BadInput(format!(
                "no run `{id}` in {} (no run.json there); list runs with `ls {}`",
                results.display(),
                results.display()
            ))
            .into());
        }
        Ok(RunDir {
            root,
            id: id.to_string(),
        })
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write_record(&self, record: &RunRecord) -> Result<()> {
        let json = serde_json::to_vec_pretty(record)?;
        write_atomic(&self.path("run.json"), &json)
    }

    pub fn read_record(&self) -> Result<RunRecord> {
        let p = self.path("run.json");
        let text = std::fs::read(&p).with_context(|| format!("read {}", p.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("parse {}", p.display()))
    }

    /// Points `results/latest` at this run (a symlink, replaced atomically).
    pub fn mark_latest(&self) -> Result<()> {
        let parent = self.root.parent().context("run dir has no parent")?;
        symlink_atomic(Path::new(&self.id), &parent.join("latest"))
    }
}

/// Resolves a run argument: an id, `latest`, or None for the newest run.
pub fn resolve_run(results: &Path, run: Option<&str>) -> Result<RunDir> {
    let id = match run {
        Some("latest") | None => {
            let latest = results.join("latest");
            match std::fs::read_link(&latest) {
                Ok(target) => target.to_string_lossy().into_owned(),
                Err(_) => {
                    return Err(crate::error::BadInput(format!(
                        "no runs in {} yet; run a lane first (e.g. `cargo xtask footprint`)",
                        results.display()
                    ))
                    .into())
                }
            }
        }
        Some(id) => id.to_string(),
    };
    RunDir::open(results, &id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_mark_latest_and_resolve() {
        let d = tempfile::tempdir().unwrap();
        assert!(resolve_run(d.path(), None).is_err(), "no runs yet");
        let run = RunDir::create(d.path()).unwrap();
        assert!(run.path("samples").is_dir() && run.path("charts").is_dir());
        run.mark_latest().unwrap();
        assert_eq!(
            std::fs::read_link(d.path().join("latest")).unwrap(),
            PathBuf::from(&run.id)
        );
        assert!(resolve_run(d.path(), Some("nope")).is_err());
        // A run directory counts once its run.json exists.
        assert!(resolve_run(d.path(), Some("latest")).is_err());
    }
}
