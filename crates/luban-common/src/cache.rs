//! Cache decisions for layers whose metadata is their cache key.
//!
//! Every layer compares the key stored with the restored layer to the key of this build and
//! says in one line why it reuses or rebuilds. The comparison is generic over the metadata
//! struct, so layers don't each write their own field-by-field diff.

use serde::Serialize;
use serde_json::Value;

/// The outcome of comparing a restored layer's cache key with this build's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheDecision {
    Reuse,
    /// The key changed; each entry describes one changed field.
    Rebuild(Vec<String>),
}

/// Compares two cache keys field by field.
///
/// # Panics
/// Only if a metadata struct can't be represented as JSON, which for the plain structs used as
/// layer metadata can't happen.
#[must_use]
#[allow(clippy::missing_panics_doc)]
pub fn compare<M: Serialize>(cached: &M, current: &M) -> CacheDecision {
    let cached = serde_json::to_value(cached).expect("layer metadata serializes to JSON");
    let current = serde_json::to_value(current).expect("layer metadata serializes to JSON");
    let changes = match (&cached, &current) {
        (Value::Object(old), Value::Object(new)) => new
            .iter()
            .filter_map(|(key, new_value)| {
                let old_value = old.get(key).unwrap_or(&Value::Null);
                (old_value != new_value).then(|| {
                    format!(
                        "{} changed ({} → {})",
                        key.replace('_', " "),
                        show(old_value),
                        show(new_value)
                    )
                })
            })
            .collect(),
        _ if cached == current => Vec::new(),
        _ => vec![format!("{} → {}", show(&cached), show(&current))],
    };
    if changes.is_empty() {
        CacheDecision::Reuse
    } else {
        CacheDecision::Rebuild(changes)
    }
}

impl CacheDecision {
    /// The reason to print after "Rebuilding … because", or `None` when the layer is reused.
    #[must_use]
    pub fn reason(&self) -> Option<String> {
        match self {
            CacheDecision::Reuse => None,
            CacheDecision::Rebuild(changes) => Some(changes.join(", ")),
        }
    }
}

fn show(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_string(),
        Value::Array(items) if items.is_empty() => "none".to_string(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    };
    // Digests are long; the first characters are enough to tell two apart.
    if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        format!("{}…", &text[..12])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Key {
        python_version: String,
        lock_sha256: String,
        groups: Vec<String>,
    }

    fn key(version: &str, lock: &str, groups: &[&str]) -> Key {
        Key {
            python_version: version.to_string(),
            lock_sha256: lock.to_string(),
            groups: groups.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn same_key_is_reused() {
        let a = key("3.12.1", &"a".repeat(64), &[]);
        assert_eq!(compare(&a, &a), CacheDecision::Reuse);
        assert_eq!(compare(&a, &a).reason(), None);
    }

    #[test]
    fn each_changed_field_is_named() {
        let old = key("3.12.1", &"a".repeat(64), &[]);
        let new = key("3.13.0", &"b".repeat(64), &["docs"]);
        assert_eq!(
            compare(&old, &new).reason().unwrap(),
            "python version changed (3.12.1 → 3.13.0), \
             lock sha256 changed (aaaaaaaaaaaa… → bbbbbbbbbbbb…), \
             groups changed (none → docs)"
        );
    }
}

/// A layer opened by [`keyed_layer`].
pub type KeyedLayer<B> = libcnb::layer::LayerRef<B, (), CacheDecision>;

/// How a keyed layer was found: reused as it was, or empty and to be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerStatus {
    Reused,
    Empty,
}

/// Opens a cached layer whose metadata is its cache key, prints the one-line decision
/// ("Reusing …" / "Rebuilding … because …" / "Creating … (nothing cached)"), and returns the
/// layer and whether it must be filled. The caller writes `key` as metadata once the layer is
/// complete, so a build that fails half-way never leaves a layer that looks finished.
///
/// # Errors
/// When libcnb can't read or create the layer.
pub fn keyed_layer<B, M>(
    context: &libcnb::build::BuildContext<B>,
    name: libcnb::data::layer::LayerName,
    scope: LayerScope,
    key: &M,
    what: &str,
) -> libcnb::Result<(KeyedLayer<B>, LayerStatus), B::Error>
where
    B: libcnb::Buildpack,
    M: Serialize + serde::de::DeserializeOwned,
{
    use bullet_stream::global::print;
    use libcnb::layer::{
        CachedLayerDefinition, EmptyLayerCause, InvalidMetadataAction, LayerState,
        RestoredLayerAction,
    };

    let layer = context.cached_layer(
        name,
        CachedLayerDefinition {
            build: scope.build,
            launch: scope.launch,
            invalid_metadata_action: &|_| InvalidMetadataAction::DeleteLayer,
            restored_layer_action: &|cached: &M, _| {
                let decision = compare(cached, key);
                let action = if decision == CacheDecision::Reuse {
                    RestoredLayerAction::KeepLayer
                } else {
                    RestoredLayerAction::DeleteLayer
                };
                (action, decision)
            },
        },
    )?;
    let status = match &layer.state {
        LayerState::Restored { .. } => {
            print::sub_bullet(format!("Reusing {what} from the cache"));
            LayerStatus::Reused
        }
        LayerState::Empty { cause } => {
            print::sub_bullet(match cause {
                EmptyLayerCause::NewlyCreated => format!("Creating {what} (nothing cached)"),
                EmptyLayerCause::InvalidMetadataAction { .. } => format!(
                    "Rebuilding {what} because the cache was written by another version of this buildpack"
                ),
                EmptyLayerCause::RestoredLayerAction { cause } => format!(
                    "Rebuilding {what} because {}",
                    cause.reason().unwrap_or_default()
                ),
            });
            LayerStatus::Empty
        }
    };
    Ok((layer, status))
}

/// Where a layer is visible: to later buildpacks during the build, in the app image, or both.
#[derive(Debug, Clone, Copy)]
pub struct LayerScope {
    pub build: bool,
    pub launch: bool,
}

/// The metadata of a layer opened by [`kept_layer`]: its cache key, and the programs in its
/// `bin` directory. A launch layer kept by metadata alone has no directory during the build, so
/// a later buildpack that checks a process's program (luban/procfile) reads them from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptLayerMetadata<K> {
    pub key: K,
    pub programs: Vec<String>,
}

/// The programs a launch layer's metadata lists (see [`KeptLayerMetadata`]), read from the text
/// of its `<layer>.toml`; `None` when the file says nothing about them.
#[must_use]
pub fn kept_programs(layer_toml: &str) -> Option<Vec<String>> {
    let table: toml::Table = toml::from_str(layer_toml).ok()?;
    let programs = table.get("metadata")?.get("programs")?.as_array()?;
    Some(
        programs
            .iter()
            .filter_map(|program| program.as_str().map(str::to_string))
            .collect(),
    )
}

/// How a layer opened by [`kept_layer`] was found.
pub enum Kept<B: libcnb::Buildpack> {
    /// Its key is unchanged: nothing to do. Unless it was restored from the cache, the layer's
    /// directory doesn't exist in this build and the exporter reuses the previous image's
    /// layer by its digest.
    Reused,
    /// Empty, to be filled; the caller writes its [`KeptLayerMetadata`] once it is complete.
    Empty(libcnb::layer::LayerRef<B, (), ()>),
}

/// Opens a launch layer whose metadata is its cache key, without needing its contents when the
/// key is unchanged: with `cache` false it is a launch-only layer, which the lifecycle doesn't
/// restore (only its metadata comes back from the previous image), so an unchanged layer costs
/// the build nothing: no restore, no re-hash, the exporter reuses the previous image's layer.
/// With `cache` true (a build that needs the contents) it is also cached and restored.
/// Prints the one-line decision, as [`keyed_layer`] does. libcnb's layer API can't express
/// the launch-only reuse (it deletes a restored `<layer>.toml` that has no directory), hence
/// this helper.
///
/// # Errors
/// When the layer's files can't be read, removed or written.
pub fn kept_layer<B, K>(
    context: &libcnb::build::BuildContext<B>,
    name: &libcnb::data::layer::LayerName,
    cache: bool,
    key: &K,
    what: &str,
) -> libcnb::Result<Kept<B>, B::Error>
where
    B: libcnb::Buildpack,
    K: Serialize + serde::de::DeserializeOwned,
{
    use bullet_stream::global::print;
    use libcnb::data::layer_content_metadata::{LayerContentMetadata, LayerTypes};
    use libcnb::layer::{
        CachedLayerDefinition, InvalidMetadataAction, RestoredLayerAction, UncachedLayerDefinition,
    };

    let toml_path = context.layers_dir.join(format!("{name}.toml"));
    let dir = context.layers_dir.join(name.as_str());
    let restored = match std::fs::read_to_string(&toml_path) {
        Ok(text) => Some(
            toml::from_str::<LayerContentMetadata<KeptLayerMetadata<K>>>(&text)
                .map(|file| file.metadata),
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(io_error(error)),
    };
    let contents = dir.is_dir();
    let cached = match &restored {
        None => Restored::Nothing,
        Some(Ok(cached)) => Restored::Key(&cached.key),
        Some(Err(_)) => Restored::Foreign,
    };
    let decision = kept_decision(&cached, contents, cache, key, what);
    print::sub_bullet(match &decision {
        Ok(line) | Err(line) => line.clone(),
    });
    if let (Ok(_), Some(Ok(cached))) = (&decision, restored) {
        let file = LayerContentMetadata {
            types: Some(LayerTypes {
                launch: true,
                build: cache,
                cache,
            }),
            metadata: cached,
        };
        let text =
            toml::to_string(&file).map_err(|error| io_error(std::io::Error::other(error)))?;
        std::fs::write(&toml_path, text).map_err(io_error)?;
        return Ok(Kept::Reused);
    }
    if contents {
        std::fs::remove_dir_all(&dir).map_err(io_error)?;
    }
    if toml_path.exists() {
        std::fs::remove_file(&toml_path).map_err(io_error)?;
    }
    let layer = if cache {
        context.cached_layer(
            name,
            CachedLayerDefinition {
                build: true,
                launch: true,
                invalid_metadata_action: &|_| InvalidMetadataAction::DeleteLayer,
                restored_layer_action: &|_: &K, _| RestoredLayerAction::DeleteLayer,
            },
        )?
    } else {
        context.uncached_layer(
            name,
            UncachedLayerDefinition {
                build: false,
                launch: true,
            },
        )?
    };
    Ok(Kept::Empty(layer))
}

/// What a layer's restored metadata held.
enum Restored<'a, K> {
    Nothing,
    /// Metadata this buildpack can't read (another version wrote it).
    Foreign,
    Key(&'a K),
}

/// Whether [`kept_layer`] reuses a layer: `Ok` with the line that says so, or `Err` with the
/// line that says why it is (re)built.
fn kept_decision<K: Serialize>(
    cached: &Restored<'_, K>,
    contents: bool,
    cache: bool,
    key: &K,
    what: &str,
) -> Result<String, String> {
    match cached {
        Restored::Nothing => Err(format!("Creating {what} (nothing cached)")),
        Restored::Foreign => Err(format!(
            "Rebuilding {what} because it was written by another version of this buildpack"
        )),
        Restored::Key(cached) => match compare(*cached, key).reason() {
            Some(reason) => Err(format!("Rebuilding {what} because {reason}")),
            None if cache && !contents => Err(format!(
                "Rebuilding {what} because this build needs its contents and the previous build kept only its metadata"
            )),
            None if contents => Ok(format!("Reusing {what} from the cache")),
            None => Ok(format!(
                "Reusing {what} from the previous image (not restored: its key is unchanged)"
            )),
        },
    }
}

/// The programs in a layer's `bin` directory, sorted, for [`KeptLayerMetadata`].
#[must_use]
pub fn bin_programs(layer_dir: &std::path::Path) -> Vec<String> {
    let mut programs: Vec<String> = std::fs::read_dir(layer_dir.join("bin"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    programs.sort();
    programs
}

/// A failed read or write of a layer's files, as libcnb reports its own.
fn io_error<E>(error: std::io::Error) -> libcnb::Error<E> {
    libcnb::Error::LayerError(libcnb::layer::LayerError::WriteLayerError(
        libcnb::layer::WriteLayerError::IoError(error),
    ))
}

/// Writes a layer's SBOM as `<layer>.sbom.<format>.json` beside the layer, which (unlike
/// libcnb's `write_sboms`) works for a launch layer kept by metadata alone, whose directory
/// doesn't exist in this build.
///
/// # Errors
/// When the file can't be written.
pub fn write_layer_sbom<E>(
    layers_dir: &std::path::Path,
    name: &libcnb::data::layer::LayerName,
    sbom: &libcnb::sbom::Sbom,
) -> libcnb::Result<(), E> {
    use libcnb::data::sbom::SbomFormat;
    let extension = match sbom.format {
        SbomFormat::CycloneDxJson => "cdx.json",
        SbomFormat::SpdxJson => "spdx.json",
        SbomFormat::SyftJson => "syft.json",
    };
    std::fs::write(
        layers_dir.join(format!("{name}.sbom.{extension}")),
        &sbom.data,
    )
    .map_err(io_error)
}

#[cfg(test)]
mod kept_tests {
    use super::*;

    #[test]
    fn kept_layer_decisions() {
        let key = "lock a".to_string();
        let other = "lock b".to_string();
        let what = "the venv";
        assert_eq!(
            kept_decision(&Restored::Nothing, false, false, &key, what),
            Err("Creating the venv (nothing cached)".into())
        );
        assert_eq!(
            kept_decision(&Restored::Foreign, true, false, &key, what),
            Err(
                "Rebuilding the venv because it was written by another version of this buildpack"
                    .into()
            )
        );
        assert_eq!(
            kept_decision(&Restored::Key(&other), false, false, &key, what),
            Err("Rebuilding the venv because lock b → lock a".into())
        );
        // Launch-only: kept without its contents.
        assert_eq!(
            kept_decision(&Restored::Key(&key), false, false, &key, what),
            Ok(
                "Reusing the venv from the previous image (not restored: its key is unchanged)"
                    .into()
            )
        );
        // A build that needs the contents can't use a layer kept by metadata alone…
        assert_eq!(
            kept_decision(&Restored::Key(&key), false, true, &key, what),
            Err("Rebuilding the venv because this build needs its contents and the previous build kept only its metadata".into())
        );
        // … but can use one restored from the cache, as can a build that doesn't need it.
        for cache in [true, false] {
            assert_eq!(
                kept_decision(&Restored::Key(&key), true, cache, &key, what),
                Ok("Reusing the venv from the cache".into())
            );
        }
    }

    #[test]
    fn programs_round_trip_through_the_layer_toml() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        for name in ["python", "gunicorn", "activate"] {
            std::fs::write(dir.path().join("bin").join(name), "").unwrap();
        }
        let programs = bin_programs(dir.path());
        assert_eq!(programs, ["activate", "gunicorn", "python"]);
        let file = libcnb::data::layer_content_metadata::LayerContentMetadata {
            types: None,
            metadata: KeptLayerMetadata {
                key: "k".to_string(),
                programs: programs.clone(),
            },
        };
        let text = toml::to_string(&file).unwrap();
        assert_eq!(kept_programs(&text), Some(programs));
        assert_eq!(kept_programs("[metadata]\nlock = \"a\"\n"), None);
        assert_eq!(
            bin_programs(&dir.path().join("missing")),
            Vec::<String>::new()
        );
    }
}
