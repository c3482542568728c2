//! Which Python to install when the project doesn't pin one: among the versions that satisfy
//! the request, the newest one for which every locked package has a wheel on this target, so
//! the build needs no compiler for what the project's authors installed from wheels.
//!
//! Wheel filenames and platform tags are read with uv's own crates, so "has a wheel" means
//! what it means to the `uv sync` that follows.

use luban_common::uv_project::LockedPackage;
use pep440_rs::Version;
use std::str::FromStr;
use uv_distribution_filename::WheelFilename;
use uv_platform_tags::{Arch, Os, Platform, Tags, TagsOptions};

/// The machine the build installs for: its architecture and the build image's glibc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    arch: Arch,
    glibc: (u16, u16),
}

/// The oldest glibc any supported build image has (manylinux2014), assumed when the build
/// image's can't be read.
const FALLBACK_GLIBC: (u16, u16) = (2, 17);

impl Target {
    /// `arch` is the CNB target architecture (`amd64`, `arm64`); `glibc` the build image's
    /// version, when known. `None` for an architecture Luban doesn't build for.
    pub(crate) fn new(arch: &str, glibc: Option<(u16, u16)>) -> Option<Self> {
        let arch = match arch {
            "amd64" | "x86_64" => Arch::X86_64,
            "arm64" | "aarch64" => Arch::Aarch64,
            _ => return None,
        };
        Some(Target {
            arch,
            glibc: glibc.unwrap_or(FALLBACK_GLIBC),
        })
    }

    fn tags(&self, python: &Version) -> Option<Tags> {
        let release = python.release();
        let major = u8::try_from(*release.first()?).ok()?;
        let minor = u8::try_from(*release.get(1)?).ok()?;
        let platform = Platform::new(
            Os::Manylinux {
                major: self.glibc.0,
                minor: self.glibc.1,
            },
            self.arch,
        );
        Tags::from_env(
            platform,
            (major, minor),
            "cpython",
            (major, minor),
            TagsOptions {
                manylinux_compatible: true,
                gil_disabled: false,
                debug_enabled: false,
                is_cross: false,
            },
        )
        .ok()
    }
}

/// Parses `getconf GNU_LIBC_VERSION` output (`glibc 2.36`).
pub(crate) fn parse_glibc(getconf: &str) -> Option<(u16, u16)> {
    let version = getconf.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// A newer candidate that was not chosen, and a package that ruled it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub(crate) version: Version,
    pub(crate) package: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) version: Version,
    /// Candidates newer than `version`, newest first.
    pub(crate) skipped: Vec<Skipped>,
    /// Packages (`name version`) uv will build from source for `version`.
    pub(crate) compiled: Vec<String>,
}

struct Package {
    display: String,
    /// Per candidate (same order as the candidates): a compatible wheel exists.
    compatible: Vec<bool>,
    has_sdist: bool,
}

/// Chooses among `candidates` (the versions that satisfy the request) for the locked
/// `packages` that will be installed. `None` when there is no candidate.
pub(crate) fn choose(
    candidates: &[Version],
    packages: &[&LockedPackage],
    target: &Target,
) -> Option<Choice> {
    let mut candidates = candidates.to_vec();
    candidates.sort();
    candidates.dedup();
    candidates.reverse();
    let newest = candidates.first()?.clone();
    let tags: Vec<Option<Tags>> = candidates.iter().map(|c| target.tags(c)).collect();

    let packages: Vec<Package> = packages
        .iter()
        .map(|package| {
            let wheels: Vec<WheelFilename> = package
                .wheels
                .iter()
                .filter_map(|wheel| WheelFilename::from_str(wheel.filename()?).ok())
                .collect();
            Package {
                display: package.display(),
                compatible: tags
                    .iter()
                    .map(|tags| {
                        tags.as_ref()
                            .is_some_and(|tags| wheels.iter().any(|w| w.is_compatible(tags)))
                    })
                    .collect(),
                has_sdist: package.sdist.is_some(),
            }
        })
        .collect();
    // A package without a Linux wheel for any candidate (sdist only, or Windows wheels only)
    // is built from source whichever Python is chosen: it doesn't decide.
    let deciding: Vec<&Package> = packages
        .iter()
        .filter(|p| p.compatible.iter().any(|c| *c))
        .collect();
    let blocker = |index: usize| deciding.iter().find(|p| !p.compatible[index]);

    let chosen = (0..candidates.len())
        .find(|index| blocker(*index).is_none())
        .unwrap_or(0);
    let skipped = (0..chosen)
        .filter_map(|index| {
            blocker(index).map(|package| Skipped {
                version: candidates[index].clone(),
                package: package.display.clone(),
            })
        })
        .collect();
    let compiled = packages
        .iter()
        .filter(|p| p.has_sdist && !p.compatible[chosen])
        .map(|p| p.display.clone())
        .collect();
    Some(Choice {
        version: candidates.get(chosen).cloned().unwrap_or(newest),
        skipped,
        compiled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use luban_common::uv_project::{Lock, Selection};
    use std::fmt::Write as _;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    fn lock(packages: &[(&str, &str, &[&str], bool)]) -> Lock {
        let mut text = String::from(
            "version = 1\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\ndependencies = [",
        );
        for (name, ..) in packages {
            let _ = write!(text, "{{ name = \"{name}\" }}, ");
        }
        text.push_str("]\n");
        for (name, version, wheels, sdist) in packages {
            let _ = write!(
                text,
                "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n"
            );
            if *sdist {
                let _ = writeln!(
                    text,
                    "sdist = {{ url = \"https://files.example/{name}-{version}.tar.gz\" }}"
                );
            }
            text.push_str("wheels = [\n");
            for wheel in *wheels {
                let _ = writeln!(
                    text,
                    "  {{ url = \"https://files.example/packages/ab/{wheel}\" }},"
                );
            }
            text.push_str("]\n");
        }
        Lock::parse(&text).unwrap()
    }

    fn choose_for(lock: &Lock, candidates: &[&str], glibc: (u16, u16)) -> Choice {
        let target = Target::new("amd64", Some(glibc)).unwrap();
        let candidates: Vec<Version> = candidates.iter().map(|c| v(c)).collect();
        choose(
            &candidates,
            &lock.installed(&Selection::Root, &[], &[]),
            &target,
        )
        .unwrap()
    }

    const HTTPTOOLS_312: &str = "httptools-0.6.1-cp312-cp312-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl";

    #[test]
    fn newest_candidate_without_a_wheel_is_skipped() {
        let lock = lock(&[
            ("httptools", "0.6.1", &[HTTPTOOLS_312], true),
            ("six", "1.17.0", &["six-1.17.0-py2.py3-none-any.whl"], true),
        ]);
        let choice = choose_for(&lock, &["3.12.1", "3.13.0"], (2, 36));
        assert_eq!(choice.version, v("3.12.1"));
        assert_eq!(
            choice.skipped,
            [Skipped {
                version: v("3.13.0"),
                package: "httptools 0.6.1".into()
            }]
        );
        assert!(choice.compiled.is_empty());
    }

    #[test]
    fn pure_and_abi3_wheels_fit_every_candidate() {
        let lock = lock(&[
            ("six", "1.17.0", &["six-1.17.0-py2.py3-none-any.whl"], true),
            (
                "cryptography",
                "43.0.0",
                &["cryptography-43.0.0-cp39-abi3-manylinux_2_28_x86_64.whl"],
                true,
            ),
        ]);
        let choice = choose_for(&lock, &["3.12.1", "3.13.0"], (2, 36));
        assert_eq!(choice.version, v("3.13.0"));
        assert!(choice.skipped.is_empty());
    }

    #[test]
    fn manylinux_needs_a_glibc_the_build_image_has() {
        let lock = lock(&[(
            "fast",
            "1.0",
            &[
                "fast-1.0-cp313-cp313-manylinux_2_39_x86_64.whl",
                "fast-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            ],
            true,
        )]);
        // Bookworm (2.36) can't use the 2.39 wheel: 3.12 is the one with a usable wheel.
        assert_eq!(
            choose_for(&lock, &["3.12.1", "3.13.0"], (2, 36)).version,
            v("3.12.1")
        );
        assert_eq!(
            choose_for(&lock, &["3.12.1", "3.13.0"], (2, 39)).version,
            v("3.13.0")
        );
    }

    #[test]
    fn packages_without_linux_wheels_do_not_decide() {
        let lock = lock(&[
            ("sdist-only", "1.0", &[], true),
            (
                "pywin32",
                "306",
                &["pywin32-306-cp312-cp312-win_amd64.whl"],
                false,
            ),
            (
                "musl-only",
                "1.0",
                &["musl_only-1.0-cp312-cp312-musllinux_1_1_x86_64.whl"],
                true,
            ),
        ]);
        let choice = choose_for(&lock, &["3.12.1", "3.13.0"], (2, 36));
        assert_eq!(choice.version, v("3.13.0"));
        assert_eq!(choice.compiled, ["sdist-only 1.0", "musl-only 1.0"]);
    }

    #[test]
    fn no_candidate_without_source_builds_takes_the_newest_and_names_them() {
        let lock = lock(&[
            (
                "old",
                "1.0",
                &["old-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"],
                true,
            ),
            (
                "new",
                "1.0",
                &["new-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"],
                true,
            ),
        ]);
        let choice = choose_for(&lock, &["3.12.1", "3.13.0"], (2, 36));
        assert_eq!(choice.version, v("3.13.0"));
        assert!(choice.skipped.is_empty());
        assert_eq!(choice.compiled, ["old 1.0"]);
    }

    #[test]
    fn arm64_wheels_for_arm64() {
        let lock = lock(&[(
            "x",
            "1.0",
            &["x-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"],
            true,
        )]);
        let target = Target::new("arm64", Some((2, 34))).unwrap();
        let choice = choose(
            &[v("3.13.0")],
            &lock.installed(&Selection::Root, &[], &[]),
            &target,
        )
        .unwrap();
        assert_eq!(choice.compiled, ["x 1.0"]);
        assert!(Target::new("s390x", None).is_none());
    }

    #[test]
    fn glibc_from_getconf() {
        assert_eq!(parse_glibc("glibc 2.36\n"), Some((2, 36)));
        assert_eq!(parse_glibc("nonsense"), None);
    }
}
