//! Builder configs for `pack builder create`, written from a checked-in config with a TOML
//! library: buildpack paths made absolute (so the written file can live anywhere), and where
//! asked, the lifecycle from a local tarball and the stack images the testbed built.

use crate::{Error, Result, read_toml, write_toml};
use std::path::Path;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// What to change in the config.
#[derive(Debug, Default)]
pub struct Overrides<'a> {
    /// The lifecycle tarball to use instead of `[lifecycle] version` (offline builders).
    pub lifecycle_uri: Option<&'a Path>,
    /// The build and run images, for `[build]`, `[run]` and `[stack]`.
    pub build_image: Option<&'a str>,
    pub run_image: Option<&'a str>,
}

/// The lifecycle version `config` pins in `[lifecycle] version`.
///
/// # Errors
/// When the config can't be read or pins no version.
pub fn lifecycle_version(config: &Path) -> Result<String> {
    read_toml(config)?
        .get("lifecycle")
        .and_then(|lifecycle| lifecycle.get("version"))
        .and_then(Item::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            Error(format!(
                "`{}` pins no `[lifecycle] version`",
                config.display()
            ))
        })
}

/// Writes `config` with `overrides` applied to `out`.
///
/// # Errors
/// When the config can't be read, a buildpack `uri` isn't a string, or `out` can't be written.
pub fn write(config: &Path, out: &Path, overrides: &Overrides<'_>) -> Result<()> {
    let mut document = read_toml(config)?;
    let base = config.parent().unwrap_or(Path::new("."));
    absolutize_buildpack_uris(&mut document, base, config)?;
    if let Some(uri) = overrides.lifecycle_uri {
        let mut lifecycle = Table::new();
        lifecycle.insert("uri", value(uri.to_string_lossy().as_ref()));
        document.insert("lifecycle", Item::Table(lifecycle));
    }
    if let Some(image) = overrides.build_image {
        table(&mut document, "build").insert("image", value(image));
        table(&mut document, "stack").insert("build-image", value(image));
    }
    if let Some(image) = overrides.run_image {
        let mut run_image = Table::new();
        run_image.insert("image", value(image));
        let mut images = ArrayOfTables::new();
        images.push(run_image);
        table(&mut document, "run").insert("images", Item::ArrayOfTables(images));
        table(&mut document, "stack").insert("run-image", value(image));
    }
    write_toml(out, &document)
}

fn table<'d>(document: &'d mut DocumentMut, name: &str) -> &'d mut Table {
    document
        .entry(name)
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut()
        .expect("a table: inserted as one, or pack would reject the config")
}

fn absolutize_buildpack_uris(document: &mut DocumentMut, base: &Path, config: &Path) -> Result<()> {
    let Some(buildpacks) = document
        .get_mut("buildpacks")
        .and_then(Item::as_array_of_tables_mut)
    else {
        return Ok(());
    };
    for buildpack in buildpacks.iter_mut() {
        let Some(uri) = buildpack.get("uri") else {
            continue;
        };
        let uri = uri.as_str().ok_or_else(|| {
            Error(format!(
                "`{}`: a buildpack `uri` is not a string",
                config.display()
            ))
        })?;
        if !uri.contains("://") && !Path::new(uri).is_absolute() {
            let absolute = base.join(uri);
            buildpack.insert("uri", value(absolute.to_string_lossy().as_ref()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_builder_pins_a_lifecycle_version() {
        let version = lifecycle_version(&crate::repo_root().join("builder.toml")).expect("pin");
        assert_eq!(version.split('.').count(), 3, "{version}");
    }

    #[test]
    fn offline_configs_get_the_tarball_images_and_absolute_paths() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("builder.toml");
        write(
            &crate::repo_root().join("builders/bookworm.toml"),
            &out,
            &Overrides {
                lifecycle_uri: Some(Path::new("/testbed/lifecycle.tgz")),
                build_image: Some("localhost/b:x"),
                run_image: Some("localhost/r:x"),
            },
        )
        .expect("write");
        let written: toml::Value =
            toml::from_str(&std::fs::read_to_string(&out).expect("read")).expect("toml");
        assert_eq!(
            written["lifecycle"]["uri"].as_str(),
            Some("/testbed/lifecycle.tgz")
        );
        assert!(written["lifecycle"].get("version").is_none());
        assert_eq!(written["build"]["image"].as_str(), Some("localhost/b:x"));
        assert_eq!(
            written["run"]["images"][0]["image"].as_str(),
            Some("localhost/r:x")
        );
        assert_eq!(
            written["stack"]["run-image"].as_str(),
            Some("localhost/r:x")
        );
        assert!(
            written["stack"]["id"].as_str().is_some(),
            "the stack id stays"
        );
        let uri = written["buildpacks"][0]["uri"].as_str().expect("uri");
        assert!(Path::new(uri).is_absolute(), "{uri}");
    }

    #[test]
    fn the_release_config_keeps_its_lifecycle_version_and_takes_new_images() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("builder.toml");
        let config = crate::repo_root().join("builder.toml");
        write(
            &config,
            &out,
            &Overrides {
                build_image: Some("ghcr.io/someone/build:al2023"),
                run_image: Some("ghcr.io/someone/run:al2023"),
                ..Overrides::default()
            },
        )
        .expect("write");
        assert_eq!(
            lifecycle_version(&out).expect("written pin"),
            lifecycle_version(&config).expect("pin")
        );
        let written: toml::Value =
            toml::from_str(&std::fs::read_to_string(&out).expect("read")).expect("toml");
        assert_eq!(
            written["build"]["image"].as_str(),
            Some("ghcr.io/someone/build:al2023")
        );
        assert_eq!(
            written["stack"]["build-image"].as_str(),
            Some("ghcr.io/someone/build:al2023")
        );
        let run_images = written["run"]["images"].as_array().expect("run images");
        assert_eq!(run_images.len(), 1);
        assert_eq!(
            run_images[0]["image"].as_str(),
            Some("ghcr.io/someone/run:al2023")
        );
    }
}
