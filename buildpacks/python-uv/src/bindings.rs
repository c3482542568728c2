//! Private-index credentials as CNB service bindings (`pack build --volume …:/platform/bindings/x`,
//! kpack's `spec.build.services`): each binding of type `uv-index` gives uv the credentials of
//! one index, exactly as `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD` in the build env would.
//!
//! A binding is a directory under `SERVICE_BINDING_ROOT` (default `/platform/bindings`) holding
//! one file per key: `type` (`uv-index`), `username`, `password`, and optionally `name`, the
//! index's name in `[[tool.uv.index]]` (default: the binding's directory name). Bindings of
//! other types are not ours and are left alone.

use libcnb::Env;
use std::path::{Path, PathBuf};

/// The binding type this buildpack reads.
pub(crate) const INDEX_TYPE: &str = "uv-index";

/// A key's file is read up to this size: credentials are short.
const KEY_LIMIT: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexCredentials {
    /// The binding's directory name.
    pub(crate) binding: String,
    /// The index's name, as `[[tool.uv.index]]` has it.
    pub(crate) index: String,
    pub(crate) username: String,
    pub(crate) password: String,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BindingError {
    MissingKey {
        binding: String,
        key: &'static str,
    },
    InvalidIndexName {
        binding: String,
        name: String,
    },
    Unreadable {
        binding: String,
        key: String,
        error: String,
    },
    /// Two bindings name the same index.
    SameIndex {
        index: String,
        bindings: (String, String),
    },
}

/// Where the platform put the bindings: `SERVICE_BINDING_ROOT` from the build's own
/// environment or the user's build env, else `/platform/bindings`.
pub(crate) fn root(user_env: &Env) -> PathBuf {
    std::env::var_os("SERVICE_BINDING_ROOT")
        .or_else(|| user_env.get("SERVICE_BINDING_ROOT").cloned())
        .filter(|root| !root.is_empty())
        .map_or_else(|| PathBuf::from("/platform/bindings"), PathBuf::from)
}

/// Reads one key of a binding: `None` when the file doesn't exist; the value without the
/// whitespace around it (a Secret written with `echo` ends in a newline).
fn key(dir: &Path, binding: &str, key: &str) -> Result<Option<String>, BindingError> {
    use std::io::Read as _;
    let unreadable = |error: std::io::Error| BindingError::Unreadable {
        binding: binding.to_string(),
        key: key.to_string(),
        error: error.to_string(),
    };
    let file = match std::fs::File::open(dir.join(key)) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(unreadable(error)),
    };
    let mut value = String::new();
    file.take(KEY_LIMIT)
        .read_to_string(&mut value)
        .map_err(unreadable)?;
    Ok(Some(value.trim().to_string()))
}

/// The `uv-index` bindings under `root`, sorted by binding name; none when `root` doesn't
/// exist.
pub(crate) fn read_index_credentials(root: &Path) -> Result<Vec<IndexCredentials>, BindingError> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(Vec::new());
    };
    let mut dirs: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        // Kubernetes' Secret volumes keep their files in hidden `..data` directories.
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    dirs.sort();
    let mut found: Vec<IndexCredentials> = Vec::new();
    for (binding, dir) in dirs {
        let is_index =
            key(&dir, &binding, "type")?.is_some_and(|kind| kind.eq_ignore_ascii_case(INDEX_TYPE));
        if !is_index {
            continue;
        }
        let required = |name: &'static str| {
            key(&dir, &binding, name)?
                .filter(|value| !value.is_empty())
                .ok_or(BindingError::MissingKey {
                    binding: binding.clone(),
                    key: name,
                })
        };
        let username = required("username")?;
        let password = required("password")?;
        let index = key(&dir, &binding, "name")?
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| binding.clone());
        let valid = index
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !valid {
            return Err(BindingError::InvalidIndexName {
                binding,
                name: index,
            });
        }
        if let Some(other) = found
            .iter()
            .find(|c| env_name(&c.index, "") == env_name(&index, ""))
        {
            return Err(BindingError::SameIndex {
                index,
                bindings: (other.binding.clone(), binding),
            });
        }
        found.push(IndexCredentials {
            binding,
            index,
            username,
            password,
        });
    }
    Ok(found)
}

/// uv's variable for a key of an index's credentials: `UV_INDEX_<NAME>_<KEY>`, the name upper
/// case with `-` and `.` as `_`.
pub(crate) fn env_name(index: &str, key: &str) -> String {
    let name: String = index
        .chars()
        .map(|c| {
            if c == '-' || c == '.' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    format!("UV_INDEX_{name}_{key}")
}

/// The user's build env with the bindings' credentials added. A variable the user set
/// themselves wins over a binding's (it is the more specific of the two).
pub(crate) fn with_credentials(user_env: &Env, credentials: &[IndexCredentials]) -> Env {
    let mut env = user_env.clone();
    for credential in credentials {
        for (key, value) in [
            ("USERNAME", &credential.username),
            ("PASSWORD", &credential.password),
        ] {
            let name = env_name(&credential.index, key);
            if !env.contains_key(&name) {
                env.insert(name, value);
            }
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(root: &Path, name: &str, keys: &[(&str, &str)]) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (key, value) in keys {
            std::fs::write(dir.join(key), value).unwrap();
        }
    }

    #[test]
    fn uv_index_bindings_become_uv_credentials() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        binding(
            root,
            "private-index",
            &[
                ("type", "uv-index\n"),
                ("username", "ci\n"),
                ("password", "s3cret-pw\n"),
            ],
        );
        binding(
            root,
            "corp",
            &[
                ("type", "UV-INDEX"),
                ("name", "corp.internal"),
                ("username", "u"),
                ("password", "p"),
            ],
        );
        binding(root, "db", &[("type", "postgresql"), ("password", "x")]);
        let found = read_index_credentials(root).unwrap();
        assert_eq!(
            found,
            [
                IndexCredentials {
                    binding: "corp".into(),
                    index: "corp.internal".into(),
                    username: "u".into(),
                    password: "p".into()
                },
                IndexCredentials {
                    binding: "private-index".into(),
                    index: "private-index".into(),
                    username: "ci".into(),
                    password: "s3cret-pw".into()
                },
            ]
        );

        let mut user = Env::new();
        user.insert("UV_INDEX_CORP_INTERNAL_USERNAME", "from-env");
        let env = with_credentials(&user, &found);
        let get = |name: &str| env.get_string_lossy(name);
        assert_eq!(
            get("UV_INDEX_CORP_INTERNAL_USERNAME").as_deref(),
            Some("from-env")
        );
        assert_eq!(get("UV_INDEX_CORP_INTERNAL_PASSWORD").as_deref(), Some("p"));
        assert_eq!(
            get("UV_INDEX_PRIVATE_INDEX_PASSWORD").as_deref(),
            Some("s3cret-pw")
        );
        assert_eq!(
            get("UV_INDEX_PRIVATE_INDEX_USERNAME").as_deref(),
            Some("ci")
        );
    }

    #[test]
    fn bad_bindings_are_refused() {
        let root = tempfile::tempdir().unwrap();
        binding(
            root.path(),
            "private",
            &[("type", "uv-index"), ("username", "u")],
        );
        assert_eq!(
            read_index_credentials(root.path()),
            Err(BindingError::MissingKey {
                binding: "private".into(),
                key: "password"
            })
        );

        let root = tempfile::tempdir().unwrap();
        let keys = [("type", "uv-index"), ("username", "u"), ("password", "p")];
        binding(
            root.path(),
            "a",
            &[keys[0], keys[1], keys[2], ("name", "x y")],
        );
        assert!(matches!(
            read_index_credentials(root.path()),
            Err(BindingError::InvalidIndexName { .. })
        ));

        let root = tempfile::tempdir().unwrap();
        binding(root.path(), "private", &keys);
        binding(
            root.path(),
            "other",
            &[keys[0], keys[1], keys[2], ("name", "PRIVATE")],
        );
        assert!(matches!(
            read_index_credentials(root.path()),
            Err(BindingError::SameIndex { .. })
        ));

        // No bindings at all.
        assert_eq!(
            read_index_credentials(&root.path().join("missing")),
            Ok(vec![])
        );
    }
}
