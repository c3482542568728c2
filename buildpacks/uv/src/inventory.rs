//! The pinned uv release, read from `[metadata.uv]` in `buildpack.toml`.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct BuildpackMetadata {
    pub(crate) uv: Inventory,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Inventory {
    pub(crate) version: String,
    pub(crate) base_url: String,
    pub(crate) artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Artifact {
    pub(crate) arch: String,
    pub(crate) file: String,
    pub(crate) sha256: String,
}

/// What to download: the URL (after any mirror) and the digest it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Download {
    pub(crate) version: String,
    pub(crate) arch: String,
    pub(crate) url: String,
    pub(crate) sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InventoryError {
    UnsupportedArch {
        arch: String,
        supported: Vec<String>,
    },
    InvalidMirrorUrl(String),
}

impl Inventory {
    /// The download for `arch`, from `mirror` (a replacement for `base_url`) when one is set.
    pub(crate) fn download_for(
        &self,
        arch: &str,
        mirror: Option<&str>,
    ) -> Result<Download, InventoryError> {
        let artifact = self
            .artifacts
            .iter()
            .find(|artifact| artifact.arch == arch)
            .ok_or_else(|| InventoryError::UnsupportedArch {
                arch: arch.to_string(),
                supported: self.artifacts.iter().map(|a| a.arch.clone()).collect(),
            })?;
        let base = match mirror.map(str::trim).filter(|m| !m.is_empty()) {
            Some(mirror) if mirror.starts_with("http://") || mirror.starts_with("https://") => {
                mirror
            }
            Some(mirror) => return Err(InventoryError::InvalidMirrorUrl(mirror.to_string())),
            None => &self.base_url,
        };
        Ok(Download {
            version: self.version.clone(),
            arch: artifact.arch.clone(),
            url: format!(
                "{}/{}/{}",
                base.trim_end_matches('/'),
                self.version,
                artifact.file
            ),
            sha256: artifact.sha256.to_ascii_lowercase(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Inventory {
        let descriptor: toml::Table =
            toml::from_str(include_str!("../buildpack.toml")).expect("buildpack.toml parses");
        descriptor["metadata"]
            .clone()
            .try_into::<BuildpackMetadata>()
            .expect("[metadata.uv] matches the inventory format")
            .uv
    }

    #[test]
    fn shipped_inventory_is_well_formed() {
        let inventory = shipped();
        assert!(
            inventory.version.split('.').count() == 3
                && inventory
                    .version
                    .split('.')
                    .all(|p| p.parse::<u32>().is_ok()),
            "version must be X.Y.Z, got {}",
            inventory.version
        );
        for artifact in &inventory.artifacts {
            assert_eq!(artifact.sha256.len(), 64, "{artifact:?}");
            assert!(artifact.sha256.chars().all(|c| c.is_ascii_hexdigit()));
            assert!(artifact.file.ends_with(".tar.gz"));
        }
        let mut arches: Vec<_> = inventory
            .artifacts
            .iter()
            .map(|a| a.arch.as_str())
            .collect();
        arches.sort_unstable();
        assert_eq!(arches, ["amd64", "arm64"]);
    }

    #[test]
    fn official_url_by_default() {
        let download = shipped().download_for("amd64", None).unwrap();
        assert_eq!(
            download.url,
            format!(
                "https://github.com/astral-sh/uv/releases/download/{}/uv-x86_64-unknown-linux-musl.tar.gz",
                shipped().version
            )
        );
    }

    #[test]
    fn mirror_replaces_base_url_and_keeps_checksum() {
        let official = shipped().download_for("arm64", None).unwrap();
        let mirrored = shipped()
            .download_for("arm64", Some("https://mirror.internal/uv/"))
            .unwrap();
        assert_eq!(
            mirrored.url,
            format!(
                "https://mirror.internal/uv/{}/uv-aarch64-unknown-linux-musl.tar.gz",
                shipped().version
            )
        );
        assert_eq!(mirrored.sha256, official.sha256);
    }

    #[test]
    fn empty_mirror_is_ignored() {
        assert_eq!(
            shipped().download_for("amd64", Some("  ")).unwrap(),
            shipped().download_for("amd64", None).unwrap()
        );
    }

    #[test]
    fn mirror_must_be_http() {
        assert_eq!(
            shipped().download_for("amd64", Some("ftp://x")),
            Err(InventoryError::InvalidMirrorUrl("ftp://x".to_string()))
        );
    }

    #[test]
    fn unknown_arch() {
        assert_eq!(
            shipped().download_for("riscv64", None),
            Err(InventoryError::UnsupportedArch {
                arch: "riscv64".to_string(),
                supported: vec!["amd64".to_string(), "arm64".to_string()]
            })
        );
    }
}
