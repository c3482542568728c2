//! What the app directory holds, checked before anything is installed.

use crate::python_version::{self, PythonRequest, PythonVersionFileError, RequestOrigin};
use luban_common::app_file::{self, AppFileError};
use luban_common::digest::sha256_bytes;
use luban_common::uv_project::Lock;
use std::fmt::Write as _;
use std::path::Path;

pub(crate) const UV_LOCK: &str = "uv.lock";
pub(crate) const PYPROJECT: &str = "pyproject.toml";
pub(crate) const PYTHON_VERSION: &str = ".python-version";
pub(crate) const REQUIREMENTS: &str = "requirements.txt";
pub(crate) const UV_TOML: &str = "uv.toml";

/// Whether the detect phase should pass for this app: a uv project, a `pyproject.toml` (the
/// build then says to run `uv lock` when the lock is missing), or `.python-version`.
pub(crate) fn detected(app_dir: &Path) -> bool {
    [UV_LOCK, PYPROJECT, PYTHON_VERSION]
        .iter()
        .any(|file| app_dir.join(file).is_file())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dependencies {
    /// `uv.lock` + `pyproject.toml`: `uv sync --locked`.
    Locked {
        lock_sha256: String,
        /// Digest of the whole `pyproject.toml` of the root and of every workspace member, and
        /// of `uv.toml`: every setting that changes what `uv sync` installs.
        project_sha256: String,
    },
    /// `requirements.txt` without a lock: `uv pip install -r`. The digest covers the files it
    /// includes.
    Requirements { sha256: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub(crate) dependencies: Dependencies,
    pub(crate) python_request: PythonRequest,
    pub(crate) python_origin: RequestOrigin,
    /// The project's `requires-python` (`pyproject.toml`'s, else `uv.lock`'s) and where it is
    /// written, when there is a valid one: a `.python-version` pin outside it can't install.
    pub(crate) requires_python: Option<(pep440_rs::VersionSpecifiers, RequestOrigin)>,
    /// `pyproject.toml`, when there is one.
    pub(crate) pyproject: Option<toml::Table>,
    /// `uv.lock`, when there is one.
    pub(crate) lock: Option<Lock>,
}

#[derive(Debug)]
pub(crate) enum ProjectError {
    LockWithoutPyproject,
    PyprojectWithoutLock,
    NothingToInstall,
    CommittedVenv,
    /// An app file that is unsafe or impossible to read.
    File(AppFileError),
    InvalidToml {
        file: &'static str,
        error: String,
    },
    InvalidPythonVersionFile(PythonVersionFileError),
    InvalidRequiresPython {
        origin: RequestOrigin,
        value: String,
        error: String,
    },
}

impl Project {
    pub(crate) fn read(app_dir: &Path) -> Result<Self, ProjectError> {
        if app_file::exists(app_dir, ".venv") {
            return Err(ProjectError::CommittedVenv);
        }
        let read = |name: &str, limit: u64| {
            app_file::read(app_dir, name, limit).map_err(ProjectError::File)
        };

        let pyproject_text = read(PYPROJECT, app_file::TEXT_FILE_LIMIT)?;
        let pyproject = pyproject_text
            .as_deref()
            .map(|text| parse_toml(PYPROJECT, text))
            .transpose()?;
        let lock_text = read(UV_LOCK, app_file::LOCK_FILE_LIMIT)?;
        let lock = lock_text
            .as_deref()
            .map(|text| {
                Lock::parse(text).map_err(|error| ProjectError::InvalidToml {
                    file: UV_LOCK,
                    error,
                })
            })
            .transpose()?;
        let requirements = read(REQUIREMENTS, app_file::TEXT_FILE_LIMIT)?;
        let dependencies = match (&lock, &pyproject_text, &requirements) {
            (Some(_), None, _) => return Err(ProjectError::LockWithoutPyproject),
            (Some(lock), Some(pyproject_text), _) => Dependencies::Locked {
                lock_sha256: sha256_bytes(lock_text.unwrap_or_default().as_bytes()),
                project_sha256: project_digest(app_dir, pyproject_text, lock)?,
            },
            (None, Some(_), _) => return Err(ProjectError::PyprojectWithoutLock),
            (None, None, Some(text)) => Dependencies::Requirements {
                sha256: requirements_digest(app_dir, text)?,
            },
            (None, None, None) => return Err(ProjectError::NothingToInstall),
        };

        let pyproject_requires = pyproject.as_ref().and_then(|p| {
            p.get("project")?
                .get("requires-python")?
                .as_str()
                .map(str::to_string)
        });
        let allowed_pythons = pyproject_requires
            .as_deref()
            .map(|value| (value, RequestOrigin::PyprojectRequiresPython))
            .or_else(|| {
                lock.as_ref()
                    .and_then(|lock| lock.requires_python.as_deref())
                    .map(|value| (value, RequestOrigin::UvLockRequiresPython))
            })
            .and_then(|(value, origin)| Some((value.parse().ok()?, origin)));

        let python_version = read(PYTHON_VERSION, app_file::SMALL_FILE_LIMIT)?;
        let (python_request, python_origin) = if let Some(text) = python_version {
            (
                python_version::parse_python_version_file(&text)
                    .map_err(ProjectError::InvalidPythonVersionFile)?,
                RequestOrigin::PythonVersionFile,
            )
        } else if let Some(value) = &pyproject_requires {
            requires_python(value, RequestOrigin::PyprojectRequiresPython)?
        } else if let Some(value) = lock.as_ref().and_then(|lock| lock.requires_python.clone()) {
            requires_python(&value, RequestOrigin::UvLockRequiresPython)?
        } else {
            (PythonRequest::Newest, RequestOrigin::Default)
        };

        Ok(Project {
            dependencies,
            python_request,
            python_origin,
            requires_python: allowed_pythons,
            pyproject,
            lock,
        })
    }
}

fn requires_python(
    value: &str,
    origin: RequestOrigin,
) -> Result<(PythonRequest, RequestOrigin), ProjectError> {
    python_version::parse_requires_python(value)
        .map(|request| (request, origin))
        .map_err(|error| ProjectError::InvalidRequiresPython {
            origin,
            value: value.to_string(),
            error,
        })
}

fn parse_toml(file: &'static str, contents: &str) -> Result<toml::Table, ProjectError> {
    toml::from_str(contents).map_err(|error: toml::de::Error| ProjectError::InvalidToml {
        file,
        error: error.to_string().trim().to_string(),
    })
}

/// The files a setuptools build reads besides `pyproject.toml`: they decide the project's own
/// install (its scripts, its metadata) and are the build-time code that runs in the venv.
const SETUPTOOLS_FILES: [&str; 2] = ["setup.py", "setup.cfg"];

/// Digest of everything besides the lock that decides what `uv sync` installs: the whole
/// `pyproject.toml` of the root and of every workspace member (`[tool.uv]` settings, dependency
/// groups, build-backend tables, sources: simpler and honest, at the cost of a reinstall when
/// only a linter's table changes), their `setup.py` and `setup.cfg`, and `uv.toml`.
fn project_digest(app_dir: &Path, pyproject: &str, lock: &Lock) -> Result<String, ProjectError> {
    let mut all = String::from(pyproject);
    // A file that doesn't exist changes nothing here (a member's missing `pyproject.toml` is
    // reported by `uv sync --locked`).
    let mut add = |file: &str| -> Result<(), ProjectError> {
        if let Some(text) =
            app_file::read(app_dir, file, app_file::TEXT_FILE_LIMIT).map_err(ProjectError::File)?
        {
            let _ = write!(all, "\n# {file}\n{text}");
        }
        Ok(())
    };
    for file in SETUPTOOLS_FILES {
        add(file)?;
    }
    for member in lock.members() {
        if member.dir.as_os_str().is_empty() || member.dir == Path::new(".") {
            continue;
        }
        for file in std::iter::once(PYPROJECT).chain(SETUPTOOLS_FILES) {
            add(&format!("{}/{file}", member.dir.display()))?;
        }
    }
    add(UV_TOML)?;
    // A local `directory` (not editable) or `path` source is copied into the venv: its
    // content decides what is installed, and the lock doesn't change when it does.
    for source in lock.copied_local_sources() {
        if let Some(digest) = local_source_digest(app_dir, &source) {
            let _ = write!(
                all,
                "\n# {} (copied into the venv)\n{digest}",
                source.display()
            );
        }
    }
    Ok(sha256_bytes(all.as_bytes()))
}

/// The digest of a local source inside the app; `None` for one outside it (the build can't
/// see it, and `uv sync` says so) or one that can't be read (`uv sync` says that too).
fn local_source_digest(app_dir: &Path, source: &Path) -> Option<String> {
    let app = std::fs::canonicalize(app_dir).ok()?;
    let resolved = std::fs::canonicalize(app_dir.join(source)).ok()?;
    resolved
        .starts_with(&app)
        .then(|| luban_common::digest::sha256_tree(&resolved).ok())
        .flatten()
}

/// Digest of `requirements.txt` and every file it includes (`-r`, `-c`, also nested), read from
/// the app like any app file.
fn requirements_digest(app_dir: &Path, text: &str) -> Result<String, ProjectError> {
    let mut all = String::from(text);
    let mut queue: Vec<(String, String)> = includes(REQUIREMENTS, text);
    let mut seen: Vec<String> = vec![REQUIREMENTS.to_string()];
    while let Some((_, file)) = queue.pop() {
        if seen.contains(&file) || seen.len() > 100 {
            continue;
        }
        seen.push(file.clone());
        if let Some(included) =
            app_file::read(app_dir, &file, app_file::TEXT_FILE_LIMIT).map_err(ProjectError::File)?
        {
            let _ = write!(all, "\n# {file}\n{included}");
            queue.extend(includes(&file, &included));
        }
    }
    Ok(sha256_bytes(all.as_bytes()))
}

/// The files a requirements file includes, relative to the app: `(including file, included)`.
fn includes(from: &str, text: &str) -> Vec<(String, String)> {
    let base = Path::new(from).parent().unwrap_or(Path::new(""));
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = ["-r", "--requirement", "-c", "--constraint"]
                .iter()
                .find_map(|flag| line.strip_prefix(flag))?;
            let name = rest.trim_start_matches(['=', ' ', '\t']).trim();
            (!name.is_empty() && !name.contains("://")).then(|| {
                (
                    from.to_string(),
                    base.join(name).to_string_lossy().into_owned(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pep440_rs::Version;
    use std::str::FromStr;

    use luban_test_support::app_dir as app;

    const PYPROJECT_TOML: &str = "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.12\"\ndependencies = []\n";
    const LOCK: &str = "version = 1\nrequires-python = \">=3.11\"\n";

    #[test]
    fn detects_lock_or_python_version() {
        assert!(detected(app(&[(UV_LOCK, LOCK)]).path()));
        assert!(detected(app(&[(PYTHON_VERSION, "3.12")]).path()));
        assert!(detected(app(&[(PYPROJECT, PYPROJECT_TOML)]).path()));
        assert!(!detected(app(&[(REQUIREMENTS, "flask")]).path()));
    }

    #[test]
    fn python_version_file_wins() {
        let dir = app(&[
            (UV_LOCK, LOCK),
            (PYPROJECT, PYPROJECT_TOML),
            (PYTHON_VERSION, "3.13\n"),
        ]);
        let project = Project::read(dir.path()).unwrap();
        assert_eq!(project.python_request, PythonRequest::Minor(3, 13));
        assert_eq!(project.python_origin, RequestOrigin::PythonVersionFile);
        let (specifiers, origin) = project.requires_python.unwrap();
        assert_eq!(specifiers.to_string(), ">=3.12");
        assert_eq!(origin, RequestOrigin::PyprojectRequiresPython);
    }

    #[test]
    fn requires_python_from_pyproject_then_lock() {
        let project =
            Project::read(app(&[(UV_LOCK, LOCK), (PYPROJECT, PYPROJECT_TOML)]).path()).unwrap();
        assert_eq!(
            project.python_origin,
            RequestOrigin::PyprojectRequiresPython
        );
        assert_eq!(project.python_request.to_string(), ">=3.12");

        let bare = "[project]\nname = \"app\"\nversion = \"0.1.0\"\n";
        let project = Project::read(app(&[(UV_LOCK, LOCK), (PYPROJECT, bare)]).path()).unwrap();
        assert_eq!(project.python_origin, RequestOrigin::UvLockRequiresPython);
        assert_eq!(project.python_request.to_string(), ">=3.11");

        let project =
            Project::read(app(&[(UV_LOCK, "version = 1\n"), (PYPROJECT, bare)]).path()).unwrap();
        assert_eq!(project.python_request, PythonRequest::Newest);
    }

    #[test]
    fn requirements_project() {
        let dir = app(&[(PYTHON_VERSION, "3.12.1"), (REQUIREMENTS, "flask==3.0.0\n")]);
        let project = Project::read(dir.path()).unwrap();
        assert!(matches!(
            project.dependencies,
            Dependencies::Requirements { .. }
        ));
        assert_eq!(
            project.python_request,
            PythonRequest::Exact(Version::from_str("3.12.1").unwrap())
        );
    }

    #[test]
    fn every_setting_that_changes_the_install_changes_the_project_digest() {
        let digest =
            |files: &[(&str, &str)]| match Project::read(app(files).path()).unwrap().dependencies {
                Dependencies::Locked { project_sha256, .. } => project_sha256,
                Dependencies::Requirements { .. } => unreachable!(),
            };
        let base = digest(&[(UV_LOCK, LOCK), (PYPROJECT, PYPROJECT_TOML)]);
        for (changed, files) in [
            (
                "[tool.uv]",
                vec![(
                    PYPROJECT,
                    format!("{PYPROJECT_TOML}\n[tool.uv]\ndefault-groups = [\"docs\"]\n"),
                )],
            ),
            (
                "[dependency-groups]",
                vec![(
                    PYPROJECT,
                    format!("{PYPROJECT_TOML}\n[dependency-groups]\ndocs = [\"x\"]\n"),
                )],
            ),
            (
                "[project.scripts]",
                vec![(
                    PYPROJECT,
                    format!("{PYPROJECT_TOML}\n[project.scripts]\napp = \"app:main\"\n"),
                )],
            ),
            (
                "uv.toml",
                vec![
                    (PYPROJECT, PYPROJECT_TOML.to_string()),
                    (UV_TOML, "no-binary-package = [\"x\"]\n".to_string()),
                ],
            ),
            // A setuptools project's build reads these: its scripts, and code that runs.
            (
                "setup.py",
                vec![
                    (PYPROJECT, PYPROJECT_TOML.to_string()),
                    (
                        "setup.py",
                        "from setuptools import setup\nsetup()\n".to_string(),
                    ),
                ],
            ),
            (
                "setup.cfg",
                vec![
                    (PYPROJECT, PYPROJECT_TOML.to_string()),
                    ("setup.cfg", "[options.entry_points]\n".to_string()),
                ],
            ),
        ] {
            let mut all: Vec<(&str, &str)> = vec![(UV_LOCK, LOCK)];
            all.extend(files.iter().map(|(n, c)| (*n, c.as_str())));
            assert_ne!(base, digest(&all), "{changed} should change the digest");
        }
    }

    #[test]
    fn a_local_source_copied_into_the_venv_changes_the_digest_with_its_code() {
        const WITH_LIB: &str = "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n\n[[package]]\nname = \"lib\"\nversion = \"0.1.0\"\nsource = { directory = \"lib\" }\n";
        let digest = |code: &str| match Project::read(
            app(&[
                (UV_LOCK, WITH_LIB),
                (PYPROJECT, PYPROJECT_TOML),
                ("lib/pyproject.toml", "[project]\nname = \"lib\"\n"),
                ("lib/src/lib/__init__.py", code),
            ])
            .path(),
        )
        .unwrap()
        .dependencies
        {
            Dependencies::Locked { project_sha256, .. } => project_sha256,
            Dependencies::Requirements { .. } => unreachable!(),
        };
        assert_eq!(digest("X = 1\n"), digest("X = 1\n"));
        assert_ne!(
            digest("X = 1\n"),
            digest("X = 2\n"),
            "the venv holds a copy of lib/: its code is part of the key"
        );
    }

    #[test]
    fn included_requirement_files_change_the_digest() {
        let digest = |constraints: &str| match Project::read(
            app(&[
                (PYTHON_VERSION, "3.12"),
                (REQUIREMENTS, "-r requirements/base.txt\nflask\n"),
                ("requirements/base.txt", "-c constraints.txt\nsix\n"),
                ("requirements/constraints.txt", constraints),
            ])
            .path(),
        )
        .unwrap()
        .dependencies
        {
            Dependencies::Requirements { sha256 } => sha256,
            Dependencies::Locked { .. } => unreachable!(),
        };
        assert_ne!(digest("six==1.16.0\n"), digest("six==1.17.0\n"));
    }

    #[test]
    fn files_linked_out_of_the_app_are_refused() {
        let dir = app(&[(UV_LOCK, LOCK), (PYPROJECT, PYPROJECT_TOML)]);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join(PYTHON_VERSION)).unwrap();
        let error = Project::read(dir.path()).unwrap_err();
        assert!(
            matches!(&error, ProjectError::File(AppFileError::OutsideApp { file }) if file == PYTHON_VERSION),
            "{error:?}"
        );
    }

    #[test]
    fn bad_inputs() {
        let err = |files: &[(&str, &str)]| Project::read(app(files).path()).unwrap_err();
        assert!(matches!(
            err(&[(UV_LOCK, LOCK)]),
            ProjectError::LockWithoutPyproject
        ));
        assert!(matches!(
            err(&[(PYPROJECT, PYPROJECT_TOML)]),
            ProjectError::PyprojectWithoutLock
        ));
        assert!(matches!(
            err(&[(PYTHON_VERSION, "3.12")]),
            ProjectError::NothingToInstall
        ));
        assert!(matches!(
            err(&[
                (UV_LOCK, LOCK),
                (PYPROJECT, PYPROJECT_TOML),
                (".venv/pyvenv.cfg", "")
            ]),
            ProjectError::CommittedVenv
        ));
        assert!(matches!(
            err(&[(UV_LOCK, LOCK), (PYPROJECT, "[project\nname=1")]),
            ProjectError::InvalidToml {
                file: PYPROJECT,
                ..
            }
        ));
        assert!(matches!(
            err(&[
                (UV_LOCK, LOCK),
                (PYPROJECT, PYPROJECT_TOML),
                (PYTHON_VERSION, "three")
            ]),
            ProjectError::InvalidPythonVersionFile(_)
        ));
        assert!(matches!(
            err(&[
                (UV_LOCK, LOCK),
                (
                    PYPROJECT,
                    "[project]\nname = \"a\"\nrequires-python = \"3.12 please\"\n"
                )
            ]),
            ProjectError::InvalidRequiresPython {
                origin: RequestOrigin::PyprojectRequiresPython,
                ..
            }
        ));
    }
}
