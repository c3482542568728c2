//! The `uv` layer: the pinned uv binary, for later buildpacks only (never in the app image).

use crate::UvBuildpack;
use crate::download::{self, DownloadError};
use crate::inventory::Download;
use bullet_stream::global::print;
use libcnb::Platform;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use luban_common::cache::{LayerScope, LayerStatus, keyed_layer};
use serde::{Deserialize, Serialize};

/// The build env variable that holds the path of the installed uv.
pub(crate) const UV_ENV_VAR: &str = "LUBAN_UV";

/// The cache key: the layer is reused while version, architecture and checksum are unchanged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct UvLayerMetadata {
    pub(crate) version: String,
    pub(crate) arch: String,
    pub(crate) sha256: String,
}

pub(crate) fn install_uv(
    context: &BuildContext<UvBuildpack>,
    download: &Download,
) -> libcnb::Result<(), crate::errors::UvBuildpackError> {
    let key = UvLayerMetadata {
        version: download.version.clone(),
        arch: download.arch.clone(),
        sha256: download.sha256.clone(),
    };
    let (layer, status) = keyed_layer(
        context,
        layer_name!("uv"),
        LayerScope {
            build: true,
            launch: false,
        },
        &key,
        &format!("uv {}", download.version),
    )?;
    // Later buildpacks find uv by this absolute path: a user's PATH comes before the layers'
    // bin directories in the build env, so a PATH lookup could find another `uv`.
    layer.write_env(LayerEnv::new().chainable_insert(
        Scope::Build,
        ModificationBehavior::Override,
        UV_ENV_VAR,
        layer.path().join("bin").join("uv"),
    ))?;
    if status == LayerStatus::Empty {
        let ssl_cert_file = context
            .platform
            .env()
            .get("SSL_CERT_FILE")
            .filter(|value| !value.is_empty())
            .map(std::path::PathBuf::from);
        let timer = print::sub_start_timer(format!(
            "Downloading uv {} from {}",
            download.version,
            luban_common::redact::redact_urls(&download.url)
        ));
        let layer_dir = layer.path();
        download::download_verified(
            &download.url,
            &download.sha256,
            &layer_dir.join("bin"),
            &layer_dir,
            ssl_cert_file.as_deref(),
        )
        .map_err(crate::errors::UvBuildpackError::Download)?;
        timer.done();
        print::sub_bullet(format!("Verified sha256 {}", download.sha256));
        layer.write_metadata(key)?;
    }
    Ok(())
}

impl From<DownloadError> for crate::errors::UvBuildpackError {
    fn from(error: DownloadError) -> Self {
        Self::Download(error)
    }
}
