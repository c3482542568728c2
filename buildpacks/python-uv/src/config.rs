//! Build configuration read from the user's build env, checked before any work starts.

use libcnb::Env;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Config {
    /// Extra dependency groups (`BP_UV_GROUPS`), installed besides the default ones.
    pub(crate) groups: Vec<String>,
    /// Extras of the project (`BP_UV_EXTRAS`).
    pub(crate) extras: Vec<String>,
    /// The workspace member to install (`BP_UV_PACKAGE`); all members when unset.
    pub(crate) package: Option<String>,
    /// Whether Django's `collectstatic` runs (`BP_DJANGO_COLLECTSTATIC`, default true).
    pub(crate) django_collectstatic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigError {
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

impl Config {
    pub(crate) fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let package = names(
            "BP_UV_PACKAGE",
            env.get_string_lossy("BP_UV_PACKAGE").as_deref(),
        )?;
        if package.len() > 1 {
            return Err(ConfigError::SeveralPackages {
                value: package.join(" "),
            });
        }
        Ok(Config {
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
    pub(crate) fn sync_args(&self) -> Vec<String> {
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
) -> Result<bool, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(ConfigError::NotABoolean {
            variable,
            value: value.unwrap_or_default().to_string(),
        }),
    }
}

/// Splits a comma- or space-separated list of group or extra names, checking each against the
/// name rules of PEP 508 / PEP 735.
fn names(variable: &'static str, value: Option<&str>) -> Result<Vec<String>, ConfigError> {
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
            return Err(ConfigError::InvalidName {
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

    fn env(vars: &[(&str, &str)]) -> Env {
        let mut env = Env::new();
        for (k, v) in vars {
            env.insert(k, v);
        }
        env
    }

    #[test]
    fn unset_means_defaults() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(
            config,
            Config {
                django_collectstatic: true,
                ..Config::default()
            }
        );
        assert_eq!(config.sync_args(), ["--no-dev"]);
    }

    #[test]
    fn groups_and_extras_become_sync_args() {
        let config = Config::from_env(&env(&[
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
        let config = Config::from_env(&env(&[("BP_UV_GROUPS", "dev")])).unwrap();
        assert_eq!(config.sync_args(), ["--group", "dev"]);
    }

    #[test]
    fn bad_names_are_rejected() {
        assert_eq!(
            Config::from_env(&env(&[("BP_UV_GROUPS", "dev;rm -rf /")])),
            Err(ConfigError::InvalidName {
                variable: "BP_UV_GROUPS",
                value: "dev;rm -rf /".into(),
                name: "dev;rm".into()
            })
        );
        assert!(Config::from_env(&env(&[("BP_UV_EXTRAS", "-x")])).is_err());
    }

    #[test]
    fn package_and_collectstatic() {
        let config = Config::from_env(&env(&[
            ("BP_UV_PACKAGE", " api "),
            ("BP_DJANGO_COLLECTSTATIC", "False"),
        ]))
        .unwrap();
        assert_eq!(config.package.as_deref(), Some("api"));
        assert!(!config.django_collectstatic);
        assert_eq!(
            Config::from_env(&env(&[("BP_UV_PACKAGE", "api,web")])),
            Err(ConfigError::SeveralPackages {
                value: "api web".into()
            })
        );
        assert_eq!(
            Config::from_env(&env(&[("BP_DJANGO_COLLECTSTATIC", "maybe")])),
            Err(ConfigError::NotABoolean {
                variable: "BP_DJANGO_COLLECTSTATIC",
                value: "maybe".into()
            })
        );
    }
}
