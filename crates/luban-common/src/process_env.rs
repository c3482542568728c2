//! The environment Luban gives the programs it runs during a build.
//!
//! Programs start from an empty environment: `PATH` holds only the directories the buildpacks
//! put there and the system directories, so a `PYTHONPATH`, `PYTHONHOME` or a stray `python` on
//! the build image's `PATH` can't change what gets installed. From the user's build env
//! (`pack build --env`, the platform's `env/` directory) only uv's own settings, TLS and proxy
//! variables are passed on.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// uv settings the buildpacks set themselves; a user's value would break the layer layout.
pub const RESERVED_UV_VARS: &[&str] = &[
    "UV_CACHE_DIR",
    "UV_LINK_MODE",
    "UV_NO_CACHE",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PYTHON",
    "UV_PYTHON_BIN_DIR",
    "UV_PYTHON_DOWNLOADS",
    "UV_PYTHON_INSTALL_DIR",
    "UV_PYTHON_PREFERENCE",
    "UV_SYSTEM_PYTHON",
    "UV_TOOL_DIR",
];

const PASSED_THROUGH: &[&str] = &[
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
];

const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether a variable from the user's build env is passed on to the programs Luban runs.
#[must_use]
pub fn is_passed_through(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    (name.starts_with("UV_") && !RESERVED_UV_VARS.contains(&name)) || PASSED_THROUGH.contains(&name)
}

/// Builds a clean environment: `PATH` from `path_dirs` and the system directories, `HOME`,
/// a UTF-8 locale, and the passed-through variables of `user_env`.
#[must_use]
pub fn clean_env<'a>(
    user_env: impl IntoIterator<Item = (&'a OsString, &'a OsString)>,
    path_dirs: &[PathBuf],
    home: &OsStr,
) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = user_env
        .into_iter()
        .filter(|(name, _)| is_passed_through(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut path = OsString::new();
    for dir in path_dirs {
        path.push(dir);
        path.push(":");
    }
    path.push(SYSTEM_PATH);
    env.insert("PATH".into(), path);
    env.insert("HOME".into(), home.to_os_string());
    env.insert("LANG".into(), "C.UTF-8".into());
    env
}

/// Whether a uv setting holds a secret (a password, a token, a username that goes with one).
#[must_use]
pub fn is_secret_setting(name: &str) -> bool {
    name.contains("USERNAME")
        || crate::redact::SECRET_NAME_WORDS
            .iter()
            .any(|word| name.contains(word))
}

/// The uv settings passed through to uv, as `NAME=value` lines for a cache key: secrets left
/// out (not even hashed: layer metadata ends up in image labels), URL credentials redacted,
/// and the Python download settings (they are the Python layer's key) left out. Sorted, so
/// the key doesn't depend on the order of the env.
#[must_use]
pub fn uv_settings_for_key<'a>(
    user_env: impl IntoIterator<Item = (&'a OsString, &'a OsString)>,
) -> Vec<String> {
    let mut settings: Vec<String> = user_env
        .into_iter()
        .filter(|(name, _)| is_passed_through(name))
        .filter_map(|(name, value)| {
            let name = name.to_str()?;
            let python_download = matches!(
                name,
                "UV_PYTHON_DOWNLOADS_JSON_URL" | "UV_PYTHON_INSTALL_MIRROR"
            );
            (name.starts_with("UV_") && !is_secret_setting(name) && !python_download).then(|| {
                format!(
                    "{name}={}",
                    crate::redact::redact_urls(&value.to_string_lossy())
                )
            })
        })
        .collect();
    settings.sort();
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    #[test]
    fn uv_settings_for_the_key_have_no_secrets() {
        let user = [
            (
                os("UV_INDEX_URL"),
                os("https://u:hunter2@example.com/simple"),
            ),
            (os("UV_INDEX_PRIVATE_PASSWORD"), os("hunter2")),
            (os("UV_INDEX_PRIVATE_USERNAME"), os("u")),
            (os("UV_PUBLISH_TOKEN"), os("pypi-abc")),
            (os("UV_NO_BINARY"), os("1")),
            (os("UV_CACHE_DIR"), os("/elsewhere")),
            (
                os("UV_PYTHON_DOWNLOADS_JSON_URL"),
                os("http://mirror/d.json"),
            ),
            (os("SSL_CERT_FILE"), os("/etc/ca.pem")),
        ];
        let settings = uv_settings_for_key(user.iter().map(|(k, v)| (k, v)));
        assert_eq!(
            settings,
            [
                "UV_INDEX_URL=https://u:****@example.com/simple",
                "UV_NO_BINARY=1"
            ]
        );
        assert!(!settings.join(" ").contains("hunter2"));
    }

    #[test]
    fn passes_uv_settings_tls_and_proxies_only() {
        let user = [
            (os("UV_INDEX_URL"), os("https://u:p@example.com/simple")),
            (
                os("UV_PYTHON_DOWNLOADS_JSON_URL"),
                os("http://127.0.0.1/d.json"),
            ),
            (os("UV_PROJECT_ENVIRONMENT"), os("/somewhere/else")),
            (os("PYTHONPATH"), os("/broken")),
            (os("PATH"), os("/broken/bin")),
            (os("SSL_CERT_FILE"), os("/etc/ca.pem")),
            (os("https_proxy"), os("http://proxy:3128")),
        ];
        let env = clean_env(
            user.iter().map(|(k, v)| (k, v)),
            &[PathBuf::from("/layers/luban_uv/uv/bin")],
            OsStr::new("/home/cnb"),
        );
        let names: Vec<_> = env.keys().map(|k| k.to_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "HOME",
                "LANG",
                "PATH",
                "SSL_CERT_FILE",
                "UV_INDEX_URL",
                "UV_PYTHON_DOWNLOADS_JSON_URL",
                "https_proxy"
            ]
        );
        assert_eq!(
            env[&os("PATH")],
            os(
                "/layers/luban_uv/uv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            )
        );
    }
}
