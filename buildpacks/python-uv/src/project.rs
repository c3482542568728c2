//! What the app directory holds, checked before anything is installed.

use crate::python_version::{self, PythonRequest, PythonVersionFileError, RequestOrigin};
use luban_common::digest::{sha256_bytes, sha256_file};
use luban_common::uv_project::Lock;
use std::path::{Path, PathBuf};

pub(crate) const UV_LOCK: &str = "uv.lock";
pub(crate) const PYPROJECT: &str = "pyproject.toml";
pub(crate) const PYTHON_VERSION: &str = ".python-version";
pub(crate) const REQUIREMENTS: &str = "requirements.txt";

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
        /// Digest of the `[project]` and `[build-system]` tables of the root and of every
        /// workspace member: what decides how the projects themselves are installed (their
        /// scripts, their build backends), unlike `[tool.*]`.
        project_sha256: String,
    },
    /// `requirements.txt` without a lock: `uv pip install -r`.
    Requirements { sha256: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub(crate) dependencies: Dependencies,
    pub(crate) python_request: PythonRequest,
    pub(crate) python_origin: RequestOrigin,
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
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
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
        if app_dir.join(".venv").exists() {
            return Err(ProjectError::CommittedVenv);
        }
        let has = |name: &str| app_dir.join(name).is_file();
        let read = |name: &str| {
            let path = app_dir.join(name);
            std::fs::read_to_string(&path).map_err(|error| ProjectError::Read { path, error })
        };

        let pyproject = if has(PYPROJECT) {
            Some(parse_toml(PYPROJECT, &read(PYPROJECT)?)?)
        } else {
            None
        };
        let lock = if has(UV_LOCK) {
            Some(
                Lock::parse(&read(UV_LOCK)?).map_err(|error| ProjectError::InvalidToml {
                    file: UV_LOCK,
                    error,
                })?,
            )
        } else {
            None
        };
        let dependencies = match (&lock, &pyproject, has(REQUIREMENTS)) {
            (Some(_), None, _) => return Err(ProjectError::LockWithoutPyproject),
            (Some(lock), Some(pyproject), _) => Dependencies::Locked {
                lock_sha256: sha256_file(&app_dir.join(UV_LOCK)).map_err(|error| {
                    ProjectError::Read {
                        path: app_dir.join(UV_LOCK),
                        error,
                    }
                })?,
                project_sha256: project_digest(app_dir, pyproject, lock),
            },
            (None, Some(_), _) => return Err(ProjectError::PyprojectWithoutLock),
            (None, None, true) => Dependencies::Requirements {
                sha256: sha256_file(&app_dir.join(REQUIREMENTS)).map_err(|error| {
                    ProjectError::Read {
                        path: app_dir.join(REQUIREMENTS),
                        error,
                    }
                })?,
            },
            (None, None, false) => return Err(ProjectError::NothingToInstall),
        };

        let (python_request, python_origin) = if has(PYTHON_VERSION) {
            (
                python_version::parse_python_version_file(&read(PYTHON_VERSION)?)
                    .map_err(ProjectError::InvalidPythonVersionFile)?,
                RequestOrigin::PythonVersionFile,
            )
        } else if let Some(value) = pyproject.as_ref().and_then(|p| {
            p.get("project")?
                .get("requires-python")?
                .as_str()
                .map(str::to_string)
        }) {
            requires_python(&value, RequestOrigin::PyprojectRequiresPython)?
        } else if let Some(value) = lock.as_ref().and_then(|lock| lock.requires_python.clone()) {
            requires_python(&value, RequestOrigin::UvLockRequiresPython)?
        } else {
            (PythonRequest::Newest, RequestOrigin::Default)
        };

        Ok(Project {
            dependencies,
            python_request,
            python_origin,
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

fn project_digest(app_dir: &Path, pyproject: &toml::Table, lock: &Lock) -> String {
    let relevant = |pyproject: &toml::Table| {
        let mut relevant = toml::Table::new();
        for key in ["project", "build-system"] {
            if let Some(value) = pyproject.get(key) {
                relevant.insert(key.to_string(), value.clone());
            }
        }
        relevant
    };
    let mut all = relevant(pyproject);
    for member in lock.members() {
        if member.dir.as_os_str().is_empty() || member.dir == Path::new(".") {
            continue;
        }
        // A member's file that can't be read or parsed changes nothing here: `uv sync --locked`
        // reports it.
        let member_pyproject = std::fs::read_to_string(app_dir.join(&member.dir).join(PYPROJECT))
            .ok()
            .and_then(|text| toml::from_str::<toml::Table>(&text).ok());
        if let Some(member_pyproject) = member_pyproject {
            all.insert(
                format!("member:{}", member.name),
                toml::Value::Table(relevant(&member_pyproject)),
            );
        }
    }
    sha256_bytes(all.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pep440_rs::Version;
    use std::str::FromStr;

    fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        dir
    }

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
    fn tool_tables_do_not_change_the_project_digest() {
        let digest = |pyproject: &str| match Project::read(
            app(&[(UV_LOCK, LOCK), (PYPROJECT, pyproject)]).path(),
        )
        .unwrap()
        .dependencies
        {
            Dependencies::Locked { project_sha256, .. } => project_sha256,
            Dependencies::Requirements { .. } => unreachable!(),
        };
        let base = digest(PYPROJECT_TOML);
        assert_eq!(
            base,
            digest(&format!(
                "{PYPROJECT_TOML}\n[tool.ruff]\nline-length = 100\n"
            ))
        );
        assert_ne!(
            base,
            digest(&format!(
                "{PYPROJECT_TOML}\n[project.scripts]\napp = \"app:main\"\n"
            ))
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
