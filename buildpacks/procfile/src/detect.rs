//! Start commands for apps without a `Procfile`, from what the project shows: the packages that
//! will be installed and a few well-known files. Pure: the app's files come in through `read`.
//!
//! The first match wins for the `web` process:
//! 1. `FastAPI` with `fastapi-cli` installed: `[tool.fastapi] entrypoint`, or an `app` in
//!    `main.py`, `app.py` or `app/main.py` → `fastapi run`.
//! 2. Django (`manage.py` and `django`): gunicorn on the project's WSGI module, or uvicorn on
//!    its ASGI module when only uvicorn is installed.
//! 3. Another ASGI or WSGI app (`app` or `application` in `main.py`, `app.py`, `wsgi.py`,
//!    `asgi.py`) → uvicorn (ASGI) or gunicorn (WSGI).
//! 4. A Streamlit app (`streamlit` installed, a file that imports it) → `streamlit run`.
//!
//! Each `[project.scripts]` entry of the installed projects becomes a process of its own name.

use std::collections::BTreeSet;

/// Where the detected web process listens when `PORT` is unset.
pub(crate) const DEFAULT_PORT: u16 = 8080;

/// What the detection sees of the app.
pub(crate) struct Inputs<'a> {
    /// Normalized names of the packages that will be installed.
    pub(crate) installed: &'a BTreeSet<String>,
    /// The installed projects, the app's root first.
    pub(crate) projects: &'a [ProjectDir],
    /// The `[project.scripts]` names that will be installed.
    pub(crate) scripts: &'a [String],
    /// Reads a file relative to the app directory.
    pub(crate) read: &'a dyn Fn(&str) -> Option<String>,
}

/// A project of the app: its directory relative to the app (`""` for the root) and its
/// normalized name, when it has one (a virtual workspace root has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectDir {
    pub(crate) dir: String,
    pub(crate) name: Option<String>,
    /// The project's top-level Python packages, relative to the app (`src/shop`, `shop`),
    /// whatever their names.
    pub(crate) packages: Vec<String>,
}

/// A file that may define the app, and the directory its module path starts from.
struct Candidate {
    path: String,
    root: String,
}

impl Candidate {
    /// The dotted module of the file (`pkg.main`, `pkg` for `pkg/__init__.py`).
    fn module(&self) -> String {
        let relative = if self.root.is_empty() {
            self.path.as_str()
        } else {
            self.path
                .strip_prefix(&format!("{}/", self.root))
                .unwrap_or(&self.path)
        };
        let module = relative.trim_end_matches(".py").replace('/', ".");
        module
            .strip_suffix(".__init__")
            .map_or(module.clone(), str::to_string)
    }
}

/// The files that may define the app in a project, in the order they are tried: the
/// conventional top-level files, then the project's own package (`src/<name>/` or `<name>/`).
fn candidates(project: &ProjectDir, top_level: &[&str]) -> Vec<Candidate> {
    let dir = project.dir.as_str();
    let mut files: Vec<Candidate> = top_level
        .iter()
        .map(|file| Candidate {
            path: join(dir, file),
            root: dir.to_string(),
        })
        .collect();
    if let Some(name) = &project.name {
        let package = name.replace('-', "_");
        for (root, file) in [
            (join(dir, "src"), "main.py"),
            (join(dir, "src"), "app.py"),
            (join(dir, "src"), "__init__.py"),
            (dir.to_string(), "main.py"),
            (dir.to_string(), "app.py"),
            (dir.to_string(), "__init__.py"),
        ] {
            files.push(Candidate {
                path: join(&join(&root, &package), file),
                root,
            });
        }
    }
    // Then every other package of the project: an app re-exported by `<pkg>/__init__.py`, or
    // defined in its `app.py`, `main.py`, `wsgi.py` or `asgi.py`.
    for package in &project.packages {
        let root = package
            .rsplit_once('/')
            .map_or(String::new(), |(root, _)| root.to_string());
        for file in ["__init__.py", "app.py", "main.py", "wsgi.py", "asgi.py"] {
            let path = join(package, file);
            if !files.iter().any(|c| c.path == path) {
                files.push(Candidate {
                    path,
                    root: root.clone(),
                });
            }
        }
    }
    files
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DetectedProcess {
    pub(crate) name: String,
    pub(crate) command: String,
    /// Why this command, for the build log.
    pub(crate) reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Detection {
    pub(crate) processes: Vec<DetectedProcess>,
    /// Something looked like a web app but can't be started as one; says what to add.
    pub(crate) notes: Vec<String>,
}

/// ASGI frameworks: the package that installs each, and the name its code imports.
const ASGI_FRAMEWORKS: &[(&str, &str)] = &[
    ("fastapi", "fastapi"),
    ("starlette", "starlette"),
    ("litestar", "litestar"),
    ("quart", "quart"),
    ("sanic", "sanic"),
    ("python-fasthtml", "fasthtml"),
];

pub(crate) fn detect(inputs: &Inputs<'_>) -> Detection {
    let mut detection = Detection::default();
    let web = fastapi(inputs)
        .or_else(|| django(inputs, &mut detection.notes))
        .or_else(|| generic(inputs, &mut detection.notes))
        .or_else(|| streamlit(inputs))
        .or_else(|| main_block(inputs));
    if let Some(web) = web {
        detection.processes.push(web);
    }
    for script in inputs.scripts {
        let valid = !script.is_empty()
            && script
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if valid && !detection.processes.iter().any(|p| &p.name == script) {
            detection.processes.push(DetectedProcess {
                name: script.clone(),
                command: format!("{script} \"$@\""),
                reason: "a `[project.scripts]` entry".to_string(),
            });
        }
    }
    detection
}

fn has(inputs: &Inputs<'_>, package: &str) -> bool {
    inputs.installed.contains(package)
}

pub(crate) fn join(dir: &str, file: &str) -> String {
    if dir.is_empty() || dir == "." {
        file.to_string()
    } else {
        format!("{}/{file}", dir.trim_end_matches('/'))
    }
}

/// Whether Python source binds `name` at the top level: `app = …`, `app: FastAPI = …`,
/// `app, rt = fast_app()` (`FastHTML`), or an import (`from .app import app`,
/// `from .server import create as app`), as a package's `__init__.py` re-exports it.
fn assigns(source: &str, name: &str) -> bool {
    source.lines().any(|line| {
        let assigned = line.strip_prefix(name).is_some_and(|rest| {
            let rest = rest.trim_start();
            (rest.starts_with('=') && !rest.starts_with("=="))
                || (rest.starts_with(':') && rest.contains('='))
                || (rest.starts_with(',')
                    && rest.split_once('=').is_some_and(|(targets, value)| {
                        !value.starts_with('=')
                            && targets
                                .chars()
                                .all(|c| c.is_alphanumeric() || c == '_' || c == ',' || c == ' ')
                    }))
        });
        assigned || imports(line, name)
    })
}

/// Whether a top-level `from … import …` line binds `name`.
fn imports(line: &str, name: &str) -> bool {
    let Some(rest) = line.strip_prefix("from ") else {
        return false;
    };
    let Some((_, names)) = rest.split_once(" import ") else {
        return false;
    };
    names
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .any(|imported| {
            let mut words = imported.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(bound), None, None) | (Some(_), Some("as"), Some(bound)) => bound == name,
                _ => false,
            }
        })
}

fn fastapi(inputs: &Inputs<'_>) -> Option<DetectedProcess> {
    if !has(inputs, "fastapi-cli") {
        return None;
    }
    let port = format!("--host 0.0.0.0 --port \"${{PORT:-{DEFAULT_PORT}}}\"");
    for project in inputs.projects {
        let dir = &project.dir;
        let pyproject = (inputs.read)(&join(dir, "pyproject.toml"))
            .and_then(|text| toml::from_str::<toml::Table>(&text).ok());
        let entrypoint = pyproject.as_ref().and_then(|p| {
            p.get("tool")?
                .get("fastapi")?
                .get("entrypoint")?
                .as_str()
                .map(str::to_string)
        });
        if let Some(entrypoint) = entrypoint {
            let valid = entrypoint
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._:".contains(c));
            if valid {
                let chdir = if dir.is_empty() {
                    String::new()
                } else {
                    format!("cd {dir} && ")
                };
                return Some(DetectedProcess {
                    name: "web".into(),
                    command: format!("{chdir}fastapi run --entrypoint {entrypoint} {port}"),
                    reason: format!(
                        "FastAPI: `[tool.fastapi] entrypoint` in `{}`",
                        join(dir, "pyproject.toml")
                    ),
                });
            }
        }
        for Candidate { path, .. } in candidates(project, &["main.py", "app.py", "app/main.py"]) {
            if (inputs.read)(&path).is_some_and(|source| assigns(&source, "app")) {
                return Some(DetectedProcess {
                    name: "web".into(),
                    command: format!("fastapi run {path} {port}"),
                    reason: format!("FastAPI: an `app` in `{path}`"),
                });
            }
        }
    }
    None
}

/// The packages that may hold the WSGI/ASGI modules, from the settings module named in
/// `manage.py`: `mysite` for `"mysite.settings"`, `config.settings` then `config` for
/// `"config.settings.production"`.
fn django_project_packages(manage_py: &str) -> Option<Vec<String>> {
    let module = luban_common::django::settings_module(manage_py)?;
    let parts: Vec<&str> = module.split('.').collect();
    let packages: Vec<String> = (1..parts.len())
        .rev()
        .map(|n| parts[..n].join("."))
        .collect();
    (!packages.is_empty()).then_some(packages)
}

fn django(inputs: &Inputs<'_>, notes: &mut Vec<String>) -> Option<DetectedProcess> {
    let manage_py = (inputs.read)("manage.py")?;
    if !has(inputs, "django") {
        return None;
    }
    let Some(packages) = django_project_packages(&manage_py) else {
        notes.push("A Django project, but `manage.py` doesn't name its settings module (`DJANGO_SETTINGS_MODULE`), so no web process was declared; add a `Procfile`.".into());
        return None;
    };
    let module_file = |package: &str, name: &str| {
        (inputs.read)(&format!("{}/{name}.py", package.replace('.', "/"))).is_some()
    };
    let package = packages
        .iter()
        .find(|p| module_file(p, "wsgi") || module_file(p, "asgi"))
        .unwrap_or(&packages[0])
        .clone();
    let dir = package.replace('.', "/");
    if has(inputs, "gunicorn") && module_file(&package, "wsgi") {
        return Some(DetectedProcess {
            name: "web".into(),
            command: format!(
                "gunicorn {package}.wsgi --bind \"0.0.0.0:${{PORT:-{DEFAULT_PORT}}}\""
            ),
            reason: format!("Django with gunicorn: `{dir}/wsgi.py`"),
        });
    }
    if has(inputs, "uvicorn") && module_file(&package, "asgi") {
        return Some(DetectedProcess {
            name: "web".into(),
            command: format!(
                "uvicorn {package}.asgi:application --host 0.0.0.0 --port \"${{PORT:-{DEFAULT_PORT}}}\""
            ),
            reason: format!("Django with uvicorn: `{dir}/asgi.py`"),
        });
    }
    notes.push(format!(
        "A Django project (`{package}`), but neither gunicorn (with `{dir}/wsgi.py`) nor uvicorn (with `{dir}/asgi.py`) will be installed, so no web process was declared. Add a server (`uv add gunicorn`) or a `Procfile`."
    ));
    None
}

fn generic(inputs: &Inputs<'_>, notes: &mut Vec<String>) -> Option<DetectedProcess> {
    let asgi_imports: Vec<&str> = ASGI_FRAMEWORKS
        .iter()
        .filter(|(package, _)| has(inputs, package))
        .map(|(_, import)| *import)
        .collect();
    // Every file that binds an app, in the order they are tried: the first is served, the
    // others are named in the log with why they weren't.
    let mut found: Vec<(Candidate, &str, bool)> = Vec::new();
    for project in inputs.projects {
        let top_level = ["main.py", "app.py", "wsgi.py", "asgi.py", "app/main.py"];
        for candidate in candidates(project, &top_level) {
            if found.iter().any(|(c, _, _)| c.path == candidate.path) {
                continue;
            }
            let Some(source) = (inputs.read)(&candidate.path) else {
                continue;
            };
            let Some(variable) = ["app", "application"]
                .into_iter()
                .find(|v| assigns(&source, v))
            else {
                continue;
            };
            let asgi = candidate.path.ends_with("asgi.py")
                || asgi_imports.iter().any(|f| source.contains(f));
            found.push((candidate, variable, asgi));
        }
    }
    let mut found = found.into_iter();
    let (candidate, variable, asgi) = found.next()?;
    let path = &candidate.path;
    for (other, other_variable, _) in found.take(3) {
        notes.push(format!(
            "`{}` also binds `{other_variable}`; not chosen, as `{path}` comes first (a `Procfile` can start it instead)",
            other.path
        ));
    }
    let target = format!("{}:{variable}", candidate.module());
    let Some(command) = server_command(inputs, asgi, &target, &candidate.root) else {
        let server = if asgi { "uvicorn" } else { "gunicorn" };
        notes.push(format!(
            "`{path}` defines `{variable}`, but no {} will be installed, so no web process was declared. Add one (`uv add {server}`; the build then starts `{server} {target}`) or a `Procfile`.",
            if asgi {
                "ASGI server (uvicorn, hypercorn or granian)"
            } else {
                "WSGI server (gunicorn or granian)"
            },
        ));
        return None;
    };
    Some(DetectedProcess {
        name: "web".into(),
        command,
        reason: format!(
            "{} app `{variable}` in `{path}`",
            if asgi { "an ASGI" } else { "a WSGI" }
        ),
    })
}

/// The command that serves `target` (`module:attr`, importable from `root`) with the first
/// server the lock installs: uvicorn, hypercorn or granian for ASGI; gunicorn or granian for
/// WSGI.
fn server_command(inputs: &Inputs<'_>, asgi: bool, target: &str, root: &str) -> Option<String> {
    let port = format!("${{PORT:-{DEFAULT_PORT}}}");
    let cd = if root.is_empty() {
        String::new()
    } else {
        format!("cd {root} && ")
    };
    if asgi && has(inputs, "uvicorn") {
        let app_dir = if root.is_empty() {
            String::new()
        } else {
            format!(" --app-dir {root}")
        };
        Some(format!(
            "uvicorn {target}{app_dir} --host 0.0.0.0 --port \"{port}\""
        ))
    } else if asgi && has(inputs, "hypercorn") {
        Some(format!("{cd}hypercorn {target} --bind \"0.0.0.0:{port}\""))
    } else if !asgi && has(inputs, "gunicorn") {
        let chdir = if root.is_empty() {
            String::new()
        } else {
            format!(" --chdir {root}")
        };
        Some(format!(
            "gunicorn {target}{chdir} --bind \"0.0.0.0:{port}\""
        ))
    } else if has(inputs, "granian") {
        let interface = if asgi { "asgi" } else { "wsgi" };
        Some(format!(
            "{cd}granian --interface {interface} --host 0.0.0.0 --port \"{port}\" {target}"
        ))
    } else {
        None
    }
}

/// Calls in a `__main__` block that start a server (never Flask's `app.run()`, its
/// development server).
const SERVER_STARTS: &[&str] = &["serve(", "uvicorn.run(", "web.run_app(", "hypercorn.run("];

/// The last resort: `python <file>` for a `main.py` or `app.py` whose `__main__` block starts
/// a server.
fn main_block(inputs: &Inputs<'_>) -> Option<DetectedProcess> {
    for project in inputs.projects {
        for file in ["main.py", "app.py"] {
            let path = join(&project.dir, file);
            let Some(source) = (inputs.read)(&path) else {
                continue;
            };
            let Some(start) = source.find("if __name__ ==") else {
                continue;
            };
            let block = &source[start..];
            if let Some(call) = SERVER_STARTS.iter().find(|call| block.contains(*call)) {
                return Some(DetectedProcess {
                    name: "web".into(),
                    command: format!("python {path}"),
                    reason: format!(
                        "`{path}` starts a server in its `__main__` block (`{call}…)`); it must listen on `0.0.0.0` and `$PORT`"
                    ),
                });
            }
        }
    }
    None
}

fn streamlit(inputs: &Inputs<'_>) -> Option<DetectedProcess> {
    if !has(inputs, "streamlit") {
        return None;
    }
    let files = ["streamlit_app.py", "main.py", "app.py", "Home.py"];
    inputs.projects.iter().find_map(|project| {
        files.iter().find_map(|file| {
            let path = join(&project.dir, file);
            let source = (inputs.read)(&path)?;
            source.contains("import streamlit").then(|| DetectedProcess {
                name: "web".into(),
                command: format!(
                    "streamlit run {path} --server.address 0.0.0.0 --server.port \"${{PORT:-{DEFAULT_PORT}}}\" --server.headless true"
                ),
                reason: format!("a Streamlit app in `{path}`"),
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct App {
        files: BTreeMap<String, String>,
        installed: BTreeSet<String>,
        projects: Vec<ProjectDir>,
        scripts: Vec<String>,
    }

    fn app(files: &[(&str, &str)], installed: &[&str]) -> App {
        App {
            files: files
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            installed: installed.iter().map(ToString::to_string).collect(),
            projects: vec![project("", None)],
            scripts: vec![],
        }
    }

    fn project(dir: &str, name: Option<&str>) -> ProjectDir {
        ProjectDir {
            dir: dir.into(),
            name: name.map(Into::into),
            packages: vec![],
        }
    }

    fn run(app: &App) -> Detection {
        let read = |path: &str| app.files.get(path).cloned();
        detect(&Inputs {
            installed: &app.installed,
            projects: &app.projects,
            scripts: &app.scripts,
            read: &read,
        })
    }

    fn web(app: &App) -> String {
        let detection = run(app);
        let web = detection
            .processes
            .iter()
            .find(|p| p.name == "web")
            .unwrap_or_else(|| panic!("no web process: {detection:?}"));
        format!("{}  ({})", web.command, web.reason)
    }

    const FASTAPI_MAIN: &str = "from fastapi import FastAPI\n\napp = FastAPI()\n";

    #[test]
    fn fastapi_from_a_file() {
        insta::assert_snapshot!(web(&app(
            &[("main.py", FASTAPI_MAIN)],
            &["fastapi", "fastapi-cli", "uvicorn"]
        )), @r#"fastapi run main.py --host 0.0.0.0 --port "${PORT:-8080}"  (FastAPI: an `app` in `main.py`)"#);
        insta::assert_snapshot!(web(&app(
            &[("app/main.py", "app: FastAPI = FastAPI()\n")],
            &["fastapi", "fastapi-cli"]
        )), @r#"fastapi run app/main.py --host 0.0.0.0 --port "${PORT:-8080}"  (FastAPI: an `app` in `app/main.py`)"#);
    }

    #[test]
    fn fastapi_entrypoint_from_pyproject() {
        let mut app = app(
            &[(
                "backend/pyproject.toml",
                "[project]\nname = \"backend\"\n[tool.fastapi]\nentrypoint = \"app.main:app\"\n",
            )],
            &["fastapi", "fastapi-cli"],
        );
        app.projects = vec![project("", None), project("backend", Some("app"))];
        insta::assert_snapshot!(web(&app), @r#"cd backend && fastapi run --entrypoint app.main:app --host 0.0.0.0 --port "${PORT:-8080}"  (FastAPI: `[tool.fastapi] entrypoint` in `backend/pyproject.toml`)"#);
    }

    #[test]
    fn fastapi_without_cli_uses_uvicorn() {
        insta::assert_snapshot!(web(&app(
            &[("main.py", FASTAPI_MAIN)],
            &["fastapi", "uvicorn"]
        )), @r#"uvicorn main:app --host 0.0.0.0 --port "${PORT:-8080}"  (an ASGI app `app` in `main.py`)"#);
    }

    const MANAGE_PY: &str =
        "import os\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"mysite.settings\")\n";

    #[test]
    fn django_with_gunicorn_or_uvicorn() {
        let files = [
            ("manage.py", MANAGE_PY),
            ("mysite/wsgi.py", ""),
            ("mysite/asgi.py", ""),
        ];
        insta::assert_snapshot!(web(&app(&files, &["django", "gunicorn"])), @r#"gunicorn mysite.wsgi --bind "0.0.0.0:${PORT:-8080}"  (Django with gunicorn: `mysite/wsgi.py`)"#);
        insta::assert_snapshot!(web(&app(&files, &["django", "uvicorn"])), @r#"uvicorn mysite.asgi:application --host 0.0.0.0 --port "${PORT:-8080}"  (Django with uvicorn: `mysite/asgi.py`)"#);
    }

    #[test]
    fn django_without_a_server_gets_a_note() {
        let detection = run(&app(
            &[("manage.py", MANAGE_PY), ("mysite/wsgi.py", "")],
            &["django"],
        ));
        assert!(detection.processes.is_empty());
        insta::assert_snapshot!(detection.notes.join("\n"), @"A Django project (`mysite`), but neither gunicorn (with `mysite/wsgi.py`) nor uvicorn (with `mysite/asgi.py`) will be installed, so no web process was declared. Add a server (`uv add gunicorn`) or a `Procfile`.");
    }

    #[test]
    fn flask_with_gunicorn() {
        insta::assert_snapshot!(web(&app(
            &[("app.py", "from flask import Flask\napp = Flask(__name__)\n")],
            &["flask", "gunicorn"]
        )), @r#"gunicorn app:app --bind "0.0.0.0:${PORT:-8080}"  (a WSGI app `app` in `app.py`)"#);
    }

    #[test]
    fn flask_without_a_server_gets_a_note() {
        let detection = run(&app(
            &[("app.py", "from flask import Flask\napp = Flask(__name__)\n")],
            &["flask"],
        ));
        assert!(detection.processes.is_empty());
        insta::assert_snapshot!(detection.notes.join("\n"), @"`app.py` defines `app`, but no WSGI server (gunicorn or granian) will be installed, so no web process was declared. Add one (`uv add gunicorn`; the build then starts `gunicorn app:app`) or a `Procfile`.");
    }

    #[test]
    fn member_directories_are_searched() {
        let mut app = app(
            &[(
                "apps/api/main.py",
                "from starlette.applications import Starlette\napp = Starlette()\n",
            )],
            &["starlette", "uvicorn"],
        );
        app.projects = vec![project("", None), project("apps/api", Some("api"))];
        insta::assert_snapshot!(web(&app), @r#"uvicorn main:app --app-dir apps/api --host 0.0.0.0 --port "${PORT:-8080}"  (an ASGI app `app` in `apps/api/main.py`)"#);
    }

    #[test]
    fn the_projects_own_package_is_searched() {
        let mut fastapi = app(
            &[("src/uv_example/__init__.py", FASTAPI_MAIN)],
            &["fastapi", "fastapi-cli"],
        );
        fastapi.projects = vec![project("", Some("uv-example"))];
        insta::assert_snapshot!(web(&fastapi), @r#"fastapi run src/uv_example/__init__.py --host 0.0.0.0 --port "${PORT:-8080}"  (FastAPI: an `app` in `src/uv_example/__init__.py`)"#);

        let mut flask = app(
            &[(
                "src/shop/app.py",
                "from flask import Flask\napp = Flask(__name__)\n",
            )],
            &["flask", "gunicorn"],
        );
        flask.projects = vec![project("", Some("shop"))];
        insta::assert_snapshot!(web(&flask), @r#"gunicorn shop.app:app --chdir src --bind "0.0.0.0:${PORT:-8080}"  (a WSGI app `app` in `src/shop/app.py`)"#);

        let mut starlette = app(
            &[(
                "services/api/api/main.py",
                "from starlette.applications import Starlette\napp = Starlette()\n",
            )],
            &["starlette", "uvicorn"],
        );
        starlette.projects = vec![project("", None), project("services/api", Some("api"))];
        insta::assert_snapshot!(web(&starlette), @r#"uvicorn api.main:app --app-dir services/api --host 0.0.0.0 --port "${PORT:-8080}"  (an ASGI app `app` in `services/api/api/main.py`)"#);
    }

    #[test]
    fn an_app_re_exported_by_a_package_of_another_name() {
        let files = [
            ("webapp/__init__.py", "from .app import app\n"),
            (
                "webapp/app.py",
                "from flask import Flask\napp = Flask(__name__)\n",
            ),
        ];
        let mut flask = app(&files, &["flask", "gunicorn"]);
        flask.projects = vec![ProjectDir {
            packages: vec!["webapp".into()],
            ..project("", Some("flask-site"))
        }];
        insta::assert_snapshot!(web(&flask), @r#"gunicorn webapp:app --bind "0.0.0.0:${PORT:-8080}"  (a WSGI app `app` in `webapp/__init__.py`)"#);
        // Under `src/`, as `from webapp.server import create as app`, served by granian.
        let mut granian = app(
            &[(
                "src/webapp/__init__.py",
                "from webapp.server import create as app\n",
            )],
            &["flask", "granian"],
        );
        granian.projects = vec![ProjectDir {
            packages: vec!["src/webapp".into()],
            ..project("", Some("flask-site"))
        }];
        insta::assert_snapshot!(web(&granian), @r#"cd src && granian --interface wsgi --host 0.0.0.0 --port "${PORT:-8080}" webapp:app  (a WSGI app `app` in `src/webapp/__init__.py`)"#);
    }

    #[test]
    fn fastapis_app_main_layout_without_an_init() {
        // `app/main.py` without `app/__init__.py` (a namespace package), served by uvicorn.
        insta::assert_snapshot!(web(&app(&[("app/main.py", FASTAPI_MAIN)], &["fastapi", "uvicorn"])), @r#"uvicorn app.main:app --host 0.0.0.0 --port "${PORT:-8080}"  (an ASGI app `app` in `app/main.py`)"#);
    }

    #[test]
    fn other_apps_are_named_with_why_they_were_not_chosen() {
        let flask = "from flask import Flask\napp = Flask(__name__)\n";
        let detection = run(&app(
            &[
                ("app.py", flask),
                ("wsgi.py", "from app import app as application\n"),
            ],
            &["flask", "gunicorn"],
        ));
        insta::assert_snapshot!(detection.notes.join("\n"), @"`wsgi.py` also binds `application`; not chosen, as `app.py` comes first (a `Procfile` can start it instead)");
    }

    #[test]
    fn fasthtml_app() {
        let main = "from fasthtml.common import *\n\napp, rt = fast_app()\n\n@rt('/')\ndef get(): return 'hi'\n\nserve()\n";
        insta::assert_snapshot!(web(&app(&[("main.py", main)], &["python-fasthtml", "uvicorn"])), @r#"uvicorn main:app --host 0.0.0.0 --port "${PORT:-8080}"  (an ASGI app `app` in `main.py`)"#);
        // `app, rt == x` compares, `app, rt = …` binds.
        assert!(!assigns("app, rt == pair\n", "app"));
        assert!(assigns("app, rt = fast_app()\n", "app"));
        assert!(!assigns("from flask import Flask\n", "app"));
        assert!(assigns("from .server import (app, db)\n", "app"));
    }

    #[test]
    fn a_main_block_that_starts_a_server_is_the_last_resort() {
        let main = "from aiohttp import web\n\napp = web.Application()\n\nif __name__ == '__main__':\n    web.run_app(app, port=int(os.environ['PORT']))\n";
        insta::assert_snapshot!(web(&app(&[("main.py", main)], &["aiohttp"])), @r#"python main.py  (`main.py` starts a server in its `__main__` block (`web.run_app(…)`); it must listen on `0.0.0.0` and `$PORT`)"#);
        // Flask's development server is not one.
        let flask = "app = Flask(__name__)\nif __name__ == '__main__':\n    app.run()\n";
        assert!(
            run(&app(&[("app.py", flask)], &["flask"]))
                .processes
                .is_empty()
        );
        // Nor a file that only prints.
        let hello = "if __name__ == '__main__':\n    print('hello')\n";
        assert!(run(&app(&[("main.py", hello)], &[])).processes.is_empty());
    }

    #[test]
    fn streamlit_app() {
        insta::assert_snapshot!(web(&app(
            &[("main.py", "import streamlit as st\nst.title('hi')\n")],
            &["streamlit", "pandas"]
        )), @r#"streamlit run main.py --server.address 0.0.0.0 --server.port "${PORT:-8080}" --server.headless true  (a Streamlit app in `main.py`)"#);
    }

    #[test]
    fn scripts_become_processes_but_never_web() {
        let mut app = app(&[], &["click"]);
        app.scripts = vec!["greet".into(), "bad name".into()];
        let detection = run(&app);
        assert_eq!(
            detection.processes,
            [DetectedProcess {
                name: "greet".into(),
                command: "greet \"$@\"".into(),
                reason: "a `[project.scripts]` entry".into()
            }]
        );
    }

    #[test]
    fn nothing_recognised() {
        assert_eq!(
            run(&app(&[("README.md", "hi")], &["requests"])),
            Detection::default()
        );
        // `app ==` is a comparison, not an app.
        assert_eq!(
            run(&app(&[("main.py", "if app == 1: pass\n")], &["gunicorn"])),
            Detection::default()
        );
    }

    #[test]
    fn settings_package_from_manage_py() {
        assert_eq!(
            django_project_packages(MANAGE_PY),
            Some(vec!["mysite".into()])
        );
        assert_eq!(
            django_project_packages(
                "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.prod')"
            ),
            Some(vec!["config.settings".into(), "config".into()])
        );
        assert_eq!(django_project_packages("nothing"), None);
        // cookiecutter-django's layout: `config/wsgi.py` next to `config/settings/`.
        insta::assert_snapshot!(web(&app(
            &[
                ("manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.local')"),
                ("config/wsgi.py", "")
            ],
            &["django", "gunicorn"]
        )), @r#"gunicorn config.wsgi --bind "0.0.0.0:${PORT:-8080}"  (Django with gunicorn: `config/wsgi.py`)"#);
    }
}
