//! The buildpacks' own settings (`BP_*`) from the user's build env: parsed here, once, with
//! the same rules (trimmed, checked, the same errors) for every buildpack that reads them, and
//! listed in [`SETTINGS`], the table the README's settings table is checked against.

use libcnb::Env;
use std::fmt::Write as _;

/// One setting: its name, its default, the buildpacks that read it and what it does.
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub read_by: &'static [&'static str],
    pub meaning: &'static str,
}

/// Every `BP_*` setting a Luban buildpack reads.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "BP_UV_GROUPS",
        default: "(none)",
        read_by: &["luban/python-uv", "luban/procfile"],
        meaning: "dependency groups to install besides the default ones, comma- or space-separated (`dev` also keeps dev dependencies)",
    },
    Setting {
        name: "BP_UV_EXTRAS",
        default: "(none)",
        read_by: &["luban/python-uv", "luban/procfile"],
        meaning: "extras of the project to install, comma- or space-separated",
    },
    Setting {
        name: "BP_UV_PACKAGE",
        default: "all members",
        read_by: &["luban/python-uv", "luban/procfile"],
        meaning: "the one workspace member to install, with what it depends on",
    },
    Setting {
        name: "BP_DJANGO_COLLECTSTATIC",
        default: "true",
        read_by: &["luban/python-uv"],
        meaning: "whether a Django app's `collectstatic` runs at build time",
    },
    Setting {
        name: "BP_WRITABLE_PATHS",
        default: "(none)",
        read_by: &["luban/run-user"],
        meaning: "paths under the app the run user may write, comma- or space-separated; a trailing `/` (or an existing directory) makes a directory, anything else a file (see \"Files the app writes\")",
    },
    Setting {
        name: "BP_UV_MIRROR_URL",
        default: "the release URL in `buildpack.toml`",
        read_by: &["luban/uv"],
        meaning: "where uv's release archives are downloaded from (a mirror); the checksum is still checked",
    },
    Setting {
        name: "BP_OCI_REVISION",
        default: "the Git checkout's commit",
        read_by: &["luban/python-uv"],
        meaning: "the image's `org.opencontainers.image.revision` (a full commit SHA)",
    },
    Setting {
        name: "BP_OCI_SOURCE",
        default: "the Git checkout's `origin` URL",
        read_by: &["luban/python-uv"],
        meaning: "the image's `org.opencontainers.image.source` (credentials are removed)",
    },
    Setting {
        name: "BP_OCI_CREATED",
        default: "the commit's time",
        read_by: &["luban/python-uv"],
        meaning: "the image's `org.opencontainers.image.created` (RFC 3339)",
    },
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Extra dependency groups (`BP_UV_GROUPS`), installed besides the default ones.
    pub groups: Vec<String>,
    /// Extras of the project (`BP_UV_EXTRAS`).
    pub extras: Vec<String>,
    /// The workspace member to install (`BP_UV_PACKAGE`); all members when unset.
    pub package: Option<String>,
    /// Whether Django's `collectstatic` runs (`BP_DJANGO_COLLECTSTATIC`, default true).
    pub django_collectstatic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    InvalidName {
        variable: &'static str,
        value: String,
        name: String,
    },
    SeveralPackages {
        value: String,
    },
    NotABoolean {
        variable: &'static str,
        value: String,
    },
}

/// A path the app writes at run time, from `BP_WRITABLE_PATHS`: relative to the app directory,
/// without `.` or `..` components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritablePath {
    /// `/`-separated, without a leading or trailing `/`.
    pub path: String,
    /// Written with a trailing `/`: a directory even if it doesn't exist yet.
    pub directory: bool,
}

/// A `BP_WRITABLE_PATHS` entry that can't be a path under the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritablePathError {
    pub value: String,
    pub entry: String,
}

/// Reads `BP_WRITABLE_PATHS`: comma- or space-separated paths relative to the app directory.
///
/// # Errors
/// When an entry is absolute, has `.` or `..` components, or holds a control character or a
/// backslash.
pub fn writable_paths(env: &Env) -> Result<Vec<WritablePath>, WritablePathError> {
    let Some(value) = env.get_string_lossy("BP_WRITABLE_PATHS") else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<WritablePath> = Vec::new();
    for entry in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
    {
        let trimmed = entry.trim_end_matches('/');
        let valid = !entry.starts_with('/')
            && !trimmed.is_empty()
            && !entry.contains(|c: char| c.is_control() || c == '\\')
            && trimmed
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !valid {
            return Err(WritablePathError {
                value: value.clone(),
                entry: entry.to_string(),
            });
        }
        if !paths.iter().any(|p| p.path == trimmed) {
            paths.push(WritablePath {
                path: trimmed.to_string(),
                directory: entry.ends_with('/'),
            });
        }
    }
    Ok(paths)
}

/// The README's table of the settings, one row per [`SETTINGS`] entry.
#[must_use]
pub fn markdown_table() -> String {
    let mut table =
        String::from("| setting | default | read by | what it does |\n|---|---|---|---|\n");
    for setting in SETTINGS {
        let _ = writeln!(
            table,
            "| `{}` | {} | {} | {} |",
            setting.name,
            setting.default,
            setting.read_by.join(", "),
            setting.meaning
        );
    }
    table
}

impl Settings {
    /// Reads and checks the settings.
    ///
    /// # Errors
    /// When a name is not a valid group, extra or package name, more than one package is
    /// named, or a boolean is not one.
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let package = names(
            "BP_UV_PACKAGE",
            env.get_string_lossy("BP_UV_PACKAGE").as_deref(),
        )?;
        if package.len() > 1 {
            return Err(SettingsError::SeveralPackages {
                value: package.join(" "),
            });
        }
        Ok(Settings {
            groups: names(
                "BP_UV_GROUPS",
                env.get_string_lossy("BP_UV_GROUPS").as_deref(),
            )?,
            extras: names(
                "BP_UV_EXTRAS",
                env.get_string_lossy("BP_UV_EXTRAS").as_deref(),
            )?,
            package: package.into_iter().next(),
            django_collectstatic: boolean(
                "BP_DJANGO_COLLECTSTATIC",
                env.get_string_lossy("BP_DJANGO_COLLECTSTATIC").as_deref(),
                true,
            )?,
        })
    }

    /// The dependency selection for `uv sync` and `uv export`: no dev dependencies, unless
    /// `dev` is one of the requested groups (uv's `--no-dev` would win over `--group dev`).
    #[must_use]
    pub fn sync_args(&self) -> Vec<String> {
        let no_dev = (!self.groups.iter().any(|g| g == "dev")).then(|| "--no-dev".to_string());
        let groups = self
            .groups
            .iter()
            .flat_map(|g| ["--group".to_string(), g.clone()]);
        let extras = self
            .extras
            .iter()
            .flat_map(|e| ["--extra".to_string(), e.clone()]);
        no_dev.into_iter().chain(groups).chain(extras).collect()
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, any case); `default` when unset or empty.
fn boolean(
    variable: &'static str,
    value: Option<&str>,
    default: bool,
) -> Result<bool, SettingsError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(SettingsError::NotABoolean {
            variable,
            value: value.unwrap_or_default().to_string(),
        }),
    }
}

/// Splits a comma- or space-separated list of group or extra names, checking each against the
/// name rules of PEP 508 / PEP 735.
fn names(variable: &'static str, value: Option<&str>) -> Result<Vec<String>, SettingsError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = Vec::new();
    for name in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
    {
        let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid {
            return Err(SettingsError::InvalidName {
                variable,
                value: value.to_string(),
                name: name.to_string(),
            });
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file(relative: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn writable(value: &str) -> Result<Vec<WritablePath>, WritablePathError> {
        let mut env = Env::new();
        env.insert("BP_WRITABLE_PATHS", value);
        writable_paths(&env)
    }

    #[test]
    fn writable_paths_are_relative_paths_under_the_app() {
        assert_eq!(writable_paths(&Env::new()), Ok(vec![]));
        assert_eq!(
            writable(" data/, instance/app.db  .sesskey,data ").unwrap(),
            vec![
                WritablePath {
                    path: "data".into(),
                    directory: true
                },
                WritablePath {
                    path: "instance/app.db".into(),
                    directory: false
                },
                WritablePath {
                    path: ".sesskey".into(),
                    directory: false
                },
            ]
        );
        for bad in [
            "/tmp", "../x", "a/../b", "./a", "a//b", "/", "a\\b", "a\u{7}b",
        ] {
            let error = writable(&format!("data {bad}")).unwrap_err();
            assert_eq!(error.entry, bad);
        }
    }

    /// The README's settings table is this module's, row for row.
    #[test]
    fn the_readme_lists_every_setting() {
        let readme = repo_file("README.md");
        assert!(
            readme.contains(&markdown_table()),
            "README.md's settings table must be, exactly:\n{}",
            markdown_table()
        );
    }

    /// The README is for users: short, with the details in `docs/`.
    #[test]
    fn the_readme_stays_under_20_kib() {
        let size = repo_file("README.md").len();
        assert!(
            size <= 20 * 1024,
            "README.md is {size} bytes; keep it under 20 KiB and move details to docs/"
        );
    }

    /// Every `BP_*` name a buildpack's code mentions is a setting of the table: a new one
    /// can't be read without being documented.
    #[test]
    fn every_setting_the_buildpacks_read_is_in_the_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut sources = vec![root.join("crates/luban-common/src")];
        for buildpack in std::fs::read_dir(root.join("buildpacks")).unwrap() {
            sources.push(buildpack.unwrap().path().join("src"));
        }
        let mut missing = Vec::new();
        while let Some(dir) = sources.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    sources.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (at, _) in text.match_indices("\"BP_") {
                    let name: String = text[at + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit())
                        .collect();
                    if name != "BP_" && !SETTINGS.iter().any(|s| s.name == name) {
                        missing.push(format!("{name} ({})", path.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "not in SETTINGS: {missing:?}");
    }

    fn env(vars: &[(&str, &str)]) -> Env {
        let mut env = Env::new();
        for (k, v) in vars {
            env.insert(k, v);
        }
        env
    }

    #[test]
    fn unset_means_defaults() {
        let config = Settings::from_env(&env(&[])).unwrap();
        assert_eq!(
            config,
            Settings {
                django_collectstatic: true,
                ..Settings::default()
            }
        );
        assert_eq!(config.sync_args(), ["--no-dev"]);
    }

    #[test]
    fn groups_and_extras_become_sync_args() {
        let config = Settings::from_env(&env(&[
            ("BP_UV_GROUPS", "docs, lint docs"),
            ("BP_UV_EXTRAS", "postgres"),
        ]))
        .unwrap();
        assert_eq!(config.groups, ["docs", "lint"]);
        assert_eq!(
            config.sync_args(),
            [
                "--no-dev", "--group", "docs", "--group", "lint", "--extra", "postgres"
            ]
        );
    }

    #[test]
    fn asking_for_the_dev_group_drops_no_dev() {
        let config = Settings::from_env(&env(&[("BP_UV_GROUPS", "dev")])).unwrap();
        assert_eq!(config.sync_args(), ["--group", "dev"]);
    }

    #[test]
    fn bad_names_are_rejected() {
        assert_eq!(
            Settings::from_env(&env(&[("BP_UV_GROUPS", "dev;rm -rf /")])),
            Err(SettingsError::InvalidName {
                variable: "BP_UV_GROUPS",
                value: "dev;rm -rf /".into(),
                name: "dev;rm".into()
            })
        );
        assert!(Settings::from_env(&env(&[("BP_UV_EXTRAS", "-x")])).is_err());
    }

    #[test]
    fn package_and_collectstatic() {
        let config = Settings::from_env(&env(&[
            ("BP_UV_PACKAGE", " api "),
            ("BP_DJANGO_COLLECTSTATIC", "False"),
        ]))
        .unwrap();
        assert_eq!(config.package.as_deref(), Some("api"));
        assert!(!config.django_collectstatic);
        assert_eq!(
            Settings::from_env(&env(&[("BP_UV_PACKAGE", "api,web")])),
            Err(SettingsError::SeveralPackages {
                value: "api web".into()
            })
        );
        assert_eq!(
            Settings::from_env(&env(&[("BP_DJANGO_COLLECTSTATIC", "maybe")])),
            Err(SettingsError::NotABoolean {
                variable: "BP_DJANGO_COLLECTSTATIC",
                value: "maybe".into()
            })
        );
    }
}
