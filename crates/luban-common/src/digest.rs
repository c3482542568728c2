//! SHA-256 of files and bytes, as lowercase hex.

use sha2::{Digest, Sha256};
use std::io;
use std::path::Path;

/// The SHA-256 of a file's contents, read in a stream.
///
/// # Errors
/// When the file can't be read.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

/// The SHA-256 of a file or a directory tree: each entry's path relative to `root`, its kind
/// and its content (a symlink's target, never followed), in sorted order. `.git` and
/// `__pycache__` directories are left out.
///
/// # Errors
/// When an entry can't be read.
pub fn sha256_tree(root: &Path) -> io::Result<String> {
    fn walk(root: &Path, dir: &Path, hasher: &mut Sha256) -> io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<io::Result<_>>()?;
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap_or_default();
            if name == ".git" || name == "__pycache__" {
                continue;
            }
            entry(root, &path, hasher)?;
        }
        Ok(())
    }
    fn entry(root: &Path, path: &Path, hasher: &mut Sha256) -> io::Result<()> {
        let relative = path.strip_prefix(root).unwrap_or(path);
        let metadata = std::fs::symlink_metadata(path)?;
        hasher.update(relative.as_os_str().as_encoded_bytes());
        if metadata.file_type().is_symlink() {
            hasher.update(b"\0link\0");
            hasher.update(std::fs::read_link(path)?.as_os_str().as_encoded_bytes());
        } else if metadata.is_dir() {
            hasher.update(b"\0dir\0");
            walk(root, path, hasher)?;
        } else if metadata.is_file() {
            hasher.update(b"\0file\0");
            hasher.update(sha256_file(path)?.as_bytes());
        }
        hasher.update(b"\n");
        Ok(())
    }
    let mut hasher = Sha256::new();
    entry(root, root, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

#[must_use]
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_digest_follows_content_not_links() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib");
        std::fs::create_dir_all(lib.join("pkg/__pycache__")).unwrap();
        std::fs::write(lib.join("pkg/__init__.py"), "X = 1\n").unwrap();
        std::fs::write(lib.join("pkg/__pycache__/x.pyc"), "cache").unwrap();
        let first = sha256_tree(&lib).unwrap();
        std::fs::write(lib.join("pkg/__pycache__/x.pyc"), "other cache").unwrap();
        assert_eq!(sha256_tree(&lib).unwrap(), first, "caches don't count");
        std::fs::write(lib.join("pkg/__init__.py"), "X = 2\n").unwrap();
        let changed = sha256_tree(&lib).unwrap();
        assert_ne!(changed, first, "a changed file changes the digest");
        std::os::unix::fs::symlink("/etc/passwd", lib.join("link")).unwrap();
        assert_ne!(
            sha256_tree(&lib).unwrap(),
            changed,
            "a new link counts, by its target"
        );
    }

    #[test]
    fn known_digest() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
