//! Parses a `Procfile`: `name: command` lines, blank lines and `#` comments ignored.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Process {
    pub(crate) name: String,
    pub(crate) command: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProcfileError {
    /// A line with no `name: command` shape.
    NotAProcess {
        line: usize,
        text: String,
    },
    /// A name with characters the CNB spec doesn't allow (letters, digits, `.`, `_`, `-`).
    InvalidName {
        line: usize,
        name: String,
    },
    EmptyCommand {
        line: usize,
        name: String,
    },
    Duplicate {
        line: usize,
        name: String,
    },
}

pub(crate) fn parse(contents: &str) -> Result<Vec<Process>, ProcfileError> {
    let mut processes: Vec<Process> = Vec::new();
    for (index, raw) in contents.lines().enumerate() {
        let line = index + 1;
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let Some((name, command)) = text.split_once(':') else {
            return Err(ProcfileError::NotAProcess {
                line,
                text: text.to_string(),
            });
        };
        let (name, command) = (name.trim(), command.trim());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(ProcfileError::InvalidName {
                line,
                name: name.to_string(),
            });
        }
        if command.is_empty() {
            return Err(ProcfileError::EmptyCommand {
                line,
                name: name.to_string(),
            });
        }
        if processes.iter().any(|p| p.name == name) {
            return Err(ProcfileError::Duplicate {
                line,
                name: name.to_string(),
            });
        }
        processes.push(Process {
            name: name.to_string(),
            command: command.to_string(),
        });
    }
    Ok(processes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_processes() {
        let processes =
            parse("# processes\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n\n worker : python -m worker \n")
                .unwrap();
        assert_eq!(
            processes,
            [
                Process {
                    name: "web".into(),
                    command: "gunicorn app:app --bind 0.0.0.0:$PORT".into()
                },
                Process {
                    name: "worker".into(),
                    command: "python -m worker".into()
                }
            ]
        );
    }

    #[test]
    fn command_may_contain_colons() {
        assert_eq!(
            parse("web: uvicorn app:main --host 0.0.0.0").unwrap()[0].command,
            "uvicorn app:main --host 0.0.0.0"
        );
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            parse("web: ok\nthis is not a process\n"),
            Err(ProcfileError::NotAProcess {
                line: 2,
                text: "this is not a process".into()
            })
        );
        assert_eq!(
            parse("my web: x"),
            Err(ProcfileError::InvalidName {
                line: 1,
                name: "my web".into()
            })
        );
        assert_eq!(
            parse("web:   "),
            Err(ProcfileError::EmptyCommand {
                line: 1,
                name: "web".into()
            })
        );
        assert_eq!(
            parse("web: a\nweb: b"),
            Err(ProcfileError::Duplicate {
                line: 2,
                name: "web".into()
            })
        );
    }

    #[test]
    fn empty_procfile_has_no_processes() {
        assert_eq!(parse("# nothing yet\n"), Ok(vec![]));
    }
}
