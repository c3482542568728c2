//! Which Python to install: the request (from `.python-version`, `requires-python` or the
//! default) and its resolution to one exact version among those the pinned uv can install.

use pep440_rs::{Version, VersionSpecifiers};
use std::fmt::{self, Display};
use std::str::FromStr;

/// What the project asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PythonRequest {
    /// `3.12.1`
    Exact(Version),
    /// `3.12`: the newest patch release of that minor version.
    Minor(u64, u64),
    /// `>=3.11,<3.13`: the newest release that satisfies the specifiers.
    Specifiers(VersionSpecifiers),
    /// Nothing asked for: the newest stable release.
    Newest,
}

/// Where the request came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestOrigin {
    PythonVersionFile,
    PyprojectRequiresPython,
    UvLockRequiresPython,
    Default,
}

impl Display for RequestOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestOrigin::PythonVersionFile => "`.python-version`",
            RequestOrigin::PyprojectRequiresPython => "`requires-python` in `pyproject.toml`",
            RequestOrigin::UvLockRequiresPython => "`requires-python` in `uv.lock`",
            RequestOrigin::Default => "the newest stable Python uv offers",
        })
    }
}

impl Display for PythonRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PythonRequest::Exact(version) => write!(f, "{version}"),
            PythonRequest::Minor(major, minor) => write!(f, "{major}.{minor}"),
            PythonRequest::Specifiers(specifiers) => write!(f, "{specifiers}"),
            PythonRequest::Newest => f.write_str("newest"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PythonVersionFileError {
    Empty,
    MultipleVersions(Vec<String>),
    Invalid { line: usize, value: String },
}

/// Parses `.python-version`: one `X.Y` or `X.Y.Z` line; blank lines and `#` comments ignored.
pub(crate) fn parse_python_version_file(
    contents: &str,
) -> Result<PythonRequest, PythonVersionFileError> {
    let entries: Vec<(usize, &str)> = contents
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let (line, value) = match entries.as_slice() {
        [] => return Err(PythonVersionFileError::Empty),
        [only] => *only,
        many => {
            return Err(PythonVersionFileError::MultipleVersions(
                many.iter().map(|(_, v)| (*v).to_string()).collect(),
            ));
        }
    };
    let invalid = || PythonVersionFileError::Invalid {
        line,
        value: value.to_string(),
    };
    let parts: Vec<u64> = value
        .split('.')
        .map(|part| {
            if part.is_empty() || !part.chars().all(|c| c.is_ascii_digit()) {
                Err(invalid())
            } else {
                part.parse().map_err(|_| invalid())
            }
        })
        .collect::<Result<_, _>>()?;
    match parts.as_slice() {
        [major, minor] => Ok(PythonRequest::Minor(*major, *minor)),
        [_, _, _] => Ok(PythonRequest::Exact(
            Version::from_str(value).map_err(|_| invalid())?,
        )),
        _ => Err(invalid()),
    }
}

/// Parses a `requires-python` value.
pub(crate) fn parse_requires_python(value: &str) -> Result<PythonRequest, String> {
    VersionSpecifiers::from_str(value)
        .map(PythonRequest::Specifiers)
        .map_err(|error| error.to_string())
}

/// The newest of `available` (stable `CPython` releases) that satisfies `request`.
pub(crate) fn resolve(request: &PythonRequest, available: &[Version]) -> Option<Version> {
    matching(request, available).into_iter().max()
}

/// Every stable release of `available` that satisfies `request`.
pub(crate) fn matching(request: &PythonRequest, available: &[Version]) -> Vec<Version> {
    available
        .iter()
        .filter(|version| !version.any_prerelease())
        .filter(|version| match request {
            PythonRequest::Exact(exact) => *version == exact,
            PythonRequest::Minor(major, minor) => version.release().starts_with(&[*major, *minor]),
            PythonRequest::Specifiers(specifiers) => specifiers.contains(version),
            PythonRequest::Newest => true,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    fn available() -> Vec<Version> {
        ["3.11.7", "3.12.0", "3.12.1", "3.13.0", "3.14.0a1"]
            .iter()
            .map(|s| v(s))
            .collect()
    }

    #[test]
    fn python_version_file_forms() {
        assert_eq!(
            parse_python_version_file("3.12\n"),
            Ok(PythonRequest::Minor(3, 12))
        );
        assert_eq!(
            parse_python_version_file("# pinned for prod\n\n  3.12.1  \n"),
            Ok(PythonRequest::Exact(v("3.12.1")))
        );
    }

    #[test]
    fn python_version_file_errors() {
        assert_eq!(
            parse_python_version_file("# only a comment\n"),
            Err(PythonVersionFileError::Empty)
        );
        assert_eq!(
            parse_python_version_file("3.12\n3.11\n"),
            Err(PythonVersionFileError::MultipleVersions(vec![
                "3.12".into(),
                "3.11".into()
            ]))
        );
        for bad in [
            "3",
            "python3.12",
            "3.12-dev",
            "pypy3.10",
            "3.12.1.4",
            "3..1",
            "system",
        ] {
            assert_eq!(
                parse_python_version_file(&format!("\n{bad}\n")),
                Err(PythonVersionFileError::Invalid {
                    line: 2,
                    value: bad.to_string()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn resolves_newest_match() {
        let available = available();
        assert_eq!(
            resolve(&PythonRequest::Minor(3, 12), &available),
            Some(v("3.12.1"))
        );
        assert_eq!(
            resolve(&PythonRequest::Exact(v("3.12.0")), &available),
            Some(v("3.12.0"))
        );
        assert_eq!(
            resolve(&parse_requires_python(">=3.11,<3.13").unwrap(), &available),
            Some(v("3.12.1"))
        );
        assert_eq!(
            resolve(&PythonRequest::Newest, &available),
            Some(v("3.13.0"))
        );
    }

    #[test]
    fn unknown_versions_resolve_to_nothing() {
        let available = available();
        assert_eq!(resolve(&PythonRequest::Minor(3, 99), &available), None);
        assert_eq!(
            resolve(&PythonRequest::Exact(v("3.12.7")), &available),
            None
        );
        assert_eq!(
            resolve(&parse_requires_python(">=4").unwrap(), &available),
            None
        );
    }

    #[test]
    fn invalid_requires_python() {
        assert!(parse_requires_python(">=3.11,,").is_err());
        assert!(parse_requires_python("3.12 or newer").is_err());
    }
}
