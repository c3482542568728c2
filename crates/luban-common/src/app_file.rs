//! Reading the app's own files (`pyproject.toml`, `uv.lock`, `.python-version`, `Procfile`…)
//! as untrusted input: never from outside the app directory (through a symlink anywhere on the
//! path, `..` or an absolute path), only regular files, and never more than a size limit. What goes wrong is an error that names the file,
//! never its content.

use std::fmt::{self, Display};
use std::path::{Path, PathBuf};

/// Size limits: generous for what each file holds, small enough that a hostile file can't
/// exhaust the build's memory.
pub const SMALL_FILE_LIMIT: u64 = 64 * 1024;
pub const TEXT_FILE_LIMIT: u64 = 4 * 1024 * 1024;
pub const LOCK_FILE_LIMIT: u64 = 64 * 1024 * 1024;

#[derive(Debug)]
pub enum AppFileError {
    /// A path that resolves outside the app directory: a symlink on the way (the file or a
    /// directory above it), `..`, or an absolute path.
    OutsideApp {
        file: String,
    },
    /// A directory, device, socket or FIFO.
    NotRegular {
        file: String,
    },
    TooLarge {
        file: String,
        limit: u64,
    },
    Read {
        file: String,
        error: std::io::Error,
    },
}

impl AppFileError {
    #[must_use]
    pub fn file(&self) -> &str {
        match self {
            AppFileError::OutsideApp { file }
            | AppFileError::NotRegular { file }
            | AppFileError::TooLarge { file, .. }
            | AppFileError::Read { file, .. } => file,
        }
    }
}

impl Display for AppFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppFileError::OutsideApp { file } => write!(
                f,
                "`{file}` leads outside the app directory (through a symlink, `..` or an absolute path); the build reads only the app's own files."
            ),
            AppFileError::NotRegular { file } => {
                write!(f, "`{file}` is not a regular file.")
            }
            AppFileError::TooLarge { file, limit } => write!(
                f,
                "`{file}` is larger than {} KiB, the most the build reads of it.",
                limit / 1024
            ),
            AppFileError::Read { file, error } => write!(f, "Reading `{file}` failed: {error}."),
        }
    }
}

/// Whether `relative` exists in the app (without following a final symlink).
#[must_use]
pub fn exists(app_dir: &Path, relative: &str) -> bool {
    std::fs::symlink_metadata(app_dir.join(relative)).is_ok()
}

/// Reads `relative` from the app: `Ok(None)` when it doesn't exist.
///
/// # Errors
/// When the file leaves the app, is not a regular file, is over `limit` bytes, or can't be
/// read as UTF-8 text.
pub fn read(app_dir: &Path, relative: &str, limit: u64) -> Result<Option<String>, AppFileError> {
    let file = relative.to_string();
    let path = app_dir.join(relative);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    // Every component resolved, not only the last: `cfg/x` with `cfg` a link to
    // `/platform/env` is as far outside the app as a link named `x`.
    let resolved: PathBuf = std::fs::canonicalize(&path)
        .map_err(|_| AppFileError::OutsideApp { file: file.clone() })?;
    let app = std::fs::canonicalize(app_dir).map_err(|error| AppFileError::Read {
        file: file.clone(),
        error,
    })?;
    if !resolved.starts_with(&app) {
        return Err(AppFileError::OutsideApp { file });
    }
    let metadata = std::fs::metadata(&resolved).map_err(|error| AppFileError::Read {
        file: file.clone(),
        error,
    })?;
    if !metadata.is_file() {
        return Err(AppFileError::NotRegular { file });
    }
    if metadata.len() > limit {
        return Err(AppFileError::TooLarge { file, limit });
    }
    std::fs::read_to_string(&resolved)
        .map(Some)
        .map_err(|error| AppFileError::Read { file, error })
}

/// A short, printable excerpt of a value read from an app file, for error messages: at most
/// 60 characters, control characters and the invisible ones that reorder or hide text
/// (bidirectional controls, zero-width characters) replaced.
#[must_use]
pub fn excerpt(value: &str) -> String {
    const MAX: usize = 60;
    let hidden = |c: char| matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
    let mut out: String = value
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() || hidden(c) { '?' } else { c })
        .collect();
    if value.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn regular_files_and_inside_links_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        symlink("../a.txt", dir.path().join("sub/link")).unwrap();
        assert_eq!(
            read(dir.path(), "a.txt", 10).unwrap().as_deref(),
            Some("hello")
        );
        assert_eq!(
            read(dir.path(), "sub/link", 10).unwrap().as_deref(),
            Some("hello")
        );
        assert!(read(dir.path(), "missing", 10).unwrap().is_none());
        assert!(exists(dir.path(), "a.txt"));
        assert!(!exists(dir.path(), "missing"));
    }

    #[test]
    fn links_out_of_the_app_dirs_and_large_files_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "PASSWORD=x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        symlink(
            outside.path().join("secret"),
            dir.path().join(".python-version"),
        )
        .unwrap();
        symlink("/proc/self/environ", dir.path().join("env")).unwrap();
        // A link above the file, `..` and an absolute path leave the app as surely.
        symlink(outside.path(), dir.path().join("cfg")).unwrap();
        let absolute = outside.path().join("secret").display().to_string();
        let dotdot = format!(
            "../{}/secret",
            outside.path().file_name().unwrap().to_string_lossy()
        );
        symlink("/nonexistent", dir.path().join("dangling")).unwrap();
        std::fs::create_dir(dir.path().join("Procfile")).unwrap();
        std::fs::write(dir.path().join("big"), "x".repeat(11)).unwrap();

        for name in [
            ".python-version",
            "env",
            "dangling",
            "cfg/secret",
            dotdot.as_str(),
            absolute.as_str(),
        ] {
            let error = read(dir.path(), name, 100).unwrap_err();
            assert!(matches!(error, AppFileError::OutsideApp { .. }), "{name}");
            assert!(!error.to_string().contains("PASSWORD"));
        }
        assert!(matches!(
            read(dir.path(), "Procfile", 100),
            Err(AppFileError::NotRegular { .. })
        ));
        assert!(matches!(
            read(dir.path(), "big", 10),
            Err(AppFileError::TooLarge { limit: 10, .. })
        ));
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt("3.12"), "3.12");
        assert_eq!(excerpt("a\u{1b}[31mb\n"), "a?[31mb?");
        assert_eq!(excerpt("3.12\u{202E}\u{2066}x\u{200B}"), "3.12??x?");
        assert_eq!(excerpt(&"x".repeat(100)).chars().count(), 61);
    }
}
