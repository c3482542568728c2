//! Every message the python-uv buildpack shows a user when it fails.

use crate::config::InvalidName;
use crate::project::ProjectError;
use crate::python_version::{PythonRequest, PythonVersionFileError, RequestOrigin};
use crate::uv::UvError;
use bullet_stream::fun_run::CmdError;
use luban_common::message::ErrorMessage;
use luban_common::redact::redact_urls;
use pep440_rs::Version;
use std::path::PathBuf;

#[derive(Debug)]
pub(crate) enum PythonUvError {
    Config(InvalidName),
    Project(ProjectError),
    UvNotFound,
    UvVersion(UvError),
    PythonList(UvError),
    PythonNotAvailable {
        request: PythonRequest,
        origin: RequestOrigin,
        available: Vec<Version>,
    },
    PythonInstall(UvError),
    PythonMissingAfterInstall(PathBuf),
    StaleLock,
    Sync(CmdError),
    Sbom(UvError),
}

impl From<PythonUvError> for libcnb::Error<PythonUvError> {
    fn from(error: PythonUvError) -> Self {
        libcnb::Error::BuildpackError(error)
    }
}

pub(crate) fn on_error(error: &libcnb::Error<PythonUvError>) {
    message(error).print();
}

pub(crate) fn message(error: &libcnb::Error<PythonUvError>) -> ErrorMessage {
    match error {
        libcnb::Error::BuildpackError(error) => buildpack_message(error),
        other => ErrorMessage::internal("python-uv", other),
    }
}

const REPORT: &str = "If the output above doesn't explain it, re-run the build; if it fails again, report it with the build log.";

#[allow(clippy::too_many_lines)]
fn buildpack_message(error: &PythonUvError) -> ErrorMessage {
    match error {
        PythonUvError::Config(InvalidName { variable, value, name }) => ErrorMessage::new(
            format!("`{variable}` holds an invalid name"),
            format!("Found `{variable}={value}`; `{name}` is not a valid group or extra name.\nNames are letters, digits, `.`, `_` and `-`, starting and ending with a letter or digit, separated by commas or spaces."),
        )
        .hint(format!("Set it to names from `pyproject.toml`, for example `{variable}=docs,lint`.")),
        PythonUvError::Project(error) => project_message(error),
        PythonUvError::UvNotFound => ErrorMessage::new(
            "uv is missing",
            "This buildpack runs the uv that `luban/uv` installs (the `LUBAN_UV` build variable), but found none.",
        )
        .hint("Put `luban/uv` before `luban/python-uv` in the builder's order (the `luban/python` composite buildpack does this)."),
        PythonUvError::UvVersion(error) => uv_failure("Could not run uv", error),
        PythonUvError::PythonList(error) => uv_failure("Could not list the Python versions uv can install", error)
            .hint("If you set `UV_PYTHON_DOWNLOADS_JSON_URL` or `UV_PYTHON_INSTALL_MIRROR`, check that the build can reach it and that it serves a valid list."),
        PythonUvError::PythonNotAvailable { request, origin, available } => ErrorMessage::new(
            format!("Python {request} is not available"),
            format!(
                "The Python version comes from {origin}, which asks for {request}.\nThe Python builds uv can install here: {}.",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                }
            ),
        )
        .hint(match origin {
            RequestOrigin::PythonVersionFile => "Change `.python-version` to one of those versions (`X.Y` picks the newest patch release), for example with `uv python pin 3.12`.",
            RequestOrigin::PyprojectRequiresPython | RequestOrigin::UvLockRequiresPython =>
                "Add a `.python-version` file with one of those versions, or widen `requires-python`.",
            RequestOrigin::Default => "Add a `.python-version` file with one of those versions.",
        }),
        PythonUvError::PythonInstall(error) => uv_failure("Could not install Python", error)
            .hint("If you set `UV_PYTHON_INSTALL_MIRROR` or `UV_PYTHON_DOWNLOADS_JSON_URL`, check that the build can reach the mirror and that it serves the listed files unchanged."),
        PythonUvError::PythonMissingAfterInstall(dir) => ErrorMessage::new(
            "Python is missing after `uv python install`",
            format!("uv reported success, but no `bin/python3` was found under `{}`.", dir.display()),
        )
        .hint(REPORT),
        PythonUvError::StaleLock => ErrorMessage::new(
            "`uv.lock` is out of date",
            "`uv sync --locked` found that `uv.lock` no longer matches `pyproject.toml`, so the build would not install what you tested.",
        )
        .hint("Run `uv lock` in the project, commit the updated `uv.lock`, and build again."),
        PythonUvError::Sync(error) => ErrorMessage::new(
            "Could not install the dependencies",
            format!("`{}` failed ({}); its output is above.", redact_urls(&error.name()), status(error)),
        )
        .hint("Check the first error uv printed above: a package that needs a compiler or headers the build image lacks, a private index that needs credentials (`UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`), or an index the build can't reach."),
        PythonUvError::Sbom(error) => uv_failure("Could not write the SBOM of the dependencies", error).hint(REPORT),
    }
}

fn project_message(error: &ProjectError) -> ErrorMessage {
    match error {
        ProjectError::LockWithoutPyproject => ErrorMessage::new(
            "`uv.lock` without `pyproject.toml`",
            "The app has a `uv.lock` but no `pyproject.toml`; uv needs both to install a project.",
        )
        .hint("Commit `pyproject.toml` next to `uv.lock` (both at the app's root)."),
        ProjectError::PyprojectWithoutLock => ErrorMessage::new(
            "`pyproject.toml` without `uv.lock`",
            "The app has a `pyproject.toml` but no `uv.lock`. Luban installs exactly what the lock pins, so a build never resolves different versions than you tested.",
        )
        .hint("Run `uv lock` in the project and commit `uv.lock`."),
        ProjectError::NothingToInstall => ErrorMessage::new(
            "No dependencies file next to `.python-version`",
            "The app has a `.python-version` but neither `pyproject.toml` + `uv.lock` nor `requirements.txt`.",
        )
        .hint("Add a uv project (`uv init`, then `uv lock`) or a `requirements.txt`, and commit it."),
        ProjectError::CommittedVenv => ErrorMessage::new(
            "The app contains a `.venv` directory",
            "A virtual environment made on another machine would shadow the one this buildpack builds, and its interpreter paths don't exist in the image.",
        )
        .hint("Remove `.venv` from the app (`git rm -r --cached .venv`), and add it to `.gitignore` and `.dockerignore` / `project.toml` excludes."),
        ProjectError::Read { path, error } => ErrorMessage::new(
            format!("Could not read `{}`", path.file_name().unwrap_or_default().to_string_lossy()),
            format!("Reading `{}` failed: {error}.", path.display()),
        )
        .hint("Check the file's permissions and that it is a regular file."),
        ProjectError::InvalidToml { file, error } => ErrorMessage::new(
            format!("`{file}` is not valid TOML"),
            format!("Parsing `{file}` failed:\n\n{error}"),
        )
        .hint(format!("Fix `{file}` at the place shown; `uv lock --check` reports the same problem locally.")),
        ProjectError::InvalidPythonVersionFile(error) => python_version_file_message(error),
        ProjectError::InvalidRequiresPython { origin, value, error } => ErrorMessage::new(
            format!("Invalid `requires-python` in {}", match origin {
                RequestOrigin::UvLockRequiresPython => "`uv.lock`",
                _ => "`pyproject.toml`",
            }),
            format!("Found `requires-python = \"{value}\"`: {error}"),
        )
        .hint("Use version specifiers such as `>=3.12` or `>=3.11,<3.14`, or pin a version in `.python-version`."),
    }
}

fn python_version_file_message(error: &PythonVersionFileError) -> ErrorMessage {
    let format_help = "`.python-version` must hold one Python version as `X.Y` (for example `3.12`, the newest 3.12 release) or `X.Y.Z` (for example `3.12.1`). Blank lines and `#` comments are ignored.";
    match error {
        PythonVersionFileError::Empty => ErrorMessage::new(
            "`.python-version` holds no version",
            format!("The file is empty or only has comments.\n\n{format_help}"),
        ),
        PythonVersionFileError::MultipleVersions(versions) => ErrorMessage::new(
            "`.python-version` holds more than one version",
            format!(
                "Found: {}.\n\n{format_help}",
                versions
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        PythonVersionFileError::Invalid { line, value } => ErrorMessage::new(
            "`.python-version` holds an invalid version",
            format!("Line {line} is `{value}`.\n\n{format_help}"),
        ),
    }
    .hint("Run `uv python pin 3.12` (or the version you use) to rewrite it.")
}

fn uv_failure(headline: &str, error: &UvError) -> ErrorMessage {
    match error {
        UvError::NotFound => buildpack_message(&PythonUvError::UvNotFound),
        UvError::Command(error) => {
            let stderr = error
                .output()
                .map(bullet_stream::fun_run::NamedOutput::stderr_lossy)
                .unwrap_or_default();
            let mut body = format!(
                "`{}` failed ({}).",
                redact_urls(&error.name()),
                status(error)
            );
            if !stderr.trim().is_empty() {
                body.push_str("\n\nuv said:\n");
                body.push_str(&redact_urls(stderr.trim()));
            }
            ErrorMessage::new(headline, body)
        }
        UvError::UnexpectedOutput { command, output } => ErrorMessage::new(
            headline,
            format!(
                "`{command}` printed something this buildpack doesn't understand:\n\n{}",
                redact_urls(output.trim())
            ),
        ),
    }
}

fn status(error: &CmdError) -> String {
    match error {
        CmdError::SystemError(_, io_error) => format!("could not start it: {io_error}"),
        other => match other.status().code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn render(error: &PythonUvError) -> String {
        buildpack_message(error).to_string()
    }

    fn project(error: ProjectError) -> String {
        render(&PythonUvError::Project(error))
    }

    #[test]
    fn invalid_group_name() {
        insta::assert_snapshot!(render(&PythonUvError::Config(InvalidName {
            variable: "BP_UV_GROUPS",
            value: "docs;x".into(),
            name: "docs;x".into()
        })));
    }

    #[test]
    fn lock_without_pyproject() {
        insta::assert_snapshot!(project(ProjectError::LockWithoutPyproject));
    }

    #[test]
    fn pyproject_without_lock() {
        insta::assert_snapshot!(project(ProjectError::PyprojectWithoutLock));
    }

    #[test]
    fn nothing_to_install() {
        insta::assert_snapshot!(project(ProjectError::NothingToInstall));
    }

    #[test]
    fn committed_venv() {
        insta::assert_snapshot!(project(ProjectError::CommittedVenv));
    }

    #[test]
    fn unreadable_file() {
        insta::assert_snapshot!(project(ProjectError::Read {
            path: PathBuf::from("/workspace/uv.lock"),
            error: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        }));
    }

    #[test]
    fn invalid_pyproject() {
        insta::assert_snapshot!(project(ProjectError::InvalidToml {
            file: "pyproject.toml",
            error: "TOML parse error at line 1, column 9\n  |\n1 | [project\n  |         ^\ninvalid table header\nexpected `.`, `]`".into(),
        }));
    }

    #[test]
    fn python_version_file_invalid() {
        insta::assert_snapshot!(project(ProjectError::InvalidPythonVersionFile(
            PythonVersionFileError::Invalid {
                line: 1,
                value: "python3.12".into()
            }
        )));
    }

    #[test]
    fn python_version_file_empty() {
        insta::assert_snapshot!(project(ProjectError::InvalidPythonVersionFile(
            PythonVersionFileError::Empty
        )));
    }

    #[test]
    fn python_version_file_multiple() {
        insta::assert_snapshot!(project(ProjectError::InvalidPythonVersionFile(
            PythonVersionFileError::MultipleVersions(vec!["3.12".into(), "3.11".into()])
        )));
    }

    #[test]
    fn invalid_requires_python() {
        insta::assert_snapshot!(project(ProjectError::InvalidRequiresPython {
            origin: RequestOrigin::PyprojectRequiresPython,
            value: "3.12 please".into(),
            error: "Failed to parse version".into(),
        }));
    }

    #[test]
    fn python_not_available() {
        insta::assert_snapshot!(render(&PythonUvError::PythonNotAvailable {
            request: PythonRequest::Minor(3, 99),
            origin: RequestOrigin::PythonVersionFile,
            available: ["3.12.1", "3.13.0"]
                .iter()
                .map(|v| Version::from_str(v).unwrap())
                .collect(),
        }));
    }

    #[test]
    fn stale_lock() {
        insta::assert_snapshot!(render(&PythonUvError::StaleLock));
    }

    #[test]
    fn uv_not_found() {
        insta::assert_snapshot!(render(&PythonUvError::UvNotFound));
    }

    #[test]
    fn python_missing_after_install() {
        insta::assert_snapshot!(render(&PythonUvError::PythonMissingAfterInstall(
            PathBuf::from("/layers/luban_python-uv/python")
        )));
    }

    #[test]
    fn uv_unexpected_output() {
        insta::assert_snapshot!(render(&PythonUvError::PythonList(
            UvError::UnexpectedOutput {
                command: "uv python list".into(),
                output: "see https://user:pw@mirror/x".into(),
            }
        )));
    }
}
