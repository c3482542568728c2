//! Packaging and settings for Luban's scripts and CI, in typed code rather than text edits:
//! the buildpack directories (through libcnb-package, the way `cargo libcnb package` lays them
//! out), builder configs written with a TOML library, the uv pin read from `buildpack.toml`,
//! and the digest of the sources a builder was made from.

pub mod builder_config;
pub mod docs_commands;
pub mod package;
pub mod source_digest;
pub mod uv_pin;

use std::path::{Path, PathBuf};

/// What went wrong, said for the person running the script.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// The repository root (this crate lives two levels below it).
#[must_use]
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Reads a TOML file as an editable document.
///
/// # Errors
/// When the file can't be read or isn't TOML.
pub fn read_toml(path: &Path) -> Result<toml_edit::DocumentMut> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error(format!("can't read `{}`: {e}", path.display())))?;
    text.parse()
        .map_err(|e| Error(format!("`{}` is not valid TOML: {e}", path.display())))
}

/// Writes a TOML document, creating the parent directory.
///
/// # Errors
/// When the file can't be written.
pub fn write_toml(path: &Path, document: &toml_edit::DocumentMut) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error(format!("can't create `{}`: {e}", parent.display())))?;
    }
    std::fs::write(path, document.to_string())
        .map_err(|e| Error(format!("can't write `{}`: {e}", path.display())))
}
