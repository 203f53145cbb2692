//! Files into a running container through the engine's archive API (PUT
//! /containers/ID/archive): no `docker cp`, no shell, no bind mount, so
//! it works for a remote engine as for a local one. The file lives in the
//! container's own filesystem and goes when the container is removed.

use super::Engine;
use anyhow::{ensure, Context, Result};
use bollard::query_parameters::UploadToContainerOptionsBuilder;

const BLOCK: usize = 512;

/// A ustar archive of one regular file `name` (no `/`, ≤ 100 bytes) with
/// `mode`, owned by root: what the archive API extracts into a directory.
pub fn one_file_tar(name: &str, mode: u32, data: &[u8]) -> Result<Vec<u8>> {
    ensure!(
        !name.is_empty() && name.len() <= 100 && !name.contains('/'),
        "tar member name {name:?}: 1 to 100 bytes, no `/`"
    );
    let mut h = [0u8; BLOCK];
    let field = |h: &mut [u8; BLOCK], at: usize, len: usize, v: &[u8]| {
        h[at..at + v.len().min(len)].copy_from_slice(&v[..v.len().min(len)]);
    };
    // Numeric fields are NUL-terminated octal.
    let octal = |v: u64, len: usize| format!("{v:0width$o}\0", width = len - 1).into_bytes();
    field(&mut h, 0, 100, name.as_bytes());
    field(&mut h, 100, 8, &octal(u64::from(mode & 0o7777), 8));
    field(&mut h, 108, 8, &octal(0, 8));
    field(&mut h, 116, 8, &octal(0, 8));
    field(&mut h, 124, 12, &octal(data.len() as u64, 12));
    field(&mut h, 136, 12, &octal(0, 12));
    h[156] = b'0';
    field(&mut h, 257, 8, b"ustar\x0000");
    // The checksum is summed with its own field as spaces.
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    field(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    let padded = data.len().div_ceil(BLOCK) * BLOCK;
    let mut out = Vec::with_capacity(BLOCK + padded + 2 * BLOCK);
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(BLOCK + padded + 2 * BLOCK, 0);
    Ok(out)
}

/// The contents of the first regular file of a tar stream (ustar or GNU;
/// pax and GNU long-name records before it are skipped): what the archive
/// API answers for one file. A truncated or fileless archive is an error.
pub fn first_file_of_tar(tar: &[u8]) -> Result<Vec<u8>> {
    let mut at = 0;
    while at + BLOCK <= tar.len() {
        let h = &tar[at..at + BLOCK];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size_field = std::str::from_utf8(&h[124..136])
            .context("tar size field")?
            .trim_matches(|c: char| c == '\0' || c == ' ');
        let size = usize::from_str_radix(size_field, 8)
            .with_context(|| format!("tar size field {size_field:?}"))?;
        let body = at + BLOCK;
        ensure!(
            body + size <= tar.len(),
            "the archive ends inside a member ({} of {size} bytes)",
            tar.len().saturating_sub(body)
        );
        match h[156] {
            b'0' | 0 => return Ok(tar[body..body + size].to_vec()),
            // pax headers, GNU long names, directories: not the file.
            _ => at = body + size.div_ceil(BLOCK) * BLOCK,
        }
    }
    anyhow::bail!("the archive holds no regular file")
}

impl Engine {
    /// The file `path` out of container `id` through the archive API (GET
    /// /containers/ID/archive): its bytes.
    pub async fn download_file(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        use futures_util::StreamExt;
        let opts = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut s = self.docker.download_from_container(id, Some(opts));
        let mut tar = Vec::new();
        while let Some(chunk) = s.next().await {
            tar.extend_from_slice(&chunk.with_context(|| format!("download {path} from {id}"))?);
        }
        first_file_of_tar(&tar).with_context(|| format!("the archive of {path} from {id}"))
    }

    /// Writes `data` as `dir/name` (mode `mode`) into container `id`; `dir`
    /// must exist there.
    pub async fn upload_file(
        &self,
        id: &str,
        dir: &str,
        name: &str,
        mode: u32,
        data: &[u8],
    ) -> Result<()> {
        let tar = one_file_tar(name, mode, data)?;
        let options = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
            .await
            .with_context(|| format!("upload {name} into {dir} of container {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_tool_reads_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..1300u32).map(|i| (i % 251) as u8).collect();
        let tar = one_file_tar("runcost-groupmem", 0o755, &data).unwrap();
        assert_eq!(tar.len() % BLOCK, 0);
        let path = dir.path().join("a.tar");
        std::fs::write(&path, &tar).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-xvf")
            .arg(&path)
            .arg("-C")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let file = dir.path().join("runcost-groupmem");
        assert_eq!(std::fs::read(&file).unwrap(), data);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(one_file_tar("a/b", 0o644, b"").is_err());
        // Read back by our own reader, and refused when cut short.
        assert_eq!(first_file_of_tar(&tar).unwrap(), data);
        assert!(first_file_of_tar(&tar[..BLOCK + 100]).is_err());
        assert!(first_file_of_tar(&[0u8; 2 * BLOCK]).is_err());
        assert!(one_file_tar(&"x".repeat(101), 0o644, b"").is_err());
    }
}
