//! The `uv-cache` layer: uv's cache, kept between builds only (never in the image), so a
//! changed lock downloads and builds only what changed. Opened on every build (a layer a build
//! doesn't open is dropped from the cache), pruned to what can't be re-downloaded
//! (`uv cache prune --ci`) whenever the venv is rebuilt, so restoring it stays cheap.

use crate::PythonUvBuildpack;
use crate::errors::PythonUvError;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use luban_common::cache::{LayerScope, LayerStatus, keyed_layer};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct UvCacheMetadata {
    pub(crate) arch: String,
    pub(crate) distro: String,
}

pub(crate) fn uv_cache(
    context: &BuildContext<PythonUvBuildpack>,
    distro: &str,
) -> libcnb::Result<PathBuf, PythonUvError> {
    let key = UvCacheMetadata {
        arch: context.target.arch.clone(),
        distro: distro.to_string(),
    };
    let (layer, status) = keyed_layer(
        context,
        layer_name!("uv-cache"),
        LayerScope {
            build: false,
            launch: false,
        },
        &key,
        "the uv cache",
    )?;
    if status == LayerStatus::Empty {
        layer.write_metadata(key)?;
    }
    Ok(layer.path())
}
