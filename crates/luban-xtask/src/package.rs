//! The buildpack directories `pack buildpack package` takes (`package.toml` lists them): each
//! libcnb buildpack under `buildpacks/` compiled and laid out by libcnb-package, exactly as
//! `cargo libcnb package` would (`bin/build`, `bin/detect`, additional binaries where
//! `libcnb::additional_buildpack_binary_path!` finds them).

use crate::{Error, Result, uv_pin};
use libcnb_data::buildpack::{BuildpackDescriptor, BuildpackId};
use libcnb_package::CargoProfile;
use libcnb_package::output::default_buildpack_directory_name;
use libcnb_package::package::package_buildpack;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target to compile for: musl where its target is installed (release builds), else the
/// gnu target with a static C runtime, which gives the same kind of self-contained binary.
#[must_use]
pub fn default_target() -> String {
    let arch = std::env::consts::ARCH;
    let musl = format!("{arch}-unknown-linux-musl");
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .any(|l| l == musl)
        });
    if installed {
        musl
    } else {
        format!("{arch}-unknown-linux-gnu")
    }
}

/// The environment cargo builds with for `target`: quiet unless it fails, and static linking
/// on gnu targets.
fn cargo_env(target: &str) -> Vec<(OsString, OsString)> {
    let mut env = vec![("CARGO_TERM_QUIET".into(), "true".into())];
    if target.ends_with("-gnu") {
        let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        flags.push_str(" -C target-feature=+crt-static");
        env.push(("RUSTFLAGS".into(), flags.trim().into()));
    }
    env
}

/// The cargo profile the buildpacks compile with, from `LUBAN_BUILDPACKS_PROFILE`: `release`
/// (unset: LTO, what CI publishes and the tests use) or `dev` (what `cargo libcnb package`
/// builds by default: unoptimised and stripped, in about half the CPU time; `make demo` uses it).
///
/// # Errors
/// When the value is neither.
pub fn profile(value: Option<&str>) -> Result<CargoProfile> {
    match value.map(str::trim) {
        None | Some("" | "release") => Ok(CargoProfile::Release),
        Some("dev") => Ok(CargoProfile::Dev),
        Some(other) => Err(Error(format!(
            "LUBAN_BUILDPACKS_PROFILE is `{other}`; it may be `release` (the default) or `dev`"
        ))),
    }
}

/// The libcnb buildpacks of the repository: `(id, source directory)`, in a stable order.
///
/// # Errors
/// When `buildpacks/` can't be read or a `buildpack.toml` is invalid.
pub fn libcnb_buildpacks(root: &Path) -> Result<Vec<(BuildpackId, PathBuf)>> {
    let dir = root.join("buildpacks");
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| Error(format!("can't read `{}`: {e}", dir.display())))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Error(format!("can't read `{}`: {e}", dir.display())))?
            .path();
        if !path.join("Cargo.toml").is_file() {
            continue;
        }
        let descriptor_path = path.join("buildpack.toml");
        let text = std::fs::read_to_string(&descriptor_path)
            .map_err(|e| Error(format!("can't read `{}`: {e}", descriptor_path.display())))?;
        let descriptor: BuildpackDescriptor = toml::from_str(&text)
            .map_err(|e| Error(format!("`{}` is invalid: {e}", descriptor_path.display())))?;
        found.push((descriptor.buildpack().id.clone(), path));
    }
    found.sort();
    Ok(found)
}

/// Compiles and lays out every libcnb buildpack in `out/<id with _ for />`; with
/// `uv_inventory`, luban/uv's `[metadata.uv]` is replaced by it (the offline mirror's).
///
/// # Errors
/// When compiling or writing a directory fails.
pub fn package(
    root: &Path,
    out: &Path,
    target: &str,
    profile: CargoProfile,
    uv_inventory: Option<&Path>,
) -> Result<Vec<PathBuf>> {
    let env = cargo_env(target);
    let mut written = Vec::new();
    for (id, source) in libcnb_buildpacks(root)? {
        let destination = out.join(default_buildpack_directory_name(&id));
        if destination.exists() {
            std::fs::remove_dir_all(&destination)
                .map_err(|e| Error(format!("can't remove `{}`: {e}", destination.display())))?;
        }
        package_buildpack(
            &source,
            profile,
            target,
            &env,
            &destination,
            &BTreeMap::new(),
        )
        .map_err(|e| Error(format!("packaging {id} failed: {e}")))?;
        // libcnb-package's own package.toml for the single buildpack; ours is the composite's.
        let _ = std::fs::remove_file(destination.join("package.toml"));
        if let (Some(inventory), "luban/uv") = (uv_inventory, id.as_str()) {
            uv_pin::replace_in(&destination.join("buildpack.toml"), inventory)?;
        }
        written.push(destination);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_four_libcnb_buildpacks_and_not_the_composite() {
        let ids: Vec<String> = libcnb_buildpacks(&crate::repo_root())
            .expect("buildpacks")
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect();
        assert_eq!(
            ids,
            [
                "luban/procfile",
                "luban/python-uv",
                "luban/run-user",
                "luban/uv"
            ]
        );
    }

    #[test]
    fn the_profile_is_release_unless_dev_is_asked_for() {
        assert!(matches!(profile(None), Ok(CargoProfile::Release)));
        assert!(matches!(profile(Some("")), Ok(CargoProfile::Release)));
        assert!(matches!(
            profile(Some("release")),
            Ok(CargoProfile::Release)
        ));
        assert!(matches!(profile(Some(" dev ")), Ok(CargoProfile::Dev)));
        let Err(Error(message)) = profile(Some("fast")) else {
            panic!("`fast` is no profile");
        };
        assert!(
            message.contains("`fast`") && message.contains("`dev`"),
            "{message}"
        );
    }

    #[test]
    fn gnu_targets_link_statically() {
        let rustflags = |target| {
            cargo_env(target)
                .into_iter()
                .find(|(name, _)| name == "RUSTFLAGS")
                .map(|(_, value)| value.to_string_lossy().into_owned())
        };
        assert!(rustflags("x86_64-unknown-linux-gnu").is_some_and(|f| f.ends_with("+crt-static")));
        assert_eq!(rustflags("x86_64-unknown-linux-musl"), None);
    }
}
