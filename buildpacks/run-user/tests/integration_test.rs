//! End-to-end tests of luban/run-user: the image runs as its non-root user and refuses root; an
//! app that writes next to its code at start runs, with its code read-only.

// Integration tests see every dependency of the crate (rust-lang/rust#95513).
#![allow(unused_crate_dependencies)]

use luban_test_support::{App, WebApp, first_build, image_name, pack_build, run};

#[test]
#[ignore = "integration test"]
fn image_refuses_to_start_as_root() {
    let app = App::fixture("requirements_without_lock");
    let image = image_name("run_user_refuses_root");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Added a launch check that refuses to start the app as root");

    let as_default = run(&image, &[], &[]);
    assert_eq!(
        as_default.exit_code, 0,
        "{}{}",
        as_default.stdout, as_default.stderr
    );
    assert_eq!(as_default.stdout.trim(), "six 1.17.0");

    // A non-root uid in the root group, as OpenShift runs pods, starts the app.
    let openshift = run(&image, &["--user", "1000660000:0"], &[]);
    assert_eq!(
        (openshift.exit_code, openshift.stdout.trim()),
        (0, "six 1.17.0"),
        "{}",
        openshift.stderr
    );

    for user in ["0", "0:0", "0:1000"] {
        let as_root = run(&image, &["--user", user], &[]);
        assert_ne!(as_root.exit_code, 0, "--user {user} must be refused");
        assert!(
            as_root
                .stderr
                .contains("Error: Refusing to start the app as root"),
            "--user {user}: {}",
            as_root.stderr
        );
        assert!(
            !as_root.stdout.contains("six"),
            "the app must not have run: {}",
            as_root.stdout
        );
    }
}

#[test]
#[ignore = "integration test"]
fn an_app_that_writes_next_to_its_code_runs_with_the_code_read_only() {
    let app = App::fixture("writes_at_start");
    // Hostile: a `.gitignore`d data directory that is a symlink to the venv must not make the
    // venv writable.
    std::os::unix::fs::symlink("/layers/luban_python-uv/venv", app.path().join("logs")).unwrap();
    let image = image_name("writes_at_start");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Made writable for the run user (the app's code stays read-only)")
        .assert_contains("`data/` (`.gitignore` line 3)")
        .assert_contains("`.sesskey` (`.gitignore` line 4; kept in `.luban/writable/`)")
        .assert_contains("Left `logs/` alone (`.gitignore` line 5): `logs` is a symlink");
    WebApp::start(&image).assert_ok(
        "/",
        &[
            "Hello from an app that writes",
            r#""uid":1002"#,
            r#""starts":1"#,
            r#""sesskey":32"#,
            r#""code":"read-only""#,
        ],
    );
    let venv = run(
        &image,
        &["--entrypoint", "stat"],
        &["-c", "%A", "/layers/luban_python-uv/venv/bin"],
    );
    assert_eq!(venv.stdout.trim(), "drwxr-xr-x", "{}", venv.stderr);

    // The setting adds paths, and refuses what isn't a path under the app or is code.
    pack_build(
        &image,
        app.path(),
        &["--env", "BP_WRITABLE_PATHS=exports/ ../etc"],
    )
    .assert_failure()
    .assert_contains("Error: `BP_WRITABLE_PATHS` holds a path outside the app")
    .assert_contains("`../etc` is not a relative path under the app directory");
    pack_build(
        &image,
        app.path(),
        &["--env", "BP_WRITABLE_PATHS=exports/ app.py"],
    )
    .assert_failure()
    .assert_contains("Error: `BP_WRITABLE_PATHS` names `app.py`, which can't be made writable");
    pack_build(
        &image,
        app.path(),
        &["--env", "BP_WRITABLE_PATHS=exports/ state.json"],
    )
    .assert_success()
    .assert_contains("`exports/` (`BP_WRITABLE_PATHS`)")
    .assert_contains("`state.json` (`BP_WRITABLE_PATHS`; kept in `.luban/writable/`)");
}
