//! The non-root rule shared by the build check and the launch-time exec.d program.

pub mod errors;
pub mod writable;

use luban_common::message::ErrorMessage;

// Used by the buildpack binary, not by this library.
#[cfg(test)]
use luban_test_support as _;
use {bullet_stream as _, libcnb as _};

/// The ids a process runs with, as the kernel reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// Reads the real and effective uid/gid from `/proc/self/status`; returns the effective ids,
/// or root if either the real or effective id is root.
#[must_use]
pub fn ids_from_proc_status(status: &str) -> Option<Ids> {
    let field = |name: &str| -> Option<u32> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let ids: Vec<u32> = line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        // Real and effective: if either is root, the process can act as root.
        ids.iter().copied().min()
    };
    Some(Ids {
        uid: field("Uid:")?,
        gid: field("Gid:")?,
    })
}

/// The ids of this process.
///
/// # Errors
/// When `/proc/self/status` can't be read or parsed.
pub fn current_ids() -> Result<Ids, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|error| format!("could not read `/proc/self/status`: {error}"))?;
    ids_from_proc_status(&status).ok_or_else(|| "`/proc/self/status` has no Uid/Gid lines".into())
}

/// The launch-time check: `None` when the app may start, else the message that refuses it.
/// Only uid 0 is refused: a non-root uid with gid 0 is how `OpenShift` runs every pod (an
/// arbitrary uid in the root group), and the app's files are not group-writable.
#[must_use]
pub fn launch_refusal(ids: Ids) -> Option<ErrorMessage> {
    (ids.uid == 0).then(|| errors::root_may_not_launch(ids))
}

/// The exec.d program's whole job, as a function of the ids it finds: `Ok` lets the app start,
/// `Err` carries what to print before refusing.
///
/// # Errors
/// When the app must not start, or the ids can't be read.
pub fn exec_d_check(ids: Result<Ids, String>) -> Result<(), String> {
    match ids {
        Ok(ids) => launch_refusal(ids).map_or(Ok(()), |refusal| Err(refusal.to_string())),
        Err(error) => Err(errors::ids_unreadable_at_launch(&error).to_string()),
    }
}

/// The build-time check over the process ids and the platform's `CNB_USER_ID` / `CNB_GROUP_ID`.
#[must_use]
pub fn build_refusal(
    ids: Ids,
    cnb_user_id: Option<&str>,
    cnb_group_id: Option<&str>,
) -> Option<ErrorMessage> {
    let zero = |value: Option<&str>| value.is_some_and(|v| v.trim() == "0");
    let mut found = Vec::new();
    if ids.uid == 0 || ids.gid == 0 {
        found.push(format!(
            "the build runs with uid {} and gid {}",
            ids.uid, ids.gid
        ));
    }
    if zero(cnb_user_id) {
        found.push("`CNB_USER_ID` is 0".to_string());
    }
    if zero(cnb_group_id) {
        found.push("`CNB_GROUP_ID` is 0".to_string());
    }
    (!found.is_empty()).then(|| errors::root_may_not_build(&found))
}

/// Removes group and other write permission from `dir` and everything under it (symlinks are
/// left alone), so the run user, who shares only the group with the build user, can read the
/// app but not change it. Returns how many entries were changed.
///
/// # Errors
/// When an entry can't be read or its permissions can't be changed.
pub fn remove_shared_write(dir: &std::path::Path) -> std::io::Result<usize> {
    change_modes(dir, &|mode| mode & !0o022)
}

/// Sets the permission bits of `path` and everything under it to `change` of what they are,
/// symlinks left alone (never followed). Returns how many entries changed.
///
/// # Errors
/// When an entry can't be read or its permissions can't be changed.
pub fn change_modes(path: &std::path::Path, change: &dyn Fn(u32) -> u32) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::symlink_metadata(path)?;
    if metadata.file_type().is_symlink() {
        return Ok(0);
    }
    let mode = metadata.permissions().mode() & 0o7777;
    let mut changed = 0;
    if change(mode) != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(change(mode)))?;
        changed += 1;
    }
    if metadata.is_dir() {
        for entry in std::fs::read_dir(path)? {
            changed += change_modes(&entry?.path(), change)?;
        }
    }
    Ok(changed)
}

/// What [`make_app_read_only`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct AppPermissions {
    /// How many paths lost group/other write permission.
    pub changed: usize,
    /// The app directory's own mode, when it belongs to another user (a platform's volume, as
    /// kpack's `/workspace` is) and keeps group or other write permission, which only its owner
    /// may change.
    pub platform_owned: Option<u32>,
}

/// Makes the app read-only for the run user: [`remove_shared_write`] on everything in
/// `app_dir`, and on `app_dir` itself when `uid` (the build user) owns it.
///
/// # Errors
/// When an entry can't be read or its permissions can't be changed.
pub fn make_app_read_only(app_dir: &std::path::Path, uid: u32) -> std::io::Result<AppPermissions> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let metadata = std::fs::metadata(app_dir)?;
    let mode = metadata.permissions().mode() & 0o7777;
    let mut permissions = AppPermissions {
        changed: 0,
        platform_owned: None,
    };
    if mode & 0o022 != 0 {
        if metadata.uid() == uid {
            std::fs::set_permissions(app_dir, std::fs::Permissions::from_mode(mode & !0o022))?;
            permissions.changed += 1;
        } else {
            permissions.platform_owned = Some(mode);
        }
    }
    for entry in std::fs::read_dir(app_dir)? {
        permissions.changed += remove_shared_write(&entry?.path())?;
    }
    Ok(permissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An app (`app/pkg/mod.py`, all mode 0777) under `dir`.
    fn writable_app(dir: &std::path::Path) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let app = dir.join("app");
        std::fs::create_dir_all(app.join("pkg")).unwrap();
        std::fs::write(app.join("pkg/mod.py"), "x = 1").unwrap();
        for path in [&app, &app.join("pkg"), &app.join("pkg/mod.py")] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        app
    }

    fn mode(path: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_app_dir_of_another_owner_keeps_its_mode_and_its_contents_become_read_only() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let app = writable_app(dir.path());
        let owner = std::fs::metadata(&app).unwrap().uid();

        // The build user isn't the app dir's owner: its mode stays, and is reported.
        let permissions = make_app_read_only(&app, owner + 1).unwrap();
        assert_eq!(
            permissions,
            AppPermissions {
                changed: 2,
                platform_owned: Some(0o777)
            }
        );
        assert_eq!(mode(&app), 0o777);
        assert_eq!(mode(&app.join("pkg")), 0o755);
        assert_eq!(mode(&app.join("pkg/mod.py")), 0o755);

        // Its owner: the app dir too.
        let permissions = make_app_read_only(&app, owner).unwrap();
        assert_eq!(
            permissions,
            AppPermissions {
                changed: 1,
                platform_owned: None
            }
        );
        assert_eq!(mode(&app), 0o755);
    }

    const STATUS: &str =
        "Name:\tcat\nUmask:\t0022\nUid:\t1002\t1002\t1002\t1002\nGid:\t1000\t1000\t1000\t1000\n";

    #[test]
    fn app_becomes_read_only_for_group_and_others() {
        let dir = tempfile::tempdir().unwrap();
        let app = writable_app(dir.path());
        std::os::unix::fs::symlink("/etc/passwd", app.join("link")).unwrap();
        assert_eq!(remove_shared_write(&app).unwrap(), 3);
        assert_eq!(mode(&app), 0o755);
        assert_eq!(mode(&app.join("pkg/mod.py")), 0o755);
        assert_eq!(remove_shared_write(&app).unwrap(), 0);
    }

    #[test]
    fn reads_ids() {
        assert_eq!(
            ids_from_proc_status(STATUS),
            Some(Ids {
                uid: 1002,
                gid: 1000
            })
        );
        assert_eq!(
            ids_from_proc_status("Uid:\t1002\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n"),
            Some(Ids { uid: 0, gid: 1000 })
        );
        assert_eq!(ids_from_proc_status("Name: x\n"), None);
    }

    #[test]
    fn exec_d_check_lets_non_root_start_and_refuses_root_or_unknown() {
        assert_eq!(
            exec_d_check(Ok(Ids {
                uid: 1002,
                gid: 1000
            })),
            Ok(())
        );
        assert!(
            exec_d_check(Ok(Ids { uid: 0, gid: 1000 }))
                .unwrap_err()
                .starts_with("Error: Refusing to start the app as root")
        );
        assert!(
            exec_d_check(Err("no /proc".into()))
                .unwrap_err()
                .contains("Could not check the user")
        );
    }

    #[test]
    fn non_root_may_launch() {
        assert_eq!(
            launch_refusal(Ids {
                uid: 1002,
                gid: 1000
            }),
            None
        );
    }

    #[test]
    fn root_may_not_launch() {
        assert_eq!(
            launch_refusal(Ids { uid: 0, gid: 0 }),
            Some(errors::root_may_not_launch(Ids { uid: 0, gid: 0 }))
        );
        assert!(launch_refusal(Ids { uid: 0, gid: 1000 }).is_some());
        // OpenShift's arbitrary uid in the root group may start.
        assert!(
            launch_refusal(Ids {
                uid: 1_000_660_000,
                gid: 0
            })
            .is_none()
        );
    }

    #[test]
    fn build_checks_ids_and_env() {
        let user = Ids {
            uid: 1001,
            gid: 1000,
        };
        assert_eq!(build_refusal(user, Some("1001"), Some("1000")), None);
        assert_eq!(build_refusal(user, None, None), None);
        assert!(build_refusal(user, Some("0"), Some("1000")).is_some());
        assert!(build_refusal(user, Some("1001"), Some(" 0")).is_some());
        assert_eq!(
            build_refusal(Ids { uid: 0, gid: 0 }, Some("0"), Some("0")),
            Some(errors::root_may_not_build(&[
                "the build runs with uid 0 and gid 0".into(),
                "`CNB_USER_ID` is 0".into(),
                "`CNB_GROUP_ID` is 0".into()
            ]))
        );
    }
}
