//! The `venv` layer: a virtual environment with the project's locked dependencies, in the app
//! image. Its metadata is the cache key; while the key is unchanged nothing is resolved or
//! installed, and (unless the build itself needs the venv, for Django's `collectstatic`) it
//! is not even restored: a launch-only layer, kept from the previous image by its digest, so a
//! rebuild doesn't pay to restore and re-hash hundreds of megabytes it doesn't change. A
//! changed key installs a new venv from the `uv-cache` layer. The project itself is installed
//! editable, so changes to the app's code show up in the image without touching this layer.

use crate::PythonUvBuildpack;
use crate::errors::{PythonUvError, SourceBuildFailure};
use crate::layers::python::Python;
use crate::project::{Dependencies, REQUIREMENTS};
use crate::uv::Uv;
use bullet_stream::global::print;
use libcnb::Platform;
use libcnb::build::BuildContext;
use libcnb::data::layer_name;
use libcnb::data::sbom::SbomFormat;
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use libcnb::sbom::Sbom;
use luban_common::cache::{Kept, KeptLayerMetadata, bin_programs, kept_layer, write_layer_sbom};
use luban_common::settings::Settings;
use luban_common::uv_project::Selection;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct VenvLayerMetadata {
    pub(crate) python_version: String,
    pub(crate) uv_version: String,
    pub(crate) arch: String,
    pub(crate) distro: String,
    /// sha256 of `uv.lock`, or of `requirements.txt` for projects without a lock.
    pub(crate) lock_sha256: String,
    /// sha256 of the `pyproject.toml` files (root and members) and `uv.toml`.
    pub(crate) project_sha256: Option<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) extras: Vec<String>,
    /// Which of the lock's projects are installed (`BP_UV_PACKAGE`, all workspace members, or
    /// the project).
    pub(crate) selection: String,
    /// The uv settings from the build env (`UV_INDEX_URL`, `UV_NO_BINARY`…), secrets left out.
    pub(crate) uv_settings: Vec<String>,
}

pub(crate) struct VenvInputs<'a> {
    pub(crate) uv: &'a Uv,
    pub(crate) uv_version: &'a str,
    pub(crate) python: &'a Python,
    pub(crate) dependencies: &'a Dependencies,
    pub(crate) config: &'a Settings,
    pub(crate) selection: &'a Selection,
    /// Whether this build needs the venv's contents after the install (Django's
    /// `collectstatic`): then it is cached and restored; otherwise an unchanged venv is kept
    /// from the previous image by metadata alone.
    pub(crate) needed_at_build: bool,
    /// The `uv-cache` layer's directory (opened by `main`, every build, so it is kept).
    pub(crate) cache_dir: &'a Path,
    /// How the Python version was chosen, for the message of a failed source build.
    pub(crate) python_reason: &'a str,
    pub(crate) distro: &'a str,
}

/// Installs the dependencies (unless the cached venv is still right) and returns the venv's
/// directory.
pub(crate) fn install_dependencies(
    context: &BuildContext<PythonUvBuildpack>,
    inputs: &VenvInputs<'_>,
) -> libcnb::Result<PathBuf, PythonUvError> {
    let (lock_sha256, project_sha256) = match inputs.dependencies {
        Dependencies::Locked {
            lock_sha256,
            project_sha256,
        } => (lock_sha256.clone(), Some(project_sha256.clone())),
        Dependencies::Requirements { sha256 } => (sha256.clone(), None),
    };
    let key = VenvLayerMetadata {
        python_version: inputs.python.version.to_string(),
        uv_version: inputs.uv_version.to_string(),
        arch: context.target.arch.clone(),
        distro: inputs.distro.to_string(),
        lock_sha256,
        project_sha256,
        groups: inputs.config.groups.clone(),
        extras: inputs.config.extras.clone(),
        selection: inputs.selection.describe(),
        uv_settings: luban_common::process_env::uv_settings_for_key(context.platform.env().iter()),
    };
    let name = layer_name!("venv");
    let venv = context.layers_dir.join(name.as_str());
    let sbom = match inputs.dependencies {
        Dependencies::Locked { .. } => Some(Sbom::from_bytes(
            SbomFormat::CycloneDxJson,
            export_sbom(context, inputs)?,
        )),
        Dependencies::Requirements { .. } => None,
    };
    let layer = match kept_layer(
        context,
        &name,
        inputs.needed_at_build,
        &key,
        "the virtual environment",
    )? {
        Kept::Reused => None,
        Kept::Empty(layer) => Some(layer),
    };
    if let Some(layer) = &layer {
        let cache_dir = inputs.cache_dir.to_path_buf();
        match inputs.dependencies {
            Dependencies::Locked { .. } => sync(context, inputs, &venv, &cache_dir)?,
            Dependencies::Requirements { .. } => pip_install(context, inputs, &venv, &cache_dir)?,
        }
        compile_dependencies(inputs, &venv);
        let mut prune = uv_in_app(context, inputs, &cache_dir);
        prune.args(["cache", "prune", "--ci"]);
        // Pruning only keeps the cache small; a failure is not worth failing the build for.
        if crate::uv::capture(&mut prune).is_err() {
            print::warning("Could not prune the uv cache; the next build restores a larger cache.");
        }
        layer.write_env(env(&venv))?;
    }
    if let Some(sbom) = &sbom {
        write_layer_sbom(&context.layers_dir, &name, sbom)?;
    }
    if let Some(layer) = layer {
        layer.write_metadata(KeptLayerMetadata {
            key,
            programs: bin_programs(&venv),
        })?;
    }
    Ok(venv)
}

/// The venv's environment, in the layer (so a layer kept from the previous image has it too).
fn env(venv: &Path) -> LayerEnv {
    LayerEnv::new()
        .chainable_insert(
            Scope::All,
            ModificationBehavior::Override,
            "VIRTUAL_ENV",
            venv,
        )
        .chainable_insert(
            Scope::All,
            ModificationBehavior::Default,
            "PYTHONUNBUFFERED",
            "1",
        )
        .chainable_insert(
            Scope::Launch,
            ModificationBehavior::Default,
            "LANG",
            "C.UTF-8",
        )
        .chainable_insert(
            Scope::Launch,
            ModificationBehavior::Default,
            "LC_ALL",
            "C.UTF-8",
        )
}

/// Compiles the installed packages (not uv's `--compile-bytecode`, whose output varies between
/// builds; see `bytecode`).
fn compile_dependencies(inputs: &VenvInputs<'_>, venv: &Path) {
    let site_packages = venv
        .join("lib")
        .join(crate::layers::python::lib_dir_name(&inputs.python.version));
    // Files that don't compile (test data, code for other Pythons) stay source, as with uv.
    let _ = crate::bytecode::compile(
        inputs.uv,
        &inputs.python.executable,
        &site_packages.join("site-packages"),
        r"^$",
        "the dependencies",
    );
}

/// uv, run in the app directory with the cache layer as its cache.
fn uv_in_app(
    context: &BuildContext<PythonUvBuildpack>,
    inputs: &VenvInputs<'_>,
    cache_dir: &Path,
) -> std::process::Command {
    let mut command = inputs.uv.command();
    command
        .current_dir(&context.app_dir)
        .env("UV_CACHE_DIR", cache_dir);
    command
}

fn sync(
    context: &BuildContext<PythonUvBuildpack>,
    inputs: &VenvInputs<'_>,
    venv: &Path,
    cache_dir: &Path,
) -> Result<(), PythonUvError> {
    let mut command = uv_in_app(context, inputs, cache_dir);
    command
        .args(["sync", "--locked", "--no-python-downloads"])
        .arg("--python")
        .arg(&inputs.python.executable)
        .args(inputs.config.sync_args())
        .args(inputs.selection.uv_args())
        .env("UV_PROJECT_ENVIRONMENT", venv);
    crate::uv::stream(&mut command).map(drop).map_err(|error| {
        let stderr = error
            .output()
            .map(bullet_stream::fun_run::NamedOutput::stderr_lossy)
            .unwrap_or_default();
        if stderr.contains("needs to be updated") {
            PythonUvError::StaleLock
        } else if let Some((package, version)) = failed_source_build(&stderr) {
            PythonUvError::SourceBuild(Box::new(SourceBuildFailure {
                package,
                version,
                python: inputs.python.version.clone(),
                python_reason: inputs.python_reason.to_string(),
                error,
            }))
        } else {
            PythonUvError::Sync(error)
        }
    })
}

/// The package of uv's "Failed to build `name==version`" line.
fn failed_source_build(stderr: &str) -> Option<(String, Option<String>)> {
    let start = stderr.find("Failed to build `")? + "Failed to build `".len();
    let rest = &stderr[start..];
    let spec = &rest[..rest.find('`')?];
    Some(match spec.split_once("==") {
        Some((name, version)) => (name.trim().to_string(), Some(version.trim().to_string())),
        None => (
            spec.split_once(" @ ")
                .map_or(spec, |(name, _)| name)
                .trim()
                .to_string(),
            None,
        ),
    })
}

fn pip_install(
    context: &BuildContext<PythonUvBuildpack>,
    inputs: &VenvInputs<'_>,
    venv: &Path,
    cache_dir: &Path,
) -> Result<(), PythonUvError> {
    let mut create = uv_in_app(context, inputs, cache_dir);
    create
        .args([
            "venv",
            "--allow-existing",
            "--no-python-downloads",
            "--python",
        ])
        .arg(&inputs.python.executable)
        .arg(venv);
    crate::uv::stream(&mut create).map_err(PythonUvError::Sync)?;
    let mut install = uv_in_app(context, inputs, cache_dir);
    install
        .args(["pip", "install", "--requirement", REQUIREMENTS, "--python"])
        .arg(venv.join("bin").join("python"));
    crate::uv::stream(&mut install)
        .map(drop)
        .map_err(PythonUvError::Sync)
}

fn export_sbom(
    context: &BuildContext<PythonUvBuildpack>,
    inputs: &VenvInputs<'_>,
) -> Result<Vec<u8>, PythonUvError> {
    let mut command = inputs.uv.command();
    command
        .current_dir(&context.app_dir)
        .args([
            "export",
            "--format",
            "cyclonedx1.5",
            "--frozen",
            "--no-header",
        ])
        .args(inputs.config.sync_args())
        .args(inputs.selection.uv_args());
    crate::uv::capture(&mut command)
        .map(|sbom| crate::sbom::deterministic(sbom.as_bytes()))
        .map_err(PythonUvError::Sbom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use luban_common::cache::compare;

    fn key() -> VenvLayerMetadata {
        VenvLayerMetadata {
            python_version: "3.12.1".into(),
            uv_version: "0.12.6".into(),
            arch: "amd64".into(),
            distro: "debian-12".into(),
            lock_sha256: "a".repeat(64),
            project_sha256: Some("b".repeat(64)),
            groups: vec![],
            extras: vec![],
            selection: Selection::Root.describe(),
            uv_settings: vec![],
        }
    }

    #[test]
    fn each_key_field_rebuilds_and_says_why() {
        let base = key();
        let changes: Vec<(&str, VenvLayerMetadata)> = vec![
            (
                "project sha256 changed",
                VenvLayerMetadata {
                    project_sha256: Some("c".repeat(64)),
                    ..key()
                },
            ),
            (
                "selection changed (the project → workspace member api)",
                VenvLayerMetadata {
                    selection: Selection::Member("api".into()).describe(),
                    ..key()
                },
            ),
            (
                "uv settings changed (none → UV_INDEX_URL=https://mirror.example/simple)",
                VenvLayerMetadata {
                    uv_settings: vec!["UV_INDEX_URL=https://mirror.example/simple".into()],
                    ..key()
                },
            ),
        ];
        for (reason, changed) in changes {
            let decision = compare(&base, &changed).reason().unwrap_or_default();
            assert!(decision.contains(reason), "{decision:?} lacks {reason:?}");
        }
        assert_eq!(compare(&base, &key()).reason(), None);
    }

    #[test]
    fn failed_source_build_names_the_package() {
        let stderr = "Resolved 3 packages\n  \u{d7} Failed to build `httptools==0.6.1`\n  \u{251c}\u{2500}\u{25b6} The build backend returned an error\n";
        assert_eq!(
            failed_source_build(stderr),
            Some(("httptools".into(), Some("0.6.1".into())))
        );
        assert_eq!(
            failed_source_build("Failed to build `app @ file:///workspace`"),
            Some(("app".into(), None))
        );
        assert_eq!(failed_source_build("error: network unreachable"), None);
    }
}
