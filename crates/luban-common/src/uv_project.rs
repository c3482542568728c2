//! What a uv project's `uv.lock` and `pyproject.toml` say, as pure functions over their text:
//! the locked packages and their files, the workspace members, and which packages an install
//! of a given selection reaches.
//!
//! Both `luban/python-uv` (Python choice, `uv sync` arguments) and `luban/procfile` (start
//! commands) read the same answers from here.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A package name in PEP 503 normal form (`Foo_Bar.baz` → `foo-bar-baz`), the form uv writes
/// in `uv.lock`.
#[must_use]
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('-');
            }
            separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// `uv.lock`, read leniently: only the fields Luban uses, so newer lock revisions still parse.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Lock {
    #[serde(default, rename = "requires-python")]
    pub requires_python: Option<String>,
    #[serde(default)]
    manifest: Manifest,
    #[serde(default)]
    pub package: Vec<LockedPackage>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Manifest {
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    source: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub wheels: Vec<LockedFile>,
    #[serde(default)]
    pub sdist: Option<LockedFile>,
    #[serde(default)]
    dependencies: Vec<LockedDependency>,
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: BTreeMap<String, Vec<LockedDependency>>,
    #[serde(default, rename = "dev-dependencies")]
    dev_dependencies: BTreeMap<String, Vec<LockedDependency>>,
}

#[derive(Debug, Clone, Deserialize)]
struct LockedDependency {
    name: String,
    #[serde(default)]
    extra: Vec<String>,
}

/// A wheel or sdist entry: a URL for index packages, a path or filename for local ones.
#[derive(Debug, Clone, Deserialize)]
pub struct LockedFile {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

impl LockedFile {
    /// The file's name (`httptools-0.6.1-cp312-cp312-manylinux_2_17_x86_64.whl`).
    #[must_use]
    pub fn filename(&self) -> Option<&str> {
        if let Some(name) = &self.filename {
            return Some(name);
        }
        let location = self.url.as_deref().or(self.path.as_deref())?;
        let location = location.split(['#', '?']).next().unwrap_or(location);
        location.rsplit('/').next().filter(|name| !name.is_empty())
    }
}

impl LockedPackage {
    /// The directory of a project that is part of this repository (`editable`, `virtual` or
    /// `directory` source), relative to the app.
    #[must_use]
    pub fn local_dir(&self) -> Option<PathBuf> {
        ["editable", "virtual", "directory"]
            .iter()
            .find_map(|kind| self.source.get(*kind)?.as_str().map(PathBuf::from))
    }

    /// A local source uv copies into the venv when it installs (a non-editable `directory`, or
    /// a `path` to a wheel or sdist), relative to the app: its content, not the lock, says
    /// what is installed.
    #[must_use]
    pub fn copied_local_source(&self) -> Option<PathBuf> {
        ["directory", "path"]
            .iter()
            .find_map(|kind| self.source.get(*kind)?.as_str().map(PathBuf::from))
    }

    fn is_root(&self) -> bool {
        self.local_dir()
            .is_some_and(|dir| dir.as_os_str().is_empty() || dir == Path::new("."))
    }

    /// The package name and version, as `name version`.
    #[must_use]
    pub fn display(&self) -> String {
        match &self.version {
            Some(version) => format!("{} {version}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A workspace member: its name and its directory relative to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub dir: PathBuf,
}

/// Which of the lock's projects a build installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// A single project (not a workspace): the root project, as `uv sync` does.
    Root,
    /// A workspace without `BP_UV_PACKAGE`: every member (`uv sync --all-packages`).
    AllMembers,
    /// `BP_UV_PACKAGE`: one member and what it depends on (`uv sync --package`).
    Member(String),
}

impl Selection {
    /// The `uv sync` / `uv export` arguments for this selection.
    #[must_use]
    pub fn uv_args(&self) -> Vec<String> {
        match self {
            Selection::Root => Vec::new(),
            Selection::AllMembers => vec!["--all-packages".to_string()],
            Selection::Member(name) => vec!["--package".to_string(), name.clone()],
        }
    }

    /// Short text for logs and cache keys.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Selection::Root => "the project".to_string(),
            Selection::AllMembers => "all workspace members".to_string(),
            Selection::Member(name) => format!("workspace member {name}"),
        }
    }
}

/// Whether `pyproject.toml` declares a uv workspace (`[tool.uv.workspace]`).
#[must_use]
pub fn is_workspace(pyproject: &toml::Table) -> bool {
    pyproject
        .get("tool")
        .and_then(|tool| tool.get("uv"))
        .and_then(|uv| uv.get("workspace"))
        .is_some()
}

/// The `[project.scripts]` names of a `pyproject.toml`.
#[must_use]
pub fn script_names(pyproject: &toml::Table) -> Vec<String> {
    pyproject
        .get("project")
        .and_then(|project| project.get("scripts"))
        .and_then(toml::Value::as_table)
        .map(|scripts| scripts.keys().cloned().collect())
        .unwrap_or_default()
}

/// The selection a build makes: `package` (from `BP_UV_PACKAGE`) when set, else every member of
/// a workspace, else the root project. The package is checked against the lock by
/// [`Lock::check_selection`].
#[must_use]
pub fn selection(pyproject: &toml::Table, package: Option<&str>) -> Selection {
    match package {
        Some(name) => Selection::Member(normalize(name)),
        None if is_workspace(pyproject) => Selection::AllMembers,
        None => Selection::Root,
    }
}

impl Lock {
    /// Parses `uv.lock`.
    ///
    /// # Errors
    /// When the text is not TOML or doesn't have the shape of a uv lock.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error: toml::de::Error| error.to_string().trim().to_string())
    }

    /// The package locked under this (normalized) name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&LockedPackage> {
        let name = normalize(name);
        self.package.iter().find(|p| normalize(&p.name) == name)
    }

    /// Every package's [`LockedPackage::copied_local_source`], sorted.
    #[must_use]
    pub fn copied_local_sources(&self) -> Vec<PathBuf> {
        let mut sources: Vec<PathBuf> = self
            .package
            .iter()
            .filter_map(LockedPackage::copied_local_source)
            .collect();
        sources.sort();
        sources.dedup();
        sources
    }

    /// The workspace members (the lock's `[manifest] members`), or the root project alone.
    #[must_use]
    pub fn members(&self) -> Vec<Member> {
        let member = |package: &LockedPackage| Member {
            name: normalize(&package.name),
            dir: package.local_dir().unwrap_or_default(),
        };
        if self.manifest.members.is_empty() {
            return self
                .package
                .iter()
                .filter(|p| p.is_root())
                .map(member)
                .collect();
        }
        // One index of the packages, not a search of them per member: a large workspace's lock
        // has thousands of both.
        let by_name: BTreeMap<String, &LockedPackage> = self
            .package
            .iter()
            .map(|p| (normalize(&p.name), p))
            .collect();
        self.manifest
            .members
            .iter()
            .filter_map(|name| by_name.get(&normalize(name)).copied())
            .map(member)
            .collect()
    }

    /// The members a selection starts from. `Err` lists the members when `BP_UV_PACKAGE` names
    /// none of them.
    ///
    /// # Errors
    /// When the selection names a package that is not a member.
    pub fn check_selection(&self, selection: &Selection) -> Result<Vec<Member>, Vec<String>> {
        let members = self.members();
        match selection {
            Selection::Root => Ok(self
                .package
                .iter()
                .filter(|p| p.is_root())
                .map(|p| Member {
                    name: normalize(&p.name),
                    dir: PathBuf::new(),
                })
                .collect()),
            Selection::AllMembers => Ok(members),
            Selection::Member(name) => match members.iter().find(|m| &m.name == name) {
                Some(member) => Ok(vec![member.clone()]),
                None => Err(members.into_iter().map(|m| m.name).collect()),
            },
        }
    }

    /// The packages an install of `selection` reaches, with the extras and dependency groups
    /// asked for on the selected projects. Markers are not evaluated, so this may hold a few
    /// packages that a platform or Python version would skip.
    #[must_use]
    pub fn installed(
        &self,
        selection: &Selection,
        groups: &[String],
        extras: &[String],
    ) -> Vec<&LockedPackage> {
        let by_name: BTreeMap<String, &LockedPackage> = self
            .package
            .iter()
            .map(|p| (normalize(&p.name), p))
            .collect();
        let roots = self.check_selection(selection).unwrap_or_default();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut queue: Vec<(String, Vec<String>)> = Vec::new();
        for root in &roots {
            let Some(package) = by_name.get(&root.name) else {
                continue;
            };
            queue.push((root.name.clone(), extras.to_vec()));
            for group in groups {
                for dep in package.dev_dependencies.get(group).into_iter().flatten() {
                    queue.push((normalize(&dep.name), dep.extra.clone()));
                }
            }
        }
        let mut visited_extras: BTreeSet<(String, String)> = BTreeSet::new();
        while let Some((name, extras)) = queue.pop() {
            let Some(package) = by_name.get(&name) else {
                continue;
            };
            if seen.insert(name.clone()) {
                for dep in &package.dependencies {
                    queue.push((normalize(&dep.name), dep.extra.clone()));
                }
            }
            for extra in extras {
                if !visited_extras.insert((name.clone(), extra.clone())) {
                    continue;
                }
                for dep in package
                    .optional_dependencies
                    .get(&extra)
                    .into_iter()
                    .flatten()
                {
                    queue.push((normalize(&dep.name), dep.extra.clone()));
                }
            }
        }
        self.package
            .iter()
            .filter(|p| seen.contains(&normalize(&p.name)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKSPACE_LOCK: &str = r#"
version = 1
requires-python = ">=3.12"

[manifest]
members = ["api", "shared-lib"]

[[package]]
name = "api"
version = "0.1.0"
source = { editable = "apps/api" }
dependencies = [{ name = "shared-lib" }, { name = "uvicorn", extra = ["standard"] }]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "shared-lib"
version = "0.1.0"
source = { editable = "libs/shared_lib" }

[[package]]
name = "uvicorn"
version = "0.30.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "h11" }]
wheels = [{ url = "https://files.example/uvicorn-0.30.0-py3-none-any.whl" }]

[package.optional-dependencies]
standard = [{ name = "httptools" }]

[[package]]
name = "h11"
version = "0.14.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "httptools"
version = "0.6.1"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.example/httptools-0.6.1.tar.gz" }

[[package]]
name = "pytest"
version = "8.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "unused"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
"#;

    fn names(packages: &[&LockedPackage]) -> Vec<String> {
        packages.iter().map(|p| p.name.clone()).collect()
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("Foo_Bar.baz"), "foo-bar-baz");
        assert_eq!(normalize("a--b__c"), "a-b-c");
        assert_eq!(normalize("Django"), "django");
    }

    #[test]
    fn workspace_members_come_from_the_manifest() {
        let lock = Lock::parse(WORKSPACE_LOCK).unwrap();
        assert_eq!(
            lock.members(),
            [
                Member {
                    name: "api".into(),
                    dir: "apps/api".into()
                },
                Member {
                    name: "shared-lib".into(),
                    dir: "libs/shared_lib".into()
                }
            ]
        );
    }

    #[test]
    fn selection_from_pyproject_and_package() {
        let workspace: toml::Table =
            toml::from_str("[tool.uv.workspace]\nmembers = [\"apps/*\"]\n").unwrap();
        let single: toml::Table = toml::from_str("[project]\nname = \"x\"\n").unwrap();
        assert_eq!(selection(&workspace, None), Selection::AllMembers);
        assert_eq!(selection(&single, None), Selection::Root);
        assert_eq!(
            selection(&workspace, Some("Shared_Lib")),
            Selection::Member("shared-lib".into())
        );
        assert_eq!(Selection::AllMembers.uv_args(), ["--all-packages"]);
        assert_eq!(
            Selection::Member("api".into()).uv_args(),
            ["--package", "api"]
        );
    }

    #[test]
    fn unknown_member_lists_the_members() {
        let lock = Lock::parse(WORKSPACE_LOCK).unwrap();
        assert_eq!(
            lock.check_selection(&Selection::Member("web".into())),
            Err(vec!["api".to_string(), "shared-lib".to_string()])
        );
    }

    #[test]
    fn installed_follows_dependencies_extras_and_groups() {
        let lock = Lock::parse(WORKSPACE_LOCK).unwrap();
        let all = lock.installed(&Selection::AllMembers, &[], &[]);
        assert_eq!(
            names(&all),
            ["api", "shared-lib", "uvicorn", "h11", "httptools"]
        );
        let only_lib = lock.installed(&Selection::Member("shared-lib".into()), &[], &[]);
        assert_eq!(names(&only_lib), ["shared-lib"]);
        let with_dev = lock.installed(&Selection::Member("api".into()), &["dev".into()], &[]);
        assert!(names(&with_dev).contains(&"pytest".to_string()));
        assert!(!names(&with_dev).contains(&"unused".to_string()));
    }

    #[test]
    fn root_project_of_a_single_project_lock() {
        let lock = Lock::parse(
            "version = 1\n[[package]]\nname = \"App\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\ndependencies = [{ name = \"six\" }]\n\n[[package]]\nname = \"six\"\nversion = \"1.17.0\"\nsource = { registry = \"https://pypi.org/simple\" }\nwheels = [{ url = \"https://files.example/six-1.17.0-py2.py3-none-any.whl\", hash = \"sha256:00\" }]\n",
        )
        .unwrap();
        assert_eq!(
            lock.members(),
            [Member {
                name: "app".into(),
                dir: ".".into()
            }]
        );
        let installed = lock.installed(&Selection::Root, &[], &[]);
        assert_eq!(names(&installed), ["App", "six"]);
        assert_eq!(
            installed[1].wheels[0].filename(),
            Some("six-1.17.0-py2.py3-none-any.whl")
        );
    }
}
