//! Every message the procfile buildpack shows a user when it fails.

use crate::procfile::ProcfileError;
use luban_common::app_file::{AppFileError, excerpt};
use luban_common::message::ErrorMessage;

#[derive(Debug)]
pub(crate) enum ProcfileBuildpackError {
    Read(AppFileError),
    Parse(ProcfileError),
    /// A process's program is neither on the launch `PATH` nor in the app.
    MissingProgram {
        process: String,
        program: String,
        package: Option<&'static str>,
    },
    /// No `Procfile`, and nothing in the project says how to start it.
    NoProcess {
        /// What looked like an app but can't be started as one, and what to add.
        notes: Vec<String>,
    },
}

impl From<ProcfileBuildpackError> for libcnb::Error<ProcfileBuildpackError> {
    fn from(error: ProcfileBuildpackError) -> Self {
        libcnb::Error::BuildpackError(error)
    }
}

pub(crate) fn on_error(error: &libcnb::Error<ProcfileBuildpackError>) {
    message(error).print();
}

pub(crate) fn message(error: &libcnb::Error<ProcfileBuildpackError>) -> ErrorMessage {
    const FORMAT: &str = "Each line of a `Procfile` is `<name>: <command>`, for example `web: gunicorn app:app`. Names are letters, digits, `.`, `_` and `-`; blank lines and lines starting with `#` are ignored.";
    match error {
        libcnb::Error::BuildpackError(ProcfileBuildpackError::Read(error)) => ErrorMessage::new(
            "Could not read the `Procfile`",
            error.to_string(),
        )
        .hint("Commit `Procfile` as a readable text file at the app's root (not a symlink out of the app)."),
        libcnb::Error::BuildpackError(ProcfileBuildpackError::Parse(error)) => {
            let (headline, found) = match error {
                ProcfileError::NotAProcess { line, text } => (
                    format!("`Procfile` line {line} is not a process"),
                    format!("Line {line} is `{}`, which has no `name:` before the command.", excerpt(text)),
                ),
                ProcfileError::InvalidName { line, name } => (
                    format!("`Procfile` line {line} has an invalid process name"),
                    format!("Line {line} names the process `{}`.", excerpt(name)),
                ),
                ProcfileError::EmptyCommand { line, name } => (
                    format!("`Procfile` line {line} has no command"),
                    format!("Line {line} declares `{name}` with nothing after the colon."),
                ),
                ProcfileError::Duplicate { line, name } => (
                    format!("`Procfile` line {line} declares `{name}` again"),
                    format!("`{name}` is already declared on an earlier line."),
                ),
            };
            ErrorMessage::new(headline, format!("{found}\n\n{FORMAT}"))
                .hint("Fix that line of `Procfile` and build again.")
        }
        libcnb::Error::BuildpackError(ProcfileBuildpackError::MissingProgram {
            process,
            program,
            package,
        }) => ErrorMessage::new(
            format!("Process `{process}` runs `{program}`, which is not in the image"),
            format!(
                "The command of `{process}` starts with `{program}`, but no such program is on the image's `PATH` (the virtual environment's `bin`, the run image's system directories) or in the app. The image would build and then fail to start."
            ),
        )
        .hint(match package {
            Some(package) if package.starts_with(program.as_str()) => format!(
                "Add the dependency that provides it (`uv add {package}`) and commit `pyproject.toml` and `uv.lock`; in a uv workspace, add it to the member you build (`BP_UV_PACKAGE`) or check that the member that has it is installed. Or change the command of `{process}`."
            ),
            Some(package) => format!(
                "`{program}` usually comes from `{package}`: add it (`uv add {package}`) and commit `pyproject.toml` and `uv.lock`. Or change the command of `{process}`."
            ),
            None => format!(
                "Add the dependency that provides `{program}` (`uv add <package>`), or, for a script of your own, give its path in the app (`./bin/{program}`). Or change the command of `{process}`."
            ),
        }),
        libcnb::Error::BuildpackError(ProcfileBuildpackError::NoProcess { notes }) => {
            let found = if notes.is_empty() {
                "The app has no `Procfile`, and the project shows no start command: no FastAPI, Django, Streamlit, ASGI or WSGI app that Luban recognises, and no `[project.scripts]` entry.".to_string()
            } else {
                format!(
                    "The app has no `Procfile`, and no start command could be declared from the project:\n{}",
                    notes.iter().map(|note| format!("- {note}")).collect::<Vec<_>>().join("\n")
                )
            };
            ErrorMessage::new(
                "The image would have no process to start",
                format!("{found}\n\nAn image without a process fails as soon as it is run, so the build stops here."),
            )
            .hint(format!(
                "Add a `Procfile` at the app's root with the command that starts the app, for example `web: gunicorn app:app --bind 0.0.0.0:${{PORT:-{}}}`, and commit it. For an image that deliberately has no process (a base for other images), commit an empty `Procfile`.",
                crate::detect::DEFAULT_PORT
            ))
        }
        other => ErrorMessage::internal("procfile", other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(error: ProcfileError) -> String {
        message(&libcnb::Error::BuildpackError(
            ProcfileBuildpackError::Parse(error),
        ))
        .to_string()
    }

    #[test]
    fn not_a_process() {
        insta::assert_snapshot!(render(ProcfileError::NotAProcess {
            line: 3,
            text: "python app.py".into(),
        }));
    }

    #[test]
    fn invalid_name() {
        insta::assert_snapshot!(render(ProcfileError::InvalidName {
            line: 1,
            name: "my web".into()
        }));
    }

    #[test]
    fn empty_command() {
        insta::assert_snapshot!(render(ProcfileError::EmptyCommand {
            line: 2,
            name: "worker".into()
        }));
    }

    #[test]
    fn duplicate() {
        insta::assert_snapshot!(render(ProcfileError::Duplicate {
            line: 4,
            name: "web".into()
        }));
    }

    fn missing(program: &str, package: Option<&'static str>) -> String {
        message(&libcnb::Error::BuildpackError(
            ProcfileBuildpackError::MissingProgram {
                process: "web".into(),
                program: program.into(),
                package,
            },
        ))
        .to_string()
    }

    #[test]
    fn missing_known_program() {
        insta::assert_snapshot!(missing("gunicorn", Some("gunicorn")));
    }

    #[test]
    fn missing_program_of_another_package() {
        insta::assert_snapshot!(missing("waitress-serve", Some("waitress")));
    }

    #[test]
    fn missing_unknown_program() {
        insta::assert_snapshot!(missing("start-server", None));
    }

    fn no_process(notes: &[&str]) -> String {
        message(&libcnb::Error::BuildpackError(
            ProcfileBuildpackError::NoProcess {
                notes: notes.iter().map(ToString::to_string).collect(),
            },
        ))
        .to_string()
    }

    #[test]
    fn no_process_found() {
        insta::assert_snapshot!(no_process(&[]));
    }

    #[test]
    fn no_process_with_notes() {
        insta::assert_snapshot!(no_process(&[
            "`main.py` defines `app`, but gunicorn (for a WSGI app) will not be installed, so no web process was declared. Add it (`uv add gunicorn`; the build then starts `gunicorn main:app`) or a `Procfile`."
        ]));
    }

    #[test]
    fn unreadable() {
        insta::assert_snapshot!(
            message(&libcnb::Error::BuildpackError(
                ProcfileBuildpackError::Read(AppFileError::Read {
                    file: "Procfile".into(),
                    error: std::io::Error::from(std::io::ErrorKind::PermissionDenied)
                })
            ))
            .to_string()
        );
    }
}
