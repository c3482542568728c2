//! Every message luban/run-user shows: at build time and, through the exec.d program, when
//! the image starts.

use crate::Ids;
use crate::writable::{Origin, Outcome, STORE, Skip, Writable};
use luban_common::message::ErrorMessage;
use luban_common::settings::WritablePathError;
use std::path::Path;

/// The exec.d check refuses uid 0.
#[must_use]
pub fn root_may_not_launch(ids: Ids) -> ErrorMessage {
    ErrorMessage::new(
        "Refusing to start the app as root",
        format!(
            "This image runs its app as a non-root user, but the container was started with uid {} and gid {}.\nRunning as root would let the app rewrite its own code and anything else in the image.",
            ids.uid, ids.gid
        ),
    )
    .hint("Start the container without `--user 0` / `runAsUser: 0` (the image's own user is the default), or with another non-root user, e.g. `--user 1002:1000`; on Kubernetes also set `runAsNonRoot: true`.")
}

/// The exec.d check couldn't read the ids it runs with.
#[must_use]
pub fn ids_unreadable_at_launch(error: &str) -> ErrorMessage {
    ErrorMessage::new(
        "Could not check the user the app runs as",
        format!("Reading the process's ids failed: {error}."),
    )
    .hint("The image refuses to start when it can't tell that it isn't root. Run it where `/proc` is mounted (any container runtime does this).")
}

/// The build runs as root, or the platform says it does.
#[must_use]
pub fn root_may_not_build(found: &[String]) -> ErrorMessage {
    ErrorMessage::new(
        "Refusing to build as root",
        format!(
            "Found: {}.\nAn image built as root has files the app can rewrite at run time, which this builder is meant to prevent.",
            found.join("; ")
        ),
    )
    .hint("Use a build image whose user is not root (set `CNB_USER_ID` / `CNB_GROUP_ID` to non-zero ids, like the Luban stacks' 1001:1000), and don't pass `--uid 0` / `--gid 0` to the lifecycle.")
}

/// The build couldn't read its own ids.
#[must_use]
pub fn ids_unreadable_at_build(error: &str) -> ErrorMessage {
    ErrorMessage::new(
        "Could not check the build user",
        format!("Reading the build process's ids failed: {error}."),
    )
    .hint("This is a problem with the build environment: `/proc/self/status` must be readable. Re-run the build; if it fails again, report it with the build log.")
}

/// The app couldn't be made read-only for the run user.
#[must_use]
pub fn app_permissions(app_dir: &Path, error: &std::io::Error) -> ErrorMessage {
    ErrorMessage::new(
        "Could not make the app read-only for the run user",
        format!(
            "Changing permissions under `{}` failed: {error}.",
            app_dir.display()
        ),
    )
    .hint("The build user must own the app's files. If the platform copies the app with another owner, fix that (pack and the Argo build do it right).")
}

/// The app directory itself belongs to the platform and stays writable by others (a warning).
#[must_use]
pub fn platform_owned_app_dir(app_dir: &Path, mode: u32) -> String {
    // Without the sticky bit, whoever may write the directory may also rename or remove the
    // files in it, whatever their own modes.
    let replace = if mode & 0o1000 == 0 {
        ", and, as it has no sticky bit, rename or replace the app's files there"
    } else {
        ""
    };
    format!(
        "`{}` itself belongs to the platform, not the build user, and has mode {mode:04o}, which only its owner may change (kpack builds in such a volume). The app's files are read-only for the run user, but while the app runs it can add files to `{}`{replace}.",
        app_dir.display(),
        app_dir.display()
    )
}

/// `BP_WRITABLE_PATHS` holds an entry that is not a path under the app.
#[must_use]
pub fn writable_setting(error: &WritablePathError) -> ErrorMessage {
    ErrorMessage::new(
        "`BP_WRITABLE_PATHS` holds a path outside the app",
        format!(
            "Found `BP_WRITABLE_PATHS={}`; `{}` is not a relative path under the app directory (no leading `/`, no `.` or `..` parts, no backslashes).",
            error.value, error.entry
        ),
    )
    .hint("List paths relative to the app's root, comma- or space-separated, with a trailing `/` for a directory: `BP_WRITABLE_PATHS=data/,instance/app.db`.")
}

/// A path `BP_WRITABLE_PATHS` names can't be made writable.
#[must_use]
pub fn writable_setting_refused(path: &str, skip: &Skip) -> ErrorMessage {
    let (why, fix) = match skip {
        Skip::Symlink(link) => (
            format!("`{link}` is a symlink, which could point out of the app"),
            "Name the real path under the app, or replace the symlink with a directory."
                .to_string(),
        ),
        Skip::HoldsCode(file) => (
            format!("it holds Python code (`{file}`), which stays read-only"),
            "Keep what the app writes in a directory of its own, and name that one.".to_string(),
        ),
        Skip::WrongKind => (
            "it is a file, but the trailing `/` asks for a directory".to_string(),
            format!("Write `{path}` (no trailing `/`) to make that file writable."),
        ),
    };
    ErrorMessage::new(
        format!("`BP_WRITABLE_PATHS` names `{path}`, which can't be made writable"),
        format!("Making `{path}` writable for the run user was refused: {why}."),
    )
    .hint(fix)
}

/// Making a path writable failed on the filesystem.
#[must_use]
pub fn writable_failed(path: &str, error: &std::io::Error) -> ErrorMessage {
    ErrorMessage::new(
        format!("Could not make `{path}` writable for the run user"),
        format!("Creating it or changing its permissions failed: {error}."),
    )
    .hint("The build user must own the app's files. Re-run the build; if it fails again, report it with the build log.")
}

/// One line of the build log for a path the app writes: what was done and why.
#[must_use]
pub fn writable_line(writable: &Writable, outcome: &Outcome) -> String {
    let shown = if writable.directory {
        format!("`{}/`", writable.path)
    } else {
        format!("`{}`", writable.path)
    };
    let origin = match &writable.origin {
        Origin::Gitignore(line) => format!("`.gitignore` line {line}"),
        Origin::Django(file) => format!("Django's SQLite database in `{file}`"),
        Origin::Setting => "`BP_WRITABLE_PATHS`".to_string(),
    };
    match outcome {
        Outcome::Made if writable.directory => format!("{shown} ({origin})"),
        Outcome::Made => format!("{shown} ({origin}; kept in `{STORE}/`)"),
        Outcome::Skipped(Skip::Symlink(link)) => {
            format!("Left {shown} alone ({origin}): `{link}` is a symlink")
        }
        Outcome::Skipped(Skip::HoldsCode(file)) => {
            format!("Left {shown} read-only ({origin}): it holds code (`{file}`)")
        }
        Outcome::Skipped(Skip::WrongKind) => format!(
            "Left {shown} alone ({origin}): it is a {}",
            if writable.directory {
                "file"
            } else {
                "directory"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_paths_in_the_log() {
        let line = |path: &str, directory, origin, outcome| {
            writable_line(
                &Writable {
                    path: String::from(path),
                    directory,
                    origin,
                },
                &outcome,
            )
        };
        insta::assert_snapshot!(
            [
                line("data", true, Origin::Gitignore(3), Outcome::Made),
                line(
                    "db.sqlite3",
                    false,
                    Origin::Django("mysite/settings.py".into()),
                    Outcome::Made
                ),
                line(".sesskey", false, Origin::Setting, Outcome::Made),
                line(
                    "logs",
                    true,
                    Origin::Gitignore(4),
                    Outcome::Skipped(Skip::Symlink("logs".into()))
                ),
                line(
                    "var",
                    true,
                    Origin::Gitignore(5),
                    Outcome::Skipped(Skip::HoldsCode("var/x.py".into()))
                ),
                line(
                    "media",
                    true,
                    Origin::Gitignore(6),
                    Outcome::Skipped(Skip::WrongKind)
                ),
            ]
            .join("\n")
        );
    }

    #[test]
    fn writable_setting_errors() {
        insta::assert_snapshot!(
            [
                writable_setting(&WritablePathError {
                    value: "data/ /etc".into(),
                    entry: "/etc".into()
                }),
                writable_setting_refused("lib", &Skip::HoldsCode("lib/x.py".into())),
                writable_setting_refused("instance/app.db", &Skip::Symlink("instance".into())),
                writable_setting_refused("data", &Skip::WrongKind),
            ]
            .map(|m| m.to_string())
            .join("\n\n---\n\n")
        );
    }

    #[test]
    fn app_dir_of_the_platform() {
        insta::assert_snapshot!(platform_owned_app_dir(Path::new("/workspace"), 0o2777));
    }

    #[test]
    fn app_dir_of_the_platform_with_the_sticky_bit() {
        insta::assert_snapshot!(platform_owned_app_dir(Path::new("/workspace"), 0o3777));
    }

    #[test]
    fn launch_as_root() {
        insta::assert_snapshot!(root_may_not_launch(Ids { uid: 0, gid: 0 }).to_string());
    }

    #[test]
    fn launch_ids_unreadable() {
        insta::assert_snapshot!(ids_unreadable_at_launch("no /proc").to_string());
    }

    #[test]
    fn build_as_root() {
        insta::assert_snapshot!(
            root_may_not_build(&[
                "the build runs with uid 0 and gid 0".into(),
                "`CNB_USER_ID` is 0".into()
            ])
            .to_string()
        );
    }

    #[test]
    fn build_ids_unreadable() {
        insta::assert_snapshot!(ids_unreadable_at_build("permission denied").to_string());
    }

    #[test]
    fn app_not_changeable() {
        insta::assert_snapshot!(
            app_permissions(
                Path::new("/workspace"),
                &std::io::Error::from(std::io::ErrorKind::PermissionDenied)
            )
            .to_string()
        );
    }
}
