//! `results/<run-id>/`: every file is written to a temporary name and
//! renamed, so a reader never sees half a file; `run.json` is written at the
//! start with status `partial` and rewritten as the run progresses.

use super::schema::RunRecord;
use anyhow::{Context, Result};
use std::io::Write;
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
        let tmp = parent.join(format!(".latest-{}", self.id));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&self.id, &tmp).context("create latest symlink")?;
        std::fs::rename(&tmp, parent.join("latest")).context("replace results/latest")?;
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no parent")?;
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .context("path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("rename into {}", path.display()))
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
    fn atomic_write_and_latest() {
        let d = tempfile::tempdir().unwrap();
        let run = RunDir::create(d.path()).unwrap();
        write_atomic(&run.path("x/y.txt"), b"hello").unwrap();
        assert_eq!(std::fs::read(run.path("x/y.txt")).unwrap(), b"hello");
        run.mark_latest().unwrap();
        assert_eq!(
            std::fs::read_link(d.path().join("latest")).unwrap(),
            PathBuf::from(&run.id)
        );
        let leftovers: Vec<_> = std::fs::read_dir(run.path("x")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left");
        assert!(resolve_run(d.path(), Some("nope")).is_err());
    }
}
