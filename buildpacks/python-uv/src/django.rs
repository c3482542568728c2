//! Django's static files, collected at build time (`manage.py collectstatic`), so the image
//! serves them without a step at start-up, where the app directory is read-only.

use crate::uv::Uv;
use bullet_stream::fun_run::{self, CmdError, CommandWithName};
use bullet_stream::global::print;
use libcnb::Env;
use luban_common::redact::RedactingWriter;
use luban_common::uv_project::{LockedPackage, normalize};
use std::path::Path;
use std::process::Command;

pub(crate) const MANAGE_PY: &str = "manage.py";

/// What the build does about static files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Not a Django project (no `manage.py`, or no `django` installed).
    NotDjango,
    /// `BP_DJANGO_COLLECTSTATIC=false`.
    TurnedOff,
    Collect,
}

/// Pure: what to do, from the app's files and what will be installed.
pub(crate) fn plan(has_manage_py: bool, installed: &[&LockedPackage], enabled: bool) -> Plan {
    let django = installed.iter().any(|p| normalize(&p.name) == "django");
    match (has_manage_py && django, enabled) {
        (false, _) => Plan::NotDjango,
        (true, false) => Plan::TurnedOff,
        (true, true) => Plan::Collect,
    }
}

#[derive(Debug)]
pub(crate) enum DjangoError {
    /// The settings could not be loaded to read `STATIC_ROOT`.
    Settings(CmdError),
    Collectstatic(CmdError),
}

const STATIC_ROOT_PROBE: &str = "from django.conf import settings\nprint('LUBAN_STATIC_ROOT=' + str(getattr(settings, 'STATIC_ROOT', None) or ''))";

/// Reads the probe's output: the `STATIC_ROOT` value, empty when unset.
pub(crate) fn parse_static_root(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("LUBAN_STATIC_ROOT="))
        .map(|root| root.trim().to_string())
}

/// Runs `collectstatic` when Django's settings define `STATIC_ROOT`, with the venv's Python in
/// the app directory. The app's settings may read its own variables from the build env, so the
/// user's build env is passed on, except uv's settings (which may hold index credentials) and
/// the variables that would change which Python or packages run.
pub(crate) fn collectstatic(
    uv: &Uv,
    venv: &Path,
    app_dir: &Path,
    user_env: &Env,
) -> Result<(), DjangoError> {
    let python = venv.join("bin").join("python");
    let command = |args: &[&str]| {
        let mut command = uv.clean_command(&python);
        for (name, value) in user_env {
            let Some(text) = name.to_str() else { continue };
            let excluded = text.starts_with("UV_")
                || text.starts_with("PYTHON")
                || text.starts_with("LD_")
                || text.starts_with("CNB_")
                || matches!(text, "PATH" | "HOME" | "VIRTUAL_ENV");
            if !excluded {
                command.env(name, value);
            }
        }
        command.env("VIRTUAL_ENV", venv);
        command.current_dir(app_dir).arg(MANAGE_PY).args(args);
        command
    };

    let probe = command(&["shell", "--command", STATIC_ROOT_PROBE])
        .named("python manage.py shell")
        .named_output()
        .and_then(fun_run::NamedOutput::nonzero_captured)
        .map_err(DjangoError::Settings)?;
    let static_root = parse_static_root(&probe.stdout_lossy()).unwrap_or_default();
    if static_root.is_empty() {
        print::sub_bullet(
            "Skipping `collectstatic`: Django's settings don't set `STATIC_ROOT` (set it to serve static files from the image)",
        );
        return Ok(());
    }
    run_streamed(&mut command(&["collectstatic", "--noinput"]))
        .map(drop)
        .map_err(DjangoError::Collectstatic)
}

fn run_streamed(command: &mut Command) -> Result<fun_run::NamedOutput, CmdError> {
    let name = "python manage.py collectstatic --noinput".to_string();
    let mut named = command.named(name.clone());
    print::sub_stream_with(format!("Running `{name}`"), |stdout, stderr| {
        named.stream_output(RedactingWriter::new(stdout), RedactingWriter::new(stderr))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use luban_common::uv_project::{Lock, Selection};

    fn installed(lock: &Lock) -> Vec<&LockedPackage> {
        lock.installed(&Selection::Root, &[], &[])
    }

    #[test]
    fn plan_needs_manage_py_and_django() {
        let lock = Lock::parse("version = 1\n[[package]]\nname = \"site\"\nsource = { virtual = \".\" }\ndependencies = [{ name = \"Django\" }]\n[[package]]\nname = \"django\"\nversion = \"5.1\"\n").unwrap();
        assert_eq!(plan(true, &installed(&lock), true), Plan::Collect);
        assert_eq!(plan(true, &installed(&lock), false), Plan::TurnedOff);
        assert_eq!(plan(false, &installed(&lock), true), Plan::NotDjango);
        let flask = Lock::parse("version = 1\n[[package]]\nname = \"site\"\nsource = { virtual = \".\" }\ndependencies = [{ name = \"flask\" }]\n[[package]]\nname = \"flask\"\nversion = \"3\"\n").unwrap();
        assert_eq!(plan(true, &installed(&flask), true), Plan::NotDjango);
    }

    #[test]
    fn static_root_from_the_probe() {
        assert_eq!(
            parse_static_root(
                "3 objects imported automatically\nLUBAN_STATIC_ROOT=/workspace/staticfiles\n"
            ),
            Some("/workspace/staticfiles".into())
        );
        assert_eq!(
            parse_static_root("LUBAN_STATIC_ROOT=\n"),
            Some(String::new())
        );
        assert_eq!(parse_static_root("Traceback"), None);
    }
}
