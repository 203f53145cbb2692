//! Font registration and atomic SVG + PNG output.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{ChartError, ChartFiles};

/// DejaVu Sans, embedded so that rendering needs no installed fonts.
static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Font family name used for all text.
pub(crate) const FAMILY: &str = "sans-serif";

/// Register the embedded DejaVu Sans font with plotters (for the families
/// `sans-serif`, `serif` and `monospace`).
///
/// Safe to call any number of times from any thread; the work happens once.
/// The chart functions call it themselves, so callers only need it when they
/// draw with plotters directly.
pub fn register_fonts() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        for family in [FAMILY, "serif", "monospace"] {
            for style in [FontStyle::Normal, FontStyle::Bold] {
                plotters::style::register_font(family, style, DEJAVU_SANS)
                    .map_err(|_| "embedded DejaVuSans.ttf could not be parsed".to_string())?;
            }
        }
        Ok(())
    })
    .clone()
}

pub(crate) type DResult<T, DB> = Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Something that can draw itself on any plotters backend.
pub(crate) trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB>;
}

fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = stem.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A temporary path next to `target`, ending in `.<ext>` (the PNG encoder
/// picks the format from the extension).
fn temp_path(target: &Path, ext: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp_name = format!(".{name}.{}.{n}.tmp.{ext}", std::process::id());
    target.with_file_name(tmp_name)
}

fn rename_into_place(tmp: &Path, target: &Path) -> Result<(), ChartError> {
    fs::rename(tmp, target).map_err(|e| {
        let _ = fs::remove_file(tmp);
        ChartError::io(target, "cannot rename temporary file into place", e)
    })
}

pub(crate) fn write_figure<F: Figure>(stem: &Path, fig: &F) -> Result<ChartFiles, ChartError> {
    register_fonts().map_err(|m| ChartError::new(stem, m))?;
    let svg = with_suffix(stem, ".svg");
    let png = with_suffix(stem, ".png");
    if stem.file_name().is_none() {
        return Err(ChartError::new(stem, "chart path stem has no file name"));
    }
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| ChartError::io(dir, "cannot create directory", e))?;
    }
    let (w, h) = fig.size();
    let size = (w.max(200), h.max(150));

    // SVG: render to a string, then write + rename.
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        fig.draw(&root)
            .and_then(|_| root.present())
            .map_err(|e| ChartError::new(&svg, format!("cannot draw: {e}")))?;
    }
    let tmp = temp_path(&svg, "svg");
    fs::write(&tmp, text.as_bytes()).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        ChartError::io(&svg, "cannot write temporary file", e)
    })?;
    rename_into_place(&tmp, &svg)?;

    // PNG: the bitmap backend encodes into a temporary `.png`, then rename.
    let tmp = temp_path(&png, "png");
    let drawn = {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        fig.draw(&root).and_then(|_| root.present())
    };
    if let Err(e) = drawn {
        let _ = fs::remove_file(&tmp);
        return Err(ChartError::new(&png, format!("cannot draw: {e}")));
    }
    rename_into_place(&tmp, &png)?;
    Ok(ChartFiles { svg, png })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_keeps_dots() {
        assert_eq!(
            with_suffix(Path::new("a/rate-1.5"), ".svg"),
            PathBuf::from("a/rate-1.5.svg")
        );
        let t = temp_path(Path::new("a/x.png"), "png");
        assert_eq!(t.parent(), Some(Path::new("a")));
        assert!(t.to_string_lossy().ends_with(".tmp.png"));
    }

    #[test]
    fn register_twice() {
        register_fonts().unwrap();
        register_fonts().unwrap();
    }
}
