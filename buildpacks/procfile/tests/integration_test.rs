//! End-to-end test of luban/procfile: a bad line fails the build and is named.

// Integration tests see every dependency of the crate (rust-lang/rust#95513).
#![allow(unused_crate_dependencies)]

use luban_test_support::{App, first_build, image_name};

#[test]
#[ignore = "integration test"]
fn bad_procfile_line_fails_with_its_message() {
    let app = App::fixture("broken_procfile_line");
    first_build(&image_name("broken_procfile_line"), app.path(), &[])
        .assert_failure()
        .assert_contains("Error: `Procfile` line 2 is not a process")
        .assert_contains("Line 2 is `python worker.py`");
}
