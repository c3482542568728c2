//! Every message the python-uv buildpack shows a user when it fails.

use crate::bindings::BindingError;
use crate::django::DjangoError;
use crate::project::ProjectError;
use crate::provenance::{self, ProvenanceError};
use crate::python_version::{PythonRequest, PythonVersionFileError, RequestOrigin};
use crate::uv::UvError;
use bullet_stream::fun_run::CmdError;
use luban_common::app_file::{AppFileError, excerpt};
use luban_common::message::ErrorMessage;
use luban_common::redact::redact_urls;
use luban_common::settings::SettingsError;
use pep440_rs::Version;
use std::path::PathBuf;

#[derive(Debug)]
pub(crate) enum PythonUvError {
    Settings(SettingsError),
    Binding(BindingError),
    Provenance(ProvenanceError),
    Project(ProjectError),
    /// `BP_UV_PACKAGE` names no workspace member (`members` is empty without a lock).
    UnknownPackage {
        name: String,
        members: Vec<String>,
    },
    UvNotFound,
    UvVersion(UvError),
    PythonList(UvError),
    PythonNotAvailable {
        request: PythonRequest,
        origin: RequestOrigin,
        available: Vec<Version>,
    },
    /// `.python-version` pins a Python that the project's `requires-python` excludes.
    PinOutsideRequiresPython {
        pin: PythonRequest,
        version: Version,
        requires_python: String,
        origin: RequestOrigin,
    },
    PythonInstall(UvError),
    PythonMissingAfterInstall(PathBuf),
    /// Leaving out what apps never run failed (a path that couldn't be removed).
    PythonSlim(PathBuf, std::io::Error),
    StaleLock,
    /// uv could not build a package from source.
    SourceBuild(Box<SourceBuildFailure>),
    Sync(CmdError),
    Sbom(UvError),
    Django(DjangoError),
}

#[derive(Debug)]
pub(crate) struct SourceBuildFailure {
    pub(crate) package: String,
    pub(crate) version: Option<String>,
    pub(crate) python: Version,
    pub(crate) python_reason: String,
    pub(crate) error: CmdError,
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
        PythonUvError::Settings(error) => config_message(error),
        PythonUvError::Binding(error) => binding_message(error),
        PythonUvError::Provenance(error) => provenance_message(error),
        PythonUvError::Project(error) => project_message(error),
        PythonUvError::UnknownPackage { name, members } if members.is_empty() => ErrorMessage::new(
            format!("`BP_UV_PACKAGE={name}` needs a uv project"),
            "`BP_UV_PACKAGE` picks a member of a uv workspace, but this app has no `uv.lock` with projects in it.",
        )
        .hint("Unset `BP_UV_PACKAGE`, or build a uv workspace (`pyproject.toml` with `[tool.uv.workspace]` and its `uv.lock`)."),
        PythonUvError::UnknownPackage { name, members } => ErrorMessage::new(
            format!("`BP_UV_PACKAGE={name}` is not a member of the workspace"),
            format!(
                "The members `uv.lock` lists are: {}.",
                members.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ),
        )
        .hint("Set `BP_UV_PACKAGE` to one of those names, or unset it to install every member."),
        PythonUvError::UvNotFound => ErrorMessage::new(
            "uv is missing",
            "This buildpack runs the uv that `luban/uv` installs (the `LUBAN_UV` build variable), but found none.",
        )
        .hint("Put `luban/uv` before `luban/python-uv` in the builder's order (the `luban/python` composite buildpack does this)."),
        PythonUvError::UvVersion(error) => uv_failure("Could not run uv", error),
        PythonUvError::PythonList(error) => uv_failure("Could not list the Python versions uv can install", error)
            .hint("If you set `UV_PYTHON_DOWNLOADS_JSON_URL` or `UV_PYTHON_INSTALL_MIRROR`, check that the build can reach it and that it serves a valid list."),
        PythonUvError::PinOutsideRequiresPython { pin, version, requires_python, origin } => ErrorMessage::new(
            format!("`.python-version` pins Python {pin}, which the project doesn't allow"),
            format!("`.python-version` asks for {pin} (Python {version} here), but {origin} is `{requires_python}`: uv would refuse to install the project with it."),
        )
        .hint(format!("Pin a Python the project supports (`uv python pin <version>` and commit `.python-version`), or change `requires-python` and run `uv lock`. Without `.python-version` the build picks the newest Python `{requires_python}` allows.")),
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
        PythonUvError::PythonSlim(dir, error) => ErrorMessage::new(
            "Could not slim down the Python installation",
            format!("Removing what apps never run (the test suite, IDLE, Tk, static libraries) from `{}` failed: {error}.", dir.display()),
        )
        .hint(REPORT),
        PythonUvError::StaleLock => ErrorMessage::new(
            "`uv.lock` is out of date",
            "`uv sync --locked` found that `uv.lock` no longer matches `pyproject.toml`, so the build would not install what you tested.",
        )
        .hint("Run `uv lock` in the project, commit the updated `uv.lock`, and build again."),
        PythonUvError::SourceBuild(failure) => {
            let SourceBuildFailure { package, version, python, python_reason, error } = failure.as_ref();
            let spec = match version {
                Some(version) => format!("{package} {version}"),
                None => package.clone(),
            };
            let upgrade = format!("run `uv lock --upgrade-package {package}` to lock a release that has wheels for Python {python}, test it, and commit `uv.lock`");
            let pin = if python_reason.contains(".python-version") {
                "change `.python-version` to a Python for which the locked release has wheels".to_string()
            } else {
                format!("pin the Python you develop with in `.python-version` (for example `uv python pin {}`)", python.release().iter().take(2).map(ToString::to_string).collect::<Vec<_>>().join("."))
            };
            ErrorMessage::new(
                format!("Could not build `{spec}` from source"),
                format!(
                    "`{}` failed ({}): `{spec}` has no wheel for this build and its source build failed; uv's output is above.\nThe build used Python {python} ({python_reason}).",
                    redact_urls(&error.name()),
                    status(error)
                ),
            )
            .hint(format!(
                "Either {pin}; or {upgrade}; or, if the error above names a missing header or library (`fatal error: …h: No such file`), use a build image that has it."
            ))
        }
        PythonUvError::Sync(error) => ErrorMessage::new(
            "Could not install the dependencies",
            format!("`{}` failed ({}); its output is above.", redact_urls(&error.name()), status(error)),
        )
        .hint("Check the first error uv printed above: a package that needs a compiler or headers the build image lacks, a private index that needs credentials (`UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`), or an index the build can't reach."),
        PythonUvError::Sbom(error) => uv_failure("Could not write the SBOM of the dependencies", error).hint(REPORT),
        PythonUvError::Django(error) => django_message(error),
    }
}

fn binding_message(error: &BindingError) -> ErrorMessage {
    let layout = "A `uv-index` binding holds the files `type` (`uv-index`), `username`, `password` and, optionally, `name` (the index's name in `[[tool.uv.index]]`; the binding's name when absent).";
    match error {
        BindingError::MissingKey { binding, key } => ErrorMessage::new(
            format!("Service binding `{binding}` has no `{key}`"),
            format!("The binding is of type `uv-index`, but its `{key}` file is missing or empty.\n{layout}"),
        )
        .hint(format!("Add `{key}` to the Secret or directory behind the binding (with kpack, a key of the Secret named in `spec.build.services`).")),
        BindingError::InvalidIndexName { binding, name } => ErrorMessage::new(
            format!("Service binding `{binding}` names an invalid index"),
            format!("Found the index name `{name}`; index names are letters, digits, `-`, `_` and `.`.\n{layout}"),
        )
        .hint("Set `name` to the `name` of the index in `[[tool.uv.index]]` in `pyproject.toml`."),
        BindingError::Unreadable { binding, key, error } => ErrorMessage::new(
            format!("Could not read `{key}` of service binding `{binding}`"),
            format!("Reading it failed: {error}."),
        )
        .hint("The build user must be able to read the binding's files; mount them readable (`:ro` is fine)."),
        BindingError::SameIndex { index, bindings: (first, second) } => ErrorMessage::new(
            format!("Two service bindings give credentials for index `{index}`"),
            format!("`{first}` and `{second}` both name it; the build would not know which to use."),
        )
        .hint("Keep one binding per index."),
    }
}

fn config_message(error: &SettingsError) -> ErrorMessage {
    match error {
        SettingsError::InvalidName { variable, value, name } => ErrorMessage::new(
            format!("`{variable}` holds an invalid name"),
            format!("Found `{variable}={value}`; `{name}` is not a valid package, group or extra name.\nNames are letters, digits, `.`, `_` and `-`, starting and ending with a letter or digit, separated by commas or spaces."),
        )
        .hint(format!("Set it to names from `pyproject.toml`, for example `{variable}=docs,lint`.")),
        SettingsError::SeveralPackages { value } => ErrorMessage::new(
            "`BP_UV_PACKAGE` names more than one package",
            format!("Found `BP_UV_PACKAGE={value}`; it takes one workspace member."),
        )
        .hint("Set it to the member that is the app; its workspace dependencies are installed with it."),
        SettingsError::NotABoolean { variable, value } => ErrorMessage::new(
            format!("`{variable}` is not `true` or `false`"),
            format!("Found `{variable}={value}`."),
        )
        .hint(format!("Set `{variable}=false` to turn it off, or unset it.")),
    }
}

fn provenance_message(error: &ProvenanceError) -> ErrorMessage {
    match error {
        ProvenanceError::Revision { value } => ErrorMessage::new(
            format!("`{}` is not a commit SHA", provenance::REVISION),
            format!("Found `{}={}`. The image's `org.opencontainers.image.revision` label must name one commit: its full SHA, 40 hexadecimal digits (64 in a SHA-256 repository).", provenance::REVISION, excerpt(value)),
        )
        .hint(format!("Set it from the checkout (`{}=$(git rev-parse HEAD)`), or unset it to read the app's `.git`.", provenance::REVISION)),
        ProvenanceError::Source { value, reason } => ErrorMessage::new(
            format!("`{}` is not a repository URL", provenance::SOURCE),
            format!("Found `{}={}`: {reason}.", provenance::SOURCE, excerpt(value)),
        )
        .hint(format!("Set it to the repository's URL, for example `{}=https://github.com/acme/shop`. Credentials in it are removed before it is published.", provenance::SOURCE)),
        ProvenanceError::Created { value } => ErrorMessage::new(
            format!("`{}` is not an RFC 3339 time", provenance::CREATED),
            format!("Found `{}={}`.", provenance::CREATED, excerpt(value)),
        )
        .hint(format!("Set it to the commit's time (`{}=$(git log -1 --format=%cI)`, for example `2026-11-23T12:00:00Z`), or unset it.", provenance::CREATED)),
        ProvenanceError::SourceDateEpoch { value } => ErrorMessage::new(
            format!("`{}` is not a number of seconds", provenance::SOURCE_DATE_EPOCH),
            format!("Found `{}={}`; it is the time of the source as whole seconds since 1970-01-01 UTC.", provenance::SOURCE_DATE_EPOCH, excerpt(value)),
        )
        .hint(format!("Set it from the commit (`{}=$(git log -1 --format=%ct)`), or unset it.", provenance::SOURCE_DATE_EPOCH)),
    }
}

fn django_message(error: &DjangoError) -> ErrorMessage {
    let (what, error) = match error {
        DjangoError::Settings(error) => (
            "Could not load Django's settings to read `STATIC_ROOT`",
            error,
        ),
        DjangoError::Collectstatic(error) => ("Django's `collectstatic` failed", error),
    };
    let output = error
        .output()
        .map(|o| {
            let mut text = o.stdout_lossy();
            text.push_str(&o.stderr_lossy());
            text
        })
        .unwrap_or_default();
    let mut body = format!("`{}` failed ({}).", error.name(), status(error));
    if !output.trim().is_empty() {
        let tail: Vec<&str> = output.trim().lines().rev().take(20).collect();
        body.push_str("\n\nIts output ended with:\n");
        body.push_str(&redact_urls(
            &tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        ));
    }
    ErrorMessage::new(what, body).hint(
        "The settings run at build time without your runtime services: read secrets and database URLs with a default (`os.environ.get(...)`), or set what they need with `pack build --env`. Set `BP_DJANGO_COLLECTSTATIC=false` to skip `collectstatic`.",
    )
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
        .hint("Run `uv lock` in the project and commit `uv.lock` (if `.gitignore` lists `uv.lock`, remove that line)."),
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
        ProjectError::File(error) => ErrorMessage::new(
            format!("Could not read `{}`", error.file()),
            error.to_string(),
        )
        .hint(match error {
            AppFileError::OutsideApp { .. } => "Commit the file itself, or refer to a file inside the app (a `-r`/`-c` include, too, must name a file in the app, not a link out of it).",
            AppFileError::TooLarge { .. } => "Check that it is the file you meant to commit.",
            AppFileError::NotRegular { .. } | AppFileError::Read { .. } => "Check the file's permissions and that it is a regular text file.",
        }),
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
                    .take(5)
                    .map(|v| format!("`{}`", excerpt(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        PythonVersionFileError::Invalid { line, value } => ErrorMessage::new(
            "`.python-version` holds an invalid version",
            format!("Line {line} is `{}`.\n\n{format_help}", excerpt(value)),
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

    #[test]
    fn pin_outside_requires_python() {
        insta::assert_snapshot!(render(&PythonUvError::PinOutsideRequiresPython {
            pin: PythonRequest::Minor(3, 12),
            version: "3.12.1".parse().unwrap(),
            requires_python: ">=3.14, <4.0".into(),
            origin: RequestOrigin::PyprojectRequiresPython,
        }));
    }

    #[test]
    fn invalid_revision() {
        insta::assert_snapshot!(render(&PythonUvError::Provenance(
            ProvenanceError::Revision {
                value: "main".into()
            }
        )));
    }

    #[test]
    fn invalid_source() {
        insta::assert_snapshot!(render(&PythonUvError::Provenance(
            ProvenanceError::Source {
                value: "ftp://***@host/x".into(),
                reason: "the scheme must be `https`, `http`, `ssh` or `git`".into()
            }
        )));
    }

    #[test]
    fn invalid_created() {
        insta::assert_snapshot!(render(&PythonUvError::Provenance(
            ProvenanceError::Created {
                value: "yesterday".into()
            }
        )));
    }

    #[test]
    fn invalid_source_date_epoch() {
        insta::assert_snapshot!(render(&PythonUvError::Provenance(
            ProvenanceError::SourceDateEpoch {
                value: "1e9".into()
            }
        )));
    }

    fn project(error: ProjectError) -> String {
        render(&PythonUvError::Project(error))
    }

    #[test]
    fn invalid_group_name() {
        insta::assert_snapshot!(render(&PythonUvError::Settings(
            SettingsError::InvalidName {
                variable: "BP_UV_GROUPS",
                value: "docs;x".into(),
                name: "docs;x".into()
            }
        )));
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
        insta::assert_snapshot!(project(ProjectError::File(AppFileError::Read {
            file: "uv.lock".into(),
            error: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        })));
    }

    #[test]
    fn file_linked_out_of_the_app() {
        insta::assert_snapshot!(project(ProjectError::File(AppFileError::OutsideApp {
            file: ".python-version".into(),
        })));
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
    fn several_packages() {
        insta::assert_snapshot!(render(&PythonUvError::Settings(
            SettingsError::SeveralPackages {
                value: "api web".into()
            }
        )));
    }

    #[test]
    fn collectstatic_not_a_boolean() {
        insta::assert_snapshot!(render(&PythonUvError::Settings(
            SettingsError::NotABoolean {
                variable: "BP_DJANGO_COLLECTSTATIC",
                value: "maybe".into()
            }
        )));
    }

    #[test]
    fn unknown_package() {
        insta::assert_snapshot!(render(&PythonUvError::UnknownPackage {
            name: "web".into(),
            members: vec!["api".into(), "shared-lib".into()],
        }));
    }

    #[test]
    fn package_without_workspace() {
        insta::assert_snapshot!(render(&PythonUvError::UnknownPackage {
            name: "web".into(),
            members: vec![],
        }));
    }

    fn failed_command(name: &str, stdout: &str, stderr: &str) -> CmdError {
        use bullet_stream::fun_run::CommandWithName;
        std::process::Command::new("sh")
            .args([
                "-c",
                &format!("printf '%s' '{stdout}'; printf '%s' '{stderr}' >&2; exit 1"),
            ])
            .named(name)
            .named_output()
            .and_then(bullet_stream::fun_run::NamedOutput::nonzero_captured)
            .unwrap_err()
    }

    #[test]
    fn source_build_with_a_chosen_python() {
        insta::assert_snapshot!(render(&PythonUvError::SourceBuild(Box::new(
            SourceBuildFailure {
                package: "httptools".into(),
                version: Some("0.6.1".into()),
                python: Version::from_str("3.13.0").unwrap(),
                python_reason: "chosen for `>=3.12` from `requires-python` in `pyproject.toml`"
                    .into(),
                error: failed_command("uv sync --locked", "", "Failed to build `httptools==0.6.1`"),
            }
        ))));
    }

    #[test]
    fn source_build_with_a_pinned_python() {
        insta::assert_snapshot!(render(&PythonUvError::SourceBuild(Box::new(
            SourceBuildFailure {
                package: "httptools".into(),
                version: Some("0.6.1".into()),
                python: Version::from_str("3.13.0").unwrap(),
                python_reason: "pinned in `.python-version`".into(),
                error: failed_command("uv sync --locked", "", "Failed to build `httptools==0.6.1`"),
            }
        ))));
    }

    #[test]
    fn collectstatic_failed() {
        insta::assert_snapshot!(render(&PythonUvError::Django(DjangoError::Collectstatic(
            failed_command(
                "python manage.py collectstatic --noinput",
                "",
                "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty."
            )
        ))));
    }

    #[test]
    fn service_bindings() {
        let rendered: Vec<String> = [
            BindingError::MissingKey {
                binding: "private-index".into(),
                key: "password",
            },
            BindingError::InvalidIndexName {
                binding: "corp".into(),
                name: "corp index".into(),
            },
            BindingError::Unreadable {
                binding: "corp".into(),
                key: "username".into(),
                error: "Permission denied (os error 13)".into(),
            },
            BindingError::SameIndex {
                index: "private".into(),
                bindings: ("other".into(), "private".into()),
            },
        ]
        .into_iter()
        .map(|error| render(&PythonUvError::Binding(error)))
        .collect();
        insta::assert_snapshot!(rendered.join("\n\n---\n\n"));
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
    fn python_slim_failed() {
        insta::assert_snapshot!(render(&PythonUvError::PythonSlim(
            PathBuf::from("/layers/luban_python-uv/python/cpython-3.12.1-linux-x86_64-gnu"),
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
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
