//! Runs uv for this buildpack: always the uv that luban/uv installed, always in a clean env.

use bullet_stream::fun_run::{self, CmdError, CommandWithName};
use bullet_stream::global::print;
use libcnb::Env;
use luban_common::process_env::clean_env;
use luban_common::redact::RedactingWriter;
use pep440_rs::Version;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

#[derive(Debug)]
pub(crate) enum UvError {
    /// No `uv` on the PATH the lifecycle gave this buildpack.
    NotFound,
    Command(CmdError),
    UnexpectedOutput {
        command: String,
        output: String,
    },
}

pub(crate) struct Uv {
    program: PathBuf,
    env: BTreeMap<OsString, OsString>,
}

impl Uv {
    /// Finds the `uv` that luban/uv installed (its absolute path is in `LUBAN_UV`; a user's
    /// `PATH` comes before the layers' in the build env, so a `PATH` lookup could find another)
    /// and prepares a clean environment with the user's uv, TLS and proxy settings.
    pub(crate) fn new(user_env: &Env, home: &Path) -> Result<Self, UvError> {
        let program = std::env::var_os("LUBAN_UV")
            .map(PathBuf::from)
            .filter(|path| path.is_file())
            .ok_or(UvError::NotFound)?;
        let uv_dir = program.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut env = clean_env(user_env.iter(), &[uv_dir], home.as_os_str());
        // Never ask, never update, never write outside the layers.
        env.insert("UV_NO_PROGRESS".into(), "1".into());
        // The uv cache and the venv are layers on the same filesystem: hard links install
        // without copying (uv falls back to copying where they can't be made). Nothing writes
        // into installed files afterwards (bytecode goes to new files), so the cache stays
        // as it was.
        env.insert("UV_LINK_MODE".into(), "hardlink".into());
        env.insert("UV_PYTHON_PREFERENCE".into(), "only-managed".into());
        // Bytecode with hash-checked invalidation: the lifecycle resets file times when it
        // exports layers, which would make timestamp-checked bytecode stale in the image.
        env.insert("SOURCE_DATE_EPOCH".into(), "315532801".into());
        Ok(Uv { program, env })
    }

    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.env_clear().envs(&self.env);
        command
    }

    /// Any program other than uv (Python, `getconf`): the same clean environment, without
    /// uv's settings, so index credentials given as `UV_INDEX_*` never reach it.
    pub(crate) fn clean_command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command.env_clear().envs(
            self.env
                .iter()
                .filter(|(name, _)| !name.to_string_lossy().starts_with("UV_")),
        );
        command
    }

    pub(crate) fn version(&self) -> Result<String, UvError> {
        let output = capture(self.command().arg("--version"))?;
        output
            .split_whitespace()
            .nth(1)
            .map(str::to_string)
            .ok_or_else(|| UvError::UnexpectedOutput {
                command: "uv --version".into(),
                output,
            })
    }

    /// The stable `CPython` versions this uv can install for this machine, honouring the user's
    /// `UV_PYTHON_DOWNLOADS_JSON_URL` and `UV_PYTHON_INSTALL_MIRROR`.
    pub(crate) fn available_pythons(&self) -> Result<Vec<Version>, UvError> {
        let output = capture(self.command().args([
            "python",
            "list",
            "--only-downloads",
            "--all-versions",
            "--output-format",
            "json",
        ]))?;
        parse_python_list(&output).ok_or(UvError::UnexpectedOutput {
            command: "uv python list".into(),
            output,
        })
    }
}

/// Runs a uv command, streaming its output under a sub-bullet with URL credentials redacted
/// (uv redacts its own, this also covers what build backends print).
pub(crate) fn stream(command: &mut Command) -> Result<fun_run::NamedOutput, CmdError> {
    let name = format!("uv {}", display_args(command));
    let mut named = command.named(name.clone());
    print::sub_stream_with(format!("Running `{name}`"), |stdout, stderr| {
        named.stream_output(RedactingWriter::new(stdout), RedactingWriter::new(stderr))
    })
}

/// Runs a uv command quietly and returns its stdout.
pub(crate) fn capture(command: &mut Command) -> Result<String, UvError> {
    let name = format!("uv {}", display_args(command));
    command
        .named(name)
        .named_output()
        .and_then(fun_run::NamedOutput::nonzero_captured)
        .map(|output| output.stdout_lossy())
        .map_err(UvError::Command)
}

fn display_args(command: &Command) -> String {
    command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Deserialize)]
struct PythonListEntry {
    implementation: String,
    version: String,
    #[serde(default)]
    variant: Option<String>,
}

fn parse_python_list(json: &str) -> Option<Vec<Version>> {
    let entries: Vec<PythonListEntry> = serde_json::from_str(json).ok()?;
    let mut versions: Vec<Version> = entries
        .into_iter()
        .filter(|e| e.implementation.eq_ignore_ascii_case("cpython"))
        .filter(|e| e.variant.as_deref().is_none_or(|v| v == "default"))
        .filter_map(|e| Version::from_str(&e.version).ok())
        .filter(|v| !v.any_prerelease())
        .collect();
    versions.sort();
    versions.dedup();
    Some(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_other_than_uv_get_no_uv_settings() {
        let mut user_env = Env::new();
        user_env.insert("UV_INDEX_PRIVATE_PASSWORD", "s3cret");
        user_env.insert("UV_INDEX_URL", "https://u:p@index.example/simple");
        let uv = Uv {
            program: PathBuf::from("/layers/luban_uv/uv/bin/uv"),
            env: clean_env(user_env.iter(), &[], "/tmp".as_ref()),
        };
        let names = |command: &Command| -> Vec<String> {
            command
                .get_envs()
                .map(|(name, _)| name.to_string_lossy().into_owned())
                .collect()
        };
        assert!(names(&uv.command()).contains(&"UV_INDEX_PRIVATE_PASSWORD".to_string()));
        let python = uv.clean_command(Path::new("/usr/bin/python3"));
        assert!(
            names(&python).iter().all(|n| !n.starts_with("UV_")),
            "{:?}",
            names(&python)
        );
        assert!(names(&python).contains(&"PATH".to_string()));
    }

    #[test]
    fn python_list_keeps_stable_default_cpython() {
        let json = r#"[
          {"key":"cpython-3.13.0-linux-x86_64-gnu","version":"3.13.0","implementation":"cpython","variant":"default","path":null},
          {"key":"cpython-3.13.0+freethreaded-linux-x86_64-gnu","version":"3.13.0","implementation":"cpython","variant":"freethreaded","path":null},
          {"key":"cpython-3.14.0a1-linux-x86_64-gnu","version":"3.14.0a1","implementation":"cpython","variant":"default","path":null},
          {"key":"pypy-3.10.14-linux-x86_64-gnu","version":"3.10.14","implementation":"pypy","variant":"default","path":null},
          {"key":"cpython-3.12.1-linux-x86_64-gnu","version":"3.12.1","implementation":"cpython","path":null}
        ]"#;
        let versions: Vec<String> = parse_python_list(json)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(versions, ["3.12.1", "3.13.0"]);
    }

    #[test]
    fn python_list_garbage() {
        assert!(parse_python_list("not json").is_none());
    }
}
