//! The check that every declared process can start: the program its command runs must be on
//! the launch `PATH` (the `bin` directories of the launch layers, then the system directories)
//! or be a file in the app. A build that would give an image whose process can't start fails
//! instead.

use std::path::{Path, PathBuf};

/// The system directories of the run image's `PATH`. The check looks for them in the build
/// image, which has at least what the run image has.
pub(crate) const SYSTEM_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Shell words the check can't follow to a program (builtins and keywords); a command that
/// starts with one is not checked.
const SHELL_WORDS: &[&str] = &[
    ".", ":", "[", "[[", "{", "(", "!", "alias", "case", "cd", "command", "echo", "eval", "exit",
    "export", "for", "if", "printf", "read", "set", "source", "test", "trap", "true", "ulimit",
    "umask", "unset", "until", "wait", "while",
];

/// The program a shell command runs first: the first word after `VAR=value` assignments and an
/// `exec`, unquoted. `None` when it starts with a shell builtin or keyword.
pub(crate) fn first_program(command: &str) -> Option<String> {
    // `cd <dir> && <command>`: the program is the command's.
    if let Some(rest) = command.trim_start().strip_prefix("cd ") {
        return first_program(rest.split_once("&&")?.1);
    }
    let mut words = shell_words(command).into_iter().peekable();
    while let Some(word) = words.peek() {
        let is_assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        });
        if is_assignment || word == "exec" {
            words.next();
        } else {
            break;
        }
    }
    let word = words.next()?;
    if SHELL_WORDS.contains(&word.as_str()) || word.contains('$') || word.contains('`') {
        return None;
    }
    Some(word)
}

/// Splits off words on whitespace, honouring single and double quotes; stops at the first
/// `;`, `&`, `|` outside quotes (only the first program matters).
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, ';' | '&' | '|') => break,
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// What the launch `PATH` holds: `bin` directories, and the programs of launch layers kept
/// from the previous image by metadata alone (their directories don't exist during the build;
/// their metadata lists their programs).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LaunchPath {
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) kept_programs: Vec<String>,
}

/// Whether `program` starts: found as an executable file in the path's directories or among
/// its kept programs, or, when it holds a `/`, a file at that path (relative paths are inside
/// the app).
pub(crate) fn resolves(program: &str, path: &LaunchPath, app_dir: &Path) -> bool {
    if program.contains('/') {
        let path = Path::new(program);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            app_dir.join(path)
        };
        return path.is_file();
    }
    path.kept_programs.iter().any(|kept| kept == program)
        || path
            .dirs
            .iter()
            .any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `bin` directories of the launch layers under the lifecycle's layers root (every
/// buildpack's layers), as the launcher puts them on `PATH`, and the programs of those kept
/// by metadata alone.
pub(crate) fn launch_path(layers_root: &Path) -> LaunchPath {
    let mut found = LaunchPath::default();
    let Ok(buildpacks) = std::fs::read_dir(layers_root) else {
        return found;
    };
    let mut buildpacks: Vec<PathBuf> = buildpacks
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    buildpacks.sort();
    for buildpack in buildpacks.iter().filter(|p| p.is_dir()) {
        let Ok(entries) = std::fs::read_dir(buildpack) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let launch = toml::from_str::<toml::Table>(&text)
                .ok()
                .and_then(|t| t.get("types")?.get("launch")?.as_bool())
                .unwrap_or(false);
            let layer = path.with_extension("");
            if !launch {
                continue;
            }
            if layer.is_dir() {
                let bin = layer.join("bin");
                if bin.is_dir() {
                    found.dirs.push(bin);
                }
            } else if let Some(programs) = luban_common::cache::kept_programs(&text) {
                found.kept_programs.extend(programs);
            }
        }
    }
    found
}

/// The package that usually provides a program, for the hint of a missing one.
pub(crate) fn package_for(program: &str) -> Option<&'static str> {
    Some(match program {
        "gunicorn" => "gunicorn",
        "uvicorn" => "uvicorn",
        "fastapi" => "fastapi[standard]",
        "daphne" => "daphne",
        "hypercorn" => "hypercorn",
        "granian" => "granian",
        "celery" => "celery",
        "flask" => "flask",
        "waitress-serve" => "waitress",
        "streamlit" => "streamlit",
        "django-admin" => "django",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_program_skips_assignments_and_exec() {
        assert_eq!(
            first_program("gunicorn app:app --bind 0.0.0.0:$PORT").as_deref(),
            Some("gunicorn")
        );
        assert_eq!(
            first_program("FOO=1 BAR='a b' exec uvicorn main:app").as_deref(),
            Some("uvicorn")
        );
        assert_eq!(
            first_program("'./bin/start server'").as_deref(),
            Some("./bin/start server")
        );
        assert_eq!(
            first_program("python manage.py migrate && gunicorn x").as_deref(),
            Some("python")
        );
        assert_eq!(
            first_program("cd backend && fastapi run").as_deref(),
            Some("fastapi")
        );
        assert_eq!(first_program("cd backend; fastapi run"), None);
        assert_eq!(first_program("$SERVER --port 1"), None);
        assert_eq!(first_program("   "), None);
    }

    #[test]
    fn resolves_on_path_or_in_the_app() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("venv/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("gunicorn"), "").unwrap();
        std::fs::set_permissions(bin.join("gunicorn"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(bin.join("not-executable"), "").unwrap();
        let app = dir.path().join("app");
        std::fs::create_dir_all(app.join("bin")).unwrap();
        std::fs::write(app.join("bin/start"), "").unwrap();

        let path = LaunchPath {
            dirs: vec![bin],
            kept_programs: vec!["granian".into()],
        };
        assert!(resolves("gunicorn", &path, &app));
        assert!(resolves("granian", &path, &app));
        assert!(!resolves("uvicorn", &path, &app));
        assert!(!resolves("not-executable", &path, &app));
        assert!(resolves("./bin/start", &path, &app));
        assert!(resolves("bin/start", &path, &app));
        assert!(!resolves("bin/stop", &path, &app));
    }

    #[test]
    fn launch_layers_only() {
        let root = tempfile::tempdir().unwrap();
        let bp = root.path().join("luban_python-uv");
        for (layer, launch) in [("venv", true), ("uv-cache", false)] {
            std::fs::create_dir_all(bp.join(layer).join("bin")).unwrap();
            std::fs::write(
                bp.join(format!("{layer}.toml")),
                format!("[types]\nlaunch = {launch}\n"),
            )
            .unwrap();
        }
        // A launch layer kept from the previous image: metadata, no directory.
        std::fs::write(
            bp.join("kept.toml"),
            "[types]\nlaunch = true\n[metadata]\nprograms = [\"gunicorn\", \"python\"]\n[metadata.key]\nlock = \"a\"\n",
        )
        .unwrap();
        assert_eq!(
            launch_path(root.path()),
            LaunchPath {
                dirs: vec![bp.join("venv/bin")],
                kept_programs: vec!["gunicorn".into(), "python".into()],
            }
        );
    }
}
