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

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
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
