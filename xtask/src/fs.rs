//! Atomic file writes: a reader (a report, `compare`, a second run) never
//! sees half a file, because every file is written under a temporary name
//! in the same directory and renamed into place.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let name = path
        .file_name()
        .context("path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.sync_data()
            .with_context(|| format!("sync {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("rename into {}", path.display()))
}

/// Points the symlink `link` at `target`, replacing any old link in one
/// rename, so `link` always resolves to the old or the new target.
pub fn symlink_atomic(target: &Path, link: &Path) -> Result<()> {
    let dir = link.parent().context("link has no parent")?;
    let name = link
        .file_name()
        .context("link has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("create symlink {}", tmp.display()))?;
    std::fs::rename(&tmp, link).with_context(|| format!("replace {}", link.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x/y.txt");
        write_atomic(&p, b"hello").unwrap();
        write_atomic(&p, b"again").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"again");
        let left: Vec<_> = std::fs::read_dir(d.path().join("x")).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary files left");
    }

    #[test]
    fn symlink_is_replaced() {
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("latest");
        symlink_atomic(Path::new("a"), &link).unwrap();
        symlink_atomic(Path::new("b"), &link).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from("b"));
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
