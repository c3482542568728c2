//! A digest of the sources a builder is made from, stamped on the builder image as a label so
//! the end-to-end tests can refuse a builder older than the working tree.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The image label that carries the digest.
pub const LABEL: &str = "io.luban.sources";

/// What goes into a builder: the buildpacks (without their tests), the shared code they link,
/// the workspace manifests, packaging and builder configs, and the stack images' sources.
const INPUTS: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "package.toml",
    "builder.toml",
    "builders",
    "buildpacks",
    "crates/luban-common",
    "stack",
];

/// Directories that don't change what is built.
const SKIPPED_DIRS: &[&str] = &["tests", "snapshots", "target"];

/// The sha256 (hex) of every input file's path and contents, in path order.
///
/// # Errors
/// When an input can't be read.
pub fn source_digest(root: &Path) -> Result<String> {
    let mut files = Vec::new();
    for input in INPUTS {
        collect(&root.join(input), &mut files)?;
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap_or(&file);
        let contents = std::fs::read(&file)
            .map_err(|e| Error(format!("can't read `{}`: {e}", file.display())))?;
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(&contents);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let metadata = std::fs::symlink_metadata(path)
        .map_err(|e| Error(format!("can't read `{}`: {e}", path.display())))?;
    if metadata.is_dir() {
        let skipped = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| SKIPPED_DIRS.contains(&name));
        if skipped {
            return Ok(());
        }
        let entries = std::fs::read_dir(path)
            .map_err(|e| Error(format!("can't read `{}`: {e}", path.display())))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| Error(format!("can't read `{}`: {e}", path.display())))?;
            collect(&entry.path(), files)?;
        }
    } else if metadata.is_file() {
        files.push(path.to_path_buf());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for input in INPUTS {
            if input.contains('.') {
                std::fs::write(dir.path().join(input), "").expect("write");
            } else {
                std::fs::create_dir_all(dir.path().join(input)).expect("mkdir");
            }
        }
        for (path, contents) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, contents).expect("write");
        }
        dir
    }

    #[test]
    fn a_buildpack_source_change_changes_the_digest_and_a_test_change_does_not() {
        let base = tree(&[("buildpacks/uv/src/main.rs", "fn main() {}")]);
        let digest = source_digest(base.path()).expect("digest");
        assert_eq!(digest.len(), 64);

        let source = tree(&[("buildpacks/uv/src/main.rs", "fn main() { }")]);
        assert_ne!(source_digest(source.path()).expect("digest"), digest);

        let test = tree(&[
            ("buildpacks/uv/src/main.rs", "fn main() {}"),
            ("buildpacks/uv/tests/it.rs", "#[test] fn t() {}"),
        ]);
        assert_eq!(source_digest(test.path()).expect("digest"), digest);
    }

    #[test]
    fn a_moved_file_changes_the_digest() {
        let one = tree(&[("buildpacks/a/x.rs", "same")]);
        let two = tree(&[("buildpacks/b/x.rs", "same")]);
        assert_ne!(
            source_digest(one.path()).expect("digest"),
            source_digest(two.path()).expect("digest")
        );
    }
}
