//! End-to-end test of luban/run-user: the image runs as its non-root user and refuses root.

// Integration tests see every dependency of the crate (rust-lang/rust#95513).
#![allow(unused_crate_dependencies)]

use luban_test_support::{App, first_build, image_name, run};

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
