//! The paths an app writes at run time, made writable for the run user while its code stays
//! read-only.
//!
//! Where they come from ([`plan`], pure over the app's files):
//! - the app's `.gitignore`: a directory it names whose name is a conventional run-time data
//!   directory ([`DATA_DIRS`]: `data/`, `media/`, `uploads/`, `logs/`, `instance/`, …), and a
//!   file it names literally whose name is a data file ([`DATA_FILE_SUFFIXES`]: `*.db`,
//!   `*.sqlite3`, … and `.sesskey`);
//! - Django's settings: a `SQLite` database file under `BASE_DIR`;
//! - `BP_WRITABLE_PATHS`.
//!
//! How ([`apply`]): a directory is created if missing and made group-writable (the run user
//! shares the build user's group), unless it holds Python code. A file gets a group-writable
//! home in [`STORE`] (a directory only such files live in, so `SQLite` can put its journal next to
//! the database) and a relative symlink at its own path; a file the app ships is moved there.
//! The directories that hold the app's code never become writable.

use luban_common::settings::WritablePath;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

/// Directory names that hold what an app writes at run time, when its `.gitignore` names them.
pub const DATA_DIRS: &[&str] = &[
    "data", "db", "instance", "log", "logs", "media", "storage", "tmp", "upload", "uploads", "var",
];

/// File names (by their end) that are run-time data, when the `.gitignore` names them.
pub const DATA_FILE_SUFFIXES: &[&str] = &[".db", ".sqlite", ".sqlite3", ".sesskey"];

/// `SQLite` database file names (by their end), in Django's settings.
const SQLITE_SUFFIXES: &[&str] = &[".db", ".sqlite", ".sqlite3"];

/// Where files the app writes live: one group-writable directory of the app, mirroring their
/// paths.
pub const STORE: &str = ".luban/writable";

/// File extensions that make a directory code, which stays read-only.
const CODE_SUFFIXES: &[&str] = &[".py", ".pyc", ".pth", ".so"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The `.gitignore` line (1-based).
    Gitignore(usize),
    /// The Django settings file that names the database.
    Django(String),
    Setting,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writable {
    /// Relative to the app directory, `/`-separated.
    pub path: String,
    /// A directory; else a file.
    pub directory: bool,
    pub origin: Origin,
}

/// The writable paths of an app, from its `.gitignore`, its Django settings and the setting.
/// `read` reads a file relative to the app directory. Each path appears once, the setting's
/// first (so `BP_WRITABLE_PATHS=x/` can make a directory of what `.gitignore` would make a file).
#[must_use]
pub fn plan(setting: &[WritablePath], read: &dyn Fn(&str) -> Option<String>) -> Vec<Writable> {
    let mut all: Vec<Writable> = setting
        .iter()
        .map(|p| Writable {
            path: p.path.clone(),
            directory: p.directory,
            origin: Origin::Setting,
        })
        .collect();
    if let Some(gitignore) = read(".gitignore") {
        all.extend(from_gitignore(&gitignore));
    }
    all.extend(from_django(read));
    let mut unique: Vec<Writable> = Vec::new();
    for writable in all {
        if !unique.iter().any(|w| w.path == writable.path) {
            unique.push(writable);
        }
    }
    unique
}

/// The run-time data paths a `.gitignore` names (at the app's root: a pattern without a `/`
/// matches at any depth in Git, but the app's working directory is its root).
#[must_use]
pub fn from_gitignore(text: &str) -> Vec<Writable> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', '!']) || line.contains('\\') {
            continue;
        }
        let pattern = line.trim_start_matches('/');
        let parts: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
        {
            continue;
        }
        let origin = Origin::Gitignore(index + 1);
        // `data/`, `data`, `data/*.db`, `/media/**`: the directory.
        if DATA_DIRS.contains(&parts[0]) {
            found.push(Writable {
                path: parts[0].to_string(),
                directory: true,
                origin,
            });
            continue;
        }
        // `db.sqlite3`, `instance/app.db`, `.sesskey`: that file, when the name is literal.
        let literal = !pattern.contains(['*', '?', '[']) && !line.ends_with('/');
        let name = parts[parts.len() - 1];
        if literal && DATA_FILE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            found.push(Writable {
                path: parts.join("/"),
                directory: false,
                origin,
            });
        }
    }
    found
}

/// A Django project's `SQLite` database file when its settings put it under `BASE_DIR` (the
/// directory of `manage.py`, the app's root): any settings line that joins `BASE_DIR` with a
/// literal name of a data file, as `'NAME': BASE_DIR / 'db.sqlite3'`,
/// `os.path.join(BASE_DIR, 'db.sqlite3')` and `f"sqlite:///{BASE_DIR / 'db.sqlite3'}"` do.
#[must_use]
pub fn from_django(read: &dyn Fn(&str) -> Option<String>) -> Vec<Writable> {
    let Some(module) = read("manage.py").and_then(|m| luban_common::django::settings_module(&m))
    else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for file in luban_common::django::settings_files(&module) {
        let Some(source) = read(&file) else {
            continue;
        };
        for line in source.lines().filter(|l| l.contains("BASE_DIR")) {
            let Some(name) = string_literals(line)
                .into_iter()
                .rev()
                .find(|s| SQLITE_SUFFIXES.iter().any(|suffix| s.ends_with(suffix)))
            else {
                continue;
            };
            let name = name.trim_start_matches('/');
            let safe = !name.is_empty()
                && name
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != "..");
            if safe && !found.iter().any(|w: &Writable| w.path == name) {
                found.push(Writable {
                    path: name.to_string(),
                    directory: false,
                    origin: Origin::Django(file.clone()),
                });
            }
        }
    }
    found
}

/// The contents of the quoted strings of a line of Python (no escapes), for each kind of quote
/// on its own, so a name quoted inside an f-string of the other kind is found too.
fn string_literals(line: &str) -> Vec<&str> {
    let mut literals = Vec::new();
    for quote in ['"', '\''] {
        let mut parts = line.split(quote);
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.clone().next()) {
            literals.push(inside);
            parts.next();
        }
    }
    literals
}

/// What [`apply`] did with one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Made,
    /// Left as it was, and why (for the build log).
    Skipped(Skip),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A component of the path is a symlink: it could point out of the app.
    Symlink(String),
    /// The directory holds Python code (the first such file).
    HoldsCode(String),
    /// A directory was asked for where a file is, or the other way round.
    WrongKind,
}

/// Makes each path writable for the run user (see the module's description), after the app
/// has been made read-only. Returns what happened to each.
///
/// # Errors
/// When a directory or file can't be created, moved or have its permissions changed.
pub fn apply(app_dir: &Path, paths: &[Writable]) -> std::io::Result<Vec<(Writable, Outcome)>> {
    let mut outcomes = Vec::new();
    for writable in paths {
        // A directory the setting names without its trailing `/` is still a directory.
        let named_directory = writable.origin == Origin::Setting
            && std::fs::symlink_metadata(app_dir.join(&writable.path)).is_ok_and(|m| m.is_dir());
        let outcome = if writable.directory || named_directory {
            make_directory_writable(app_dir, &writable.path)?
        } else {
            make_file_writable(app_dir, &writable.path)?
        };
        outcomes.push((writable.clone(), outcome));
    }
    Ok(outcomes)
}

/// The first component of `relative` (joined to `app_dir`) that is a symlink, if any.
fn symlink_in(app_dir: &Path, relative: &str) -> Option<String> {
    let mut path = app_dir.to_path_buf();
    for component in Path::new(relative).components() {
        let Component::Normal(part) = component else {
            return Some(relative.to_string());
        };
        path.push(part);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(
                path.strip_prefix(app_dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    }
    None
}

/// Creates `relative`'s missing parent directories under `app_dir` with `mode`.
fn create_dirs(app_dir: &Path, relative: &Path, mode: u32) -> std::io::Result<()> {
    let mut path = app_dir.to_path_buf();
    for component in relative.components() {
        path.push(component);
        if std::fs::symlink_metadata(&path).is_err() {
            std::fs::create_dir(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

fn add_group_write(path: &Path) -> std::io::Result<()> {
    let mode = std::fs::symlink_metadata(path)?.permissions().mode() & 0o7777;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o020))
}

/// The first Python code file under `dir` (symlinks not followed).
fn code_in(dir: &Path) -> std::io::Result<Option<String>> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if kind.is_dir() {
            if let Some(found) = code_in(&entry.path())? {
                return Ok(Some(format!("{name}/{found}")));
            }
        } else if CODE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

fn make_directory_writable(app_dir: &Path, relative: &str) -> std::io::Result<Outcome> {
    if let Some(link) = symlink_in(app_dir, relative) {
        return Ok(Outcome::Skipped(Skip::Symlink(link)));
    }
    let dir = app_dir.join(relative);
    match std::fs::symlink_metadata(&dir) {
        Ok(metadata) if !metadata.is_dir() => return Ok(Outcome::Skipped(Skip::WrongKind)),
        Ok(_) => {
            if let Some(code) = code_in(&dir)? {
                return Ok(Outcome::Skipped(Skip::HoldsCode(format!(
                    "{relative}/{code}"
                ))));
            }
        }
        Err(_) => create_dirs(app_dir, Path::new(relative), 0o755)?,
    }
    // The directory and everything in it (no code, no symlinks followed).
    crate::change_modes(&dir, &|mode| mode | 0o020)?;
    Ok(Outcome::Made)
}

fn make_file_writable(app_dir: &Path, relative: &str) -> std::io::Result<Outcome> {
    if let Some(link) = symlink_in(app_dir, relative) {
        return Ok(Outcome::Skipped(Skip::Symlink(link)));
    }
    if let Some(link) = symlink_in(app_dir, STORE) {
        return Ok(Outcome::Skipped(Skip::Symlink(link)));
    }
    if CODE_SUFFIXES.iter().any(|s| relative.ends_with(s)) {
        return Ok(Outcome::Skipped(Skip::HoldsCode(relative.to_string())));
    }
    let path = app_dir.join(relative);
    let existing = std::fs::symlink_metadata(&path).ok();
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        return Ok(Outcome::Skipped(Skip::WrongKind));
    }
    let relative = Path::new(relative);
    let parent = relative.parent().unwrap_or(Path::new(""));
    // The store and the directory the file lives in there are the run user's to write.
    create_dirs(app_dir, Path::new(".luban"), 0o755)?;
    create_dirs(app_dir, &Path::new(STORE).join(parent), 0o775)?;
    let mut store_dir = app_dir.join(STORE);
    add_group_write(&store_dir)?;
    for component in parent.components() {
        store_dir.push(component);
        add_group_write(&store_dir)?;
    }
    let stored = app_dir.join(STORE).join(relative);
    if existing.is_some() {
        std::fs::rename(&path, &stored)?;
        add_group_write(&stored)?;
    }
    create_dirs(app_dir, parent, 0o755)?;
    // Relative, so the image works wherever the platform puts the app.
    let up = "../".repeat(parent.components().count());
    std::os::unix::fs::symlink(format!("{up}{STORE}/{}", relative.display()), &path)?;
    Ok(Outcome::Made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn read_from(files: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |path| files.get(path).cloned()
    }

    fn paths(found: &[Writable]) -> Vec<String> {
        found
            .iter()
            .map(|w| format!("{}{}", w.path, if w.directory { "/" } else { "" }))
            .collect()
    }

    #[test]
    fn gitignore_names_data_directories_and_files() {
        let gitignore = "# data\n/data/*.db\nmedia/\nlogs\n*.log\n.sesskey\ndb.sqlite3\ninstance/app.db\n\
                         !data/keep\n**/uploads/\n.venv/\n__pycache__/\nsrc/*.db\nstatic/\n../x.db\nnotes.txt\n";
        let found = from_gitignore(gitignore);
        assert_eq!(
            paths(&found),
            [
                "data/",
                "media/",
                "logs/",
                ".sesskey",
                "db.sqlite3",
                "instance/"
            ]
        );
        assert_eq!(found[0].origin, Origin::Gitignore(2));
    }

    const MANAGE_PY: &str = "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')";

    #[test]
    fn django_sqlite_database_under_base_dir() {
        let read = read_from(&[
            ("manage.py", MANAGE_PY),
            (
                "mysite/settings.py",
                "BASE_DIR = Path(__file__).resolve().parent.parent\nDATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.sqlite3',\n        'NAME': BASE_DIR / 'db.sqlite3',\n    }\n}\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\n",
            ),
        ]);
        let found = from_django(&read);
        assert_eq!(paths(&found), ["db.sqlite3"]);
        assert_eq!(found[0].origin, Origin::Django("mysite/settings.py".into()));

        // os.path.join, dj-database-url, and cookiecutter's split settings.
        let read = read_from(&[
            (
                "manage.py",
                "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.local')",
            ),
            (
                "config/settings/base.py",
                "'NAME': os.path.join(BASE_DIR, \"var/app.sqlite3\"),\nDATABASES = {'default': env.db('DATABASE_URL', default=f\"sqlite:///{BASE_DIR / 'other.db'}\")}\nLOG = BASE_DIR / '../../etc/x.db'\n",
            ),
        ]);
        assert_eq!(paths(&from_django(&read)), ["var/app.sqlite3", "other.db"]);

        // Not Django, or a database elsewhere: nothing.
        assert!(
            from_django(&read_from(&[(
                "mysite/settings.py",
                "BASE_DIR / 'db.sqlite3'"
            )]))
            .is_empty()
        );
        let postgres = read_from(&[
            ("manage.py", MANAGE_PY),
            (
                "mysite/settings.py",
                "'NAME': 'app',\nBASE_DIR = Path('.')\n",
            ),
        ]);
        assert!(from_django(&postgres).is_empty());
    }

    #[test]
    fn the_setting_comes_first_and_each_path_once() {
        let read = read_from(&[(".gitignore", "data/\n.sesskey\n")]);
        let setting = [WritablePath {
            path: ".sesskey".into(),
            directory: true,
        }];
        let found = plan(&setting, &read);
        assert_eq!(paths(&found), [".sesskey/", "data/"]);
        assert_eq!(found[0].origin, Origin::Setting);
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    fn writable(path: &str, directory: bool) -> Writable {
        Writable {
            path: path.into(),
            directory,
            origin: Origin::Setting,
        }
    }

    #[test]
    fn directories_become_group_writable_unless_they_hold_code() {
        let app = tempfile::tempdir().unwrap();
        let app = app.path();
        std::fs::create_dir_all(app.join("media/avatars")).unwrap();
        std::fs::write(app.join("media/avatars/a.png"), "png").unwrap();
        std::fs::create_dir_all(app.join("lib")).unwrap();
        std::fs::write(app.join("lib/x.py"), "").unwrap();
        std::os::unix::fs::symlink("/etc", app.join("logs")).unwrap();
        std::fs::write(app.join("data"), "a file").unwrap();

        std::fs::create_dir(app.join("cache")).unwrap();
        let outcomes = apply(
            app,
            &[
                writable("cache", false),
                writable("media", true),
                writable("uploads/new", true),
                writable("lib", true),
                writable("logs", true),
                writable("data", true),
            ],
        )
        .unwrap();
        let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, o)| o).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Made,
                Outcome::Made,
                Outcome::Made,
                Outcome::Skipped(Skip::HoldsCode("lib/x.py".into())),
                Outcome::Skipped(Skip::Symlink("logs".into())),
                Outcome::Skipped(Skip::WrongKind),
            ]
        );
        assert_eq!(mode(&app.join("cache")) & 0o020, 0o020);
        assert_eq!(mode(&app.join("media")) & 0o020, 0o020);
        assert_eq!(mode(&app.join("media/avatars/a.png")) & 0o020, 0o020);
        assert_eq!(mode(&app.join("uploads")), 0o755);
        assert_eq!(mode(&app.join("uploads/new")), 0o775);
        assert_eq!(mode(&app.join("lib")) & 0o020, 0);
    }

    #[test]
    fn files_live_in_the_store_behind_a_relative_symlink() {
        let app = tempfile::tempdir().unwrap();
        let app = app.path();
        std::fs::write(app.join("seed.db"), "rows").unwrap();
        std::fs::set_permissions(app, std::fs::Permissions::from_mode(0o755)).unwrap();

        let outcomes = apply(
            app,
            &[
                writable("seed.db", false),
                writable("instance/app.db", false),
                writable(".sesskey", false),
            ],
        )
        .unwrap();
        assert!(
            outcomes.iter().all(|(_, o)| *o == Outcome::Made),
            "{outcomes:?}"
        );

        // A shipped file keeps its contents, reached through the link.
        assert_eq!(
            std::fs::read_link(app.join("seed.db")).unwrap(),
            Path::new(".luban/writable/seed.db")
        );
        assert_eq!(
            std::fs::read_to_string(app.join("seed.db")).unwrap(),
            "rows"
        );
        assert_eq!(mode(&app.join(".luban/writable/seed.db")) & 0o020, 0o020);
        // A missing one: a link to where it will be, in a directory the run user may write.
        assert_eq!(
            std::fs::read_link(app.join("instance/app.db")).unwrap(),
            Path::new("../.luban/writable/instance/app.db")
        );
        assert_eq!(mode(&app.join(".luban/writable/instance")), 0o775);
        assert_eq!(mode(&app.join(".luban/writable")), 0o775);
        assert_eq!(mode(&app.join(".luban")), 0o755);
        // The app's own directories stay as they were.
        assert_eq!(mode(app), 0o755);
        assert_eq!(mode(&app.join("instance")), 0o755);
        std::fs::write(app.join(".sesskey"), "key").unwrap();
        assert_eq!(
            std::fs::read_to_string(app.join(".luban/writable/.sesskey")).unwrap(),
            "key"
        );
    }

    #[test]
    fn code_files_stay_read_only() {
        let app = tempfile::tempdir().unwrap();
        let outcomes = apply(app.path(), &[writable("main.py", false)]).unwrap();
        assert_eq!(
            outcomes[0].1,
            Outcome::Skipped(Skip::HoldsCode("main.py".into()))
        );
    }

    #[test]
    fn a_symlinked_path_or_store_is_left_alone() {
        let outside = tempfile::tempdir().unwrap();
        let app = tempfile::tempdir().unwrap();
        let app = app.path();
        std::os::unix::fs::symlink(outside.path(), app.join("instance")).unwrap();
        std::os::unix::fs::symlink(outside.path(), app.join(".luban")).unwrap();
        let outcomes = apply(
            app,
            &[
                writable("instance/app.db", false),
                writable("db.sqlite3", false),
            ],
        )
        .unwrap();
        assert_eq!(
            outcomes.into_iter().map(|(_, o)| o).collect::<Vec<_>>(),
            [
                Outcome::Skipped(Skip::Symlink("instance".into())),
                Outcome::Skipped(Skip::Symlink(".luban".into()))
            ]
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
