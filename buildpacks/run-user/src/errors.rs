//! Every message luban/run-user shows: at build time and, through the exec.d program, when
//! the image starts.

use crate::Ids;
use luban_common::message::ErrorMessage;
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

#[cfg(test)]
mod tests {
    use super::*;

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
