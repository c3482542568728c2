//! What the process detection needs to know of the app: the packages that will be installed,
//! the directories of the installed projects and their scripts. Read from `uv.lock`,
//! `pyproject.toml` (and the members') or `requirements.txt`, with the same selection
//! (`BP_UV_PACKAGE`, `BP_UV_GROUPS`, `BP_UV_EXTRAS`) as luban/python-uv.

use crate::detect::ProjectDir;
use libcnb::Env;
use luban_common::app_file;
use luban_common::settings::Settings;
use luban_common::uv_project::{self, Lock, normalize};
use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

/// Reads a file of the app for detection: what can't be read safely (a symlink out of the
/// app, not a regular file, too large) is as good as absent.
pub(crate) fn read_app_file(app_dir: &Path, relative: &str) -> Option<String> {
    let limit = if relative.ends_with("uv.lock") {
        app_file::LOCK_FILE_LIMIT
    } else {
        app_file::TEXT_FILE_LIMIT
    };
    app_file::read(app_dir, relative, limit).ok().flatten()
}

#[derive(Debug, Default)]
pub(crate) struct AppFiles {
    pub(crate) installed: BTreeSet<String>,
    pub(crate) projects: Vec<ProjectDir>,
    pub(crate) scripts: Vec<String>,
}

fn toml_table(text: &str) -> Option<toml::Table> {
    toml::from_str(text).ok()
}

/// Whether uv installs this project as a package (so its scripts exist): it has a
/// `[build-system]`, or `[tool.uv] package = true`; `package = false` wins.
fn is_packaged(pyproject: &toml::Table) -> bool {
    let package = pyproject
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|uv| uv.get("package"))
        .and_then(toml::Value::as_bool);
    package.unwrap_or_else(|| pyproject.contains_key("build-system"))
}

impl AppFiles {
    pub(crate) fn read(app_dir: &Path, env: &Env) -> Self {
        let read = |relative: &str| read_app_file(app_dir, relative);
        let mut files = AppFiles {
            projects: vec![ProjectDir {
                dir: String::new(),
                name: None,
                packages: top_level_packages(app_dir, ""),
            }],
            ..AppFiles::default()
        };
        let lock = read("uv.lock").and_then(|text| Lock::parse(&text).ok());
        let pyproject = read("pyproject.toml").and_then(|text| toml_table(&text));
        if let (Some(lock), Some(pyproject)) = (lock, pyproject) {
            // Parsed as luban/python-uv parses them; settings it refuses fail its build first.
            let settings = Settings::from_env(env).unwrap_or_default();
            let selection = uv_project::selection(&pyproject, settings.package.as_deref());
            files.installed = lock
                .installed(&selection, &settings.groups, &settings.extras)
                .iter()
                .map(|p| normalize(&p.name))
                .collect();
            for member in lock.check_selection(&selection).unwrap_or_default() {
                let dir = member
                    .dir
                    .to_string_lossy()
                    .trim_start_matches("./")
                    .to_string();
                let dir = if dir == "." { String::new() } else { dir };
                let member_pyproject = if dir.is_empty() {
                    Some(pyproject.clone())
                } else {
                    read(&format!("{dir}/pyproject.toml")).and_then(|text| toml_table(&text))
                };
                if let Some(member_pyproject) = member_pyproject
                    && is_packaged(&member_pyproject)
                {
                    files
                        .scripts
                        .extend(uv_project::script_names(&member_pyproject));
                }
                if let Some(known) = files.projects.iter_mut().find(|p| p.dir == dir) {
                    known.name = Some(member.name.clone());
                } else {
                    files.projects.push(ProjectDir {
                        packages: top_level_packages(app_dir, &dir),
                        dir,
                        name: Some(member.name.clone()),
                    });
                }
            }
        } else if let Some(requirements) = read("requirements.txt") {
            files.installed = requirement_names(&requirements);
        }
        files
    }
}

/// Directories that are never where an app is defined.
const NOT_APP_PACKAGES: &[&str] = &["tests", "test", "docs", "migrations", "scripts"];

/// The Python packages at the top of a project directory (`dir`, relative to the app, `""`
/// for its root) and of its `src/`: real directories (not symlinks) with an `__init__.py`,
/// named as Python identifiers, sorted.
pub(crate) fn top_level_packages(app_dir: &Path, dir: &str) -> Vec<String> {
    let mut packages = Vec::new();
    for root in [dir.to_string(), crate::detect::join(dir, "src")] {
        let Ok(entries) = std::fs::read_dir(app_dir.join(&root)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !NOT_APP_PACKAGES.contains(&name.as_str())
            })
            .filter(|name| {
                std::fs::symlink_metadata(app_dir.join(&root).join(name).join("__init__.py"))
                    .is_ok_and(|m| m.is_file())
            })
            .collect();
        names.sort();
        packages.extend(
            names
                .into_iter()
                .map(|name| crate::detect::join(&root, &name)),
        );
    }
    packages
}

/// The package names of a `requirements.txt` (options, includes and unparsable lines skipped).
pub(crate) fn requirement_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|line| line.split(" #").next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('-'))
        .filter_map(|line| {
            pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(line)
                .ok()
                .map(|r| normalize(r.name.as_ref()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use luban_test_support::app_dir as app;

    #[test]
    fn requirements_names() {
        assert_eq!(
            requirement_names(
                "Flask==3.0 # web\n-r base.txt\ngunicorn[gevent]>=23\n\n# c\nuvicorn ; python_version > '3.8'\n"
            ),
            ["flask", "gunicorn", "uvicorn"]
                .iter()
                .map(ToString::to_string)
                .collect()
        );
    }

    const WORKSPACE: &str = "[tool.uv.workspace]\nmembers = [\"apps/*\", \"libs/*\"]\n";
    const LOCK: &str = r#"version = 1
[manifest]
members = ["api", "tool"]

[[package]]
name = "api"
version = "0.1.0"
source = { editable = "apps/api" }
dependencies = [{ name = "uvicorn" }]

[[package]]
name = "tool"
version = "0.1.0"
source = { editable = "libs/tool" }

[[package]]
name = "uvicorn"
version = "0.30.0"
source = { registry = "https://pypi.org/simple" }
"#;

    #[test]
    fn workspace_members_dirs_scripts_and_packages() {
        let dir = app(&[
            ("pyproject.toml", WORKSPACE),
            ("uv.lock", LOCK),
            (
                "apps/api/pyproject.toml",
                "[project]\nname = \"api\"\n[project.scripts]\napi-admin = \"api:admin\"\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
            ),
            (
                "libs/tool/pyproject.toml",
                "[project]\nname = \"tool\"\n[project.scripts]\nnot-installed = \"tool:main\"\n",
            ),
        ]);
        let files = AppFiles::read(dir.path(), &Env::new());
        let dirs: Vec<&str> = files.projects.iter().map(|p| p.dir.as_str()).collect();
        assert_eq!(dirs, ["", "apps/api", "libs/tool"]);
        assert_eq!(files.projects[1].name.as_deref(), Some("api"));
        assert_eq!(files.scripts, ["api-admin"]);
        assert!(files.installed.contains("uvicorn"));

        // With spaces around it, as luban/python-uv reads it: the same member.
        let mut env = Env::new();
        env.insert("BP_UV_PACKAGE", " tool ");
        let files = AppFiles::read(dir.path(), &env);
        let dirs: Vec<&str> = files.projects.iter().map(|p| p.dir.as_str()).collect();
        assert_eq!(dirs, ["", "libs/tool"]);
        assert!(!files.installed.contains("uvicorn"));
    }

    #[test]
    fn symlinks_and_large_files_are_not_read() {
        let dir = app(&[("real.py", "app = 1\n")]);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("main.py")).unwrap();
        assert_eq!(read_app_file(dir.path(), "main.py"), None);
        assert_eq!(
            read_app_file(dir.path(), "real.py").as_deref(),
            Some("app = 1\n")
        );
        std::fs::write(
            dir.path().join("big.py"),
            vec![b'#'; usize::try_from(app_file::TEXT_FILE_LIMIT).unwrap() + 1],
        )
        .unwrap();
        assert_eq!(read_app_file(dir.path(), "big.py"), None);
    }
}
