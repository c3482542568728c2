//! The `python` layer: `CPython` installed by `uv python install` (python-build-standalone
//! builds, or the user's mirror of them). In the app image; it is not put on `PATH` itself:
//! the venv's `bin/python` points at it, so `python` always means the venv.

use crate::PythonUvBuildpack;
use crate::errors::PythonUvError;
use crate::uv::{Uv, UvError};
use bullet_stream::global::print;
use libcnb::Platform;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::layer_env::LayerEnv;
use luban_common::cache::{LayerScope, LayerStatus, keyed_layer};
use pep440_rs::Version;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct PythonLayerMetadata {
    pub(crate) python_version: String,
    pub(crate) arch: String,
    pub(crate) distro: String,
    /// The uv that installs it: a fixed build of the same version comes with a new uv.
    pub(crate) uv_version: String,
    /// Where the build comes from: `UV_PYTHON_DOWNLOADS_JSON_URL` / `UV_PYTHON_INSTALL_MIRROR`
    /// (credentials redacted), or uv's default.
    pub(crate) downloads: String,
    /// What the buildpack does to uv's install (`LAYOUT`): a layer made another way rebuilds.
    /// A string: layer metadata comes back from the image's label through JSON, where the
    /// lifecycle turns integers into floats.
    pub(crate) layout: String,
}

/// Changed whenever the buildpack changes what it does to the installation after uv.
const LAYOUT: &str = "slim-1";

/// The Python download source, for the cache key.
pub(crate) fn downloads_source(env: &libcnb::Env) -> String {
    let settings: Vec<String> = ["UV_PYTHON_DOWNLOADS_JSON_URL", "UV_PYTHON_INSTALL_MIRROR"]
        .iter()
        .filter_map(|name| {
            env.get_string_lossy(name)
                .map(|value| format!("{name}={}", luban_common::redact::redact_urls(&value)))
        })
        .collect();
    if settings.is_empty() {
        "uv's default".to_string()
    } else {
        settings.join(" ")
    }
}

/// The installed interpreter.
pub(crate) struct Python {
    pub(crate) version: Version,
    /// `…/bin/python3` inside the layer.
    pub(crate) executable: PathBuf,
    /// The standard library's bytecode, compiling while the dependencies install (a new
    /// layer only); `main` waits for it before the build ends.
    pub(crate) stdlib_bytecode: Option<crate::bytecode::Compilation>,
}

pub(crate) fn install_python(
    context: &BuildContext<PythonUvBuildpack>,
    uv: &Uv,
    uv_version: &str,
    version: &Version,
    distro: &str,
) -> libcnb::Result<Python, PythonUvError> {
    let key = PythonLayerMetadata {
        python_version: version.to_string(),
        arch: context.target.arch.clone(),
        distro: distro.to_string(),
        uv_version: uv_version.to_string(),
        downloads: downloads_source(context.platform.env()),
        layout: LAYOUT.to_string(),
    };
    let (layer, status) = keyed_layer(
        context,
        layer_name!("python"),
        LayerScope {
            build: true,
            launch: true,
        },
        &key,
        &format!("Python {version}"),
    )?;
    let layer_dir = layer.path();
    if status == LayerStatus::Empty {
        crate::uv::stream(uv.command().args([
            "python",
            "install",
            &version.to_string(),
            "--install-dir",
            &layer_dir.to_string_lossy(),
            "--no-bin",
        ]))
        .map_err(|error| PythonUvError::PythonInstall(UvError::Command(error)))?;
    }
    let executable = find_interpreter(&layer_dir, version)
        .ok_or_else(|| PythonUvError::PythonMissingAfterInstall(layer_dir.clone()))?;
    // Nothing of this layer goes on PATH: the venv's `bin/python` points at it.
    layer.write_env(LayerEnv::new())?;
    let mut stdlib_bytecode = None;
    if status == LayerStatus::Empty {
        // `…/bin/python3`'s installation directory, with `bin/` and `lib/`.
        if let Some(home) = executable.parent().and_then(Path::parent) {
            slim(uv, home, version)?;
            stdlib_bytecode = Some(compile_stdlib(uv, &executable, home, version));
        }
        layer.write_metadata(key)?;
    }
    Ok(Python {
        version: version.clone(),
        executable,
        stdlib_bytecode,
    })
}

/// The `pythonX.Y` directory name under `lib/` of an installation or a venv.
pub(crate) fn lib_dir_name(version: &Version) -> String {
    let release = version.release();
    format!(
        "python{}.{}",
        release.first().unwrap_or(&3),
        release.get(1).unwrap_or(&0)
    )
}

/// Leaves out what an app never runs from the installation at `home` and strips debug symbols
/// (see `python_diet`), saying how much smaller the installation got.
fn slim(uv: &Uv, home: &Path, version: &Version) -> Result<(), PythonUvError> {
    let before = crate::python_diet::size(home);
    let diet = crate::python_diet::prune(home, &lib_dir_name(version))
        .map_err(|error| PythonUvError::PythonSlim(home.to_path_buf(), error))?;
    let strip = uv
        .clean_command(Path::new("strip"))
        .arg("--strip-debug")
        .args(&diet.binaries)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let stripped = match strip {
        Ok(status) if status.success() => "; stripped debug symbols",
        Ok(_) => " (`strip --strip-debug` failed: debug symbols kept)",
        Err(_) => " (no `strip` in the build image: debug symbols kept)",
    };
    let mb = |bytes: u64| bytes.div_ceil(1_000_000);
    print::sub_bullet(format!(
        "Left out the test suite, IDLE, Tk, ensurepip's wheels and static libraries{stripped}: {} MB → {} MB",
        mb(before),
        mb(crate::python_diet::size(home)),
    ));
    Ok(())
}

/// Starts compiling the standard library: Python builds ship timestamp-checked bytecode,
/// which the export makes stale. Files that don't compile (test data in the stdlib) are
/// skipped. It runs in the background, off the build's critical path.
fn compile_stdlib(
    uv: &Uv,
    executable: &Path,
    home: &Path,
    version: &Version,
) -> crate::bytecode::Compilation {
    let stdlib = home.join("lib").join(lib_dir_name(version));
    crate::bytecode::start(
        uv,
        executable,
        &stdlib,
        "/(test|tests|idle_test|lib2to3)/",
        "the standard library",
    )
}

/// uv installs into `<dir>/cpython-<version>-<os>-<arch>-<libc>/bin/python3`.
fn find_interpreter(layer_dir: &Path, version: &Version) -> Option<PathBuf> {
    let prefix = format!("cpython-{version}-");
    std::fs::read_dir(layer_dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .map(|entry| entry.path().join("bin").join("python3"))
        .find(|python| python.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use luban_common::cache::compare;
    use std::str::FromStr;

    #[test]
    fn uv_version_and_download_source_rebuild_python() {
        let key = |uv: &str, downloads: &str| PythonLayerMetadata {
            python_version: "3.12.1".into(),
            arch: "amd64".into(),
            distro: "debian-12".into(),
            uv_version: uv.into(),
            downloads: downloads.into(),
            layout: LAYOUT.into(),
        };
        let base = key("0.12.6", "uv's default");
        assert_eq!(
            compare(&base, &key("0.12.7", "uv's default")).reason(),
            Some("uv version changed (0.12.6 → 0.12.7)".into())
        );
        assert_eq!(
            compare(&base, &key("0.12.6", "UV_PYTHON_INSTALL_MIRROR=https://m/")).reason(),
            Some("downloads changed (uv's default → UV_PYTHON_INSTALL_MIRROR=https://m/)".into())
        );
    }

    /// Restored from the app image, layer metadata has been through the image label's JSON,
    /// where the lifecycle makes every number a float: the key must still read back.
    #[test]
    fn metadata_survives_the_image_label_round_trip() {
        fn floats(value: serde_json::Value) -> serde_json::Value {
            match value {
                serde_json::Value::Number(n) => n
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                serde_json::Value::Object(map) => {
                    map.into_iter().map(|(k, v)| (k, floats(v))).collect()
                }
                other => other,
            }
        }
        let key = PythonLayerMetadata {
            python_version: "3.12.1".into(),
            arch: "amd64".into(),
            distro: "debian-12".into(),
            uv_version: "0.12.6".into(),
            downloads: "uv's default".into(),
            layout: LAYOUT.into(),
        };
        let label = floats(serde_json::to_value(&key).expect("json"));
        let restored: PythonLayerMetadata = serde_json::from_value(label).expect("reads back");
        assert_eq!(restored, key);
    }

    #[test]
    fn download_source_has_no_credentials() {
        let mut env = libcnb::Env::new();
        assert_eq!(downloads_source(&env), "uv's default");
        env.insert(
            "UV_PYTHON_DOWNLOADS_JSON_URL",
            "https://user:s3cret@mirror.example/downloads.json",
        );
        assert_eq!(
            downloads_source(&env),
            "UV_PYTHON_DOWNLOADS_JSON_URL=https://user:****@mirror.example/downloads.json"
        );
    }

    #[test]
    fn finds_the_interpreter_of_the_right_version() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "cpython-3.12.10-linux-x86_64-gnu",
            "cpython-3.12.1-linux-x86_64-gnu",
        ] {
            std::fs::create_dir_all(dir.path().join(name).join("bin")).unwrap();
            std::fs::write(dir.path().join(name).join("bin/python3"), "").unwrap();
        }
        let found = find_interpreter(dir.path(), &Version::from_str("3.12.1").unwrap()).unwrap();
        assert!(found.ends_with("cpython-3.12.1-linux-x86_64-gnu/bin/python3"));
        assert!(find_interpreter(dir.path(), &Version::from_str("3.13.0").unwrap()).is_none());
    }
}
