//! An output file the user named, created before the analysis starts, so a wrong path fails in
//! a moment rather than after minutes of work, and every write error names the file.
//!
//! It does not decide what is written.

use anyhow::Context as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A created (empty) output file and its path.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    file: File,
}

impl OutputFile {
    /// Creates (or truncates) `path`; a directory, a missing parent or a read-only place is an
    /// error that names the path.
    pub fn create(path: &Path) -> anyhow::Result<OutputFile> {
        if path.is_dir() {
            anyhow::bail!("cannot write '{}': it is a directory", path.display());
        }
        let file =
            File::create(path).with_context(|| format!("cannot create '{}'", path.display()))?;
        unfinished().push(path.to_path_buf());
        Ok(OutputFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Writes the file through a buffer; an error names the file.
    pub fn write_with(
        self,
        write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, self.file);
        let written = write(&mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("cannot write '{}'", self.path.display()));
        if written.is_ok() {
            unfinished().retain(|p| *p != self.path);
        }
        written
    }
}

/// Output files created and not yet written whole.
fn unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    static UNFINISHED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    UNFINISHED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes the output files that were created but not written whole (on an interrupt), so
/// none is left that looks complete; gives their number.
pub fn remove_unfinished() -> usize {
    let paths = std::mem::take(&mut *unfinished());
    paths
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

/// Creates the directory `dir` (and its parents) for output files; an existing file there is
/// an error that says so.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "cannot write into '{}': it is a file, not a directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create '{}'", dir.display()))
}
