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
