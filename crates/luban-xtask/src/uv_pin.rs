//! The uv release luban/uv installs, as `[metadata.uv]` of its `buildpack.toml` pins it: read
//! for the scripts and CI, and rewritten to point at a mirror for the offline builder.

use crate::{Error, Result, read_toml};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// `[metadata.uv]` of luban/uv's `buildpack.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UvPin {
    pub version: String,
    pub base_url: String,
    pub artifacts: Vec<UvArtifact>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UvArtifact {
    pub arch: String,
    pub file: String,
    pub sha256: String,
}

/// The pin in `buildpack_toml`.
///
/// # Errors
/// When the file can't be read or has no well-formed `[metadata.uv]`.
pub fn read(buildpack_toml: &Path) -> Result<UvPin> {
    #[derive(Deserialize)]
    struct Descriptor {
        metadata: Metadata,
    }
    #[derive(Deserialize)]
    struct Metadata {
        uv: UvPin,
    }
    let text = std::fs::read_to_string(buildpack_toml)
        .map_err(|e| Error(format!("can't read `{}`: {e}", buildpack_toml.display())))?;
    let descriptor: Descriptor = toml::from_str(&text).map_err(|e| {
        Error(format!(
            "`{}` has no valid `[metadata.uv]`: {e}",
            buildpack_toml.display()
        ))
    })?;
    Ok(descriptor.metadata.uv)
}

/// A `[metadata.uv]` document for a mirror serving `tarball` for `arch` at
/// `<base_url>/<version>/<file name>`, with the tarball's checksum.
///
/// # Errors
/// When the tarball can't be read.
pub fn mirror_inventory(
    version: &str,
    base_url: &str,
    arch: &str,
    tarball: &Path,
) -> Result<DocumentMut> {
    let bytes = std::fs::read(tarball)
        .map_err(|e| Error(format!("can't read `{}`: {e}", tarball.display())))?;
    let file = tarball
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| Error(format!("`{}` has no file name", tarball.display())))?;
    let mut artifact = Table::new();
    artifact.insert("arch", value(arch));
    artifact.insert("file", value(file));
    artifact.insert("sha256", value(format!("{:x}", Sha256::digest(&bytes))));
    let mut artifacts = ArrayOfTables::new();
    artifacts.push(artifact);
    let mut uv = Table::new();
    uv.insert("version", value(version));
    uv.insert("base_url", value(base_url));
    uv.insert("artifacts", Item::ArrayOfTables(artifacts));
    let mut metadata = Table::new();
    metadata.set_implicit(true);
    metadata.insert("uv", Item::Table(uv));
    let mut document = DocumentMut::new();
    document.insert("metadata", Item::Table(metadata));
    Ok(document)
}

/// Replaces `[metadata.uv]` of the `buildpack.toml` at `path` by the inventory's, keeping
/// everything else (and the comments) as it is.
///
/// # Errors
/// When either file can't be read or written, or the inventory has no `[metadata.uv]`.
pub fn replace_in(path: &Path, inventory: &Path) -> Result<()> {
    let mut descriptor = read_toml(path)?;
    let inventory_document = read_toml(inventory)?;
    let uv = inventory_document
        .get("metadata")
        .and_then(|metadata| metadata.get("uv"))
        .filter(|uv| uv.is_table())
        .ok_or_else(|| Error(format!("`{}` has no `[metadata.uv]`", inventory.display())))?
        .clone();
    let metadata = descriptor
        .get_mut("metadata")
        .and_then(Item::as_table_mut)
        .ok_or_else(|| Error(format!("`{}` has no `[metadata]`", path.display())))?;
    let decor = metadata
        .get("uv")
        .and_then(Item::as_table)
        .map(|table| table.decor().clone());
    metadata.insert("uv", uv);
    if let (Some(decor), Some(table)) = (decor, metadata.get_mut("uv").and_then(Item::as_table_mut))
    {
        *table.decor_mut() = decor;
    }
    crate::write_toml(path, &descriptor)?;
    read(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_pin_reads() {
        let pin = read(&crate::repo_root().join("buildpacks/uv/buildpack.toml")).expect("pin");
        assert!(
            pin.version
                .split('.')
                .all(|part| part.parse::<u32>().is_ok())
        );
        assert!(pin.artifacts.iter().any(|a| a.arch == "amd64"));
        assert!(
            pin.artifacts
                .iter()
                .all(|a| a.sha256.len() == 64 && a.file.ends_with(".tar.gz"))
        );
    }

    #[test]
    fn a_mirror_inventory_replaces_the_pin_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tarball = dir.path().join("uv-x86_64-unknown-linux-musl.tar.gz");
        std::fs::write(&tarball, b"uv").expect("write");
        let inventory = dir.path().join("inventory.toml");
        crate::write_toml(
            &inventory,
            &mirror_inventory("0.12.6", "http://127.0.0.1:1/uv", "amd64", &tarball).expect("doc"),
        )
        .expect("write inventory");
        let descriptor = dir.path().join("buildpack.toml");
        std::fs::copy(
            crate::repo_root().join("buildpacks/uv/buildpack.toml"),
            &descriptor,
        )
        .expect("copy");

        replace_in(&descriptor, &inventory).expect("replace");

        let pin = read(&descriptor).expect("pin");
        assert_eq!(pin.base_url, "http://127.0.0.1:1/uv");
        assert_eq!(pin.artifacts.len(), 1);
        assert_eq!(
            pin.artifacts[0].sha256,
            format!("{:x}", Sha256::digest(b"uv"))
        );
        let text = std::fs::read_to_string(&descriptor).expect("read");
        assert!(text.contains("clear-env = true"), "{text}");
        assert!(
            text.contains("# The uv release this buildpack installs"),
            "{text}"
        );
    }
}
