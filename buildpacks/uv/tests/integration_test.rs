//! End-to-end tests of luban/uv's download: a mirror that is down and a mirror that serves a
//! changed file, each failing with its message and leaving the next build healthy.

// Integration tests see every dependency of the crate (rust-lang/rust#95513).
#![allow(unused_crate_dependencies)]

use luban_test_support::{App, StaticServer, first_build, free_port, image_name, pack_build};

fn pinned_version() -> String {
    let descriptor: toml::Table =
        toml::from_str(include_str!("../buildpack.toml")).expect("buildpack.toml parses");
    descriptor["metadata"]["uv"]["version"]
        .as_str()
        .expect("[metadata.uv] has a version")
        .to_string()
}

#[test]
#[ignore = "integration test"]
fn mirror_down_fails_clearly_and_the_next_build_is_healthy() {
    let app = App::fixture("requirements_without_lock");
    let image = image_name("uv_mirror_down");
    let dead = format!("BP_UV_MIRROR_URL=http://127.0.0.1:{}/uv", free_port());
    first_build(&image, app.path(), &["--env", &dead])
        .assert_failure()
        .assert_contains("Error: Could not download uv")
        .assert_contains("failed after 3 attempts")
        .assert_contains("hint: Check that the build can reach that host.");

    pack_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Creating uv ")
        .assert_contains("Verified sha256");
}

#[test]
#[ignore = "integration test"]
fn changed_file_on_the_mirror_fails_the_checksum_and_the_next_build_is_healthy() {
    let app = App::fixture("requirements_without_lock");
    let image = image_name("uv_checksum_mismatch");
    let tampered = tempfile::tempdir().unwrap();
    let dir = tampered.path().join(pinned_version());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!(
            "uv-{}-unknown-linux-musl.tar.gz",
            std::env::consts::ARCH
        )),
        b"not the uv release",
    )
    .unwrap();
    let server = StaticServer::serve(tampered.path());
    first_build(
        &image,
        app.path(),
        &["--env", &format!("BP_UV_MIRROR_URL={}", server.url)],
    )
    .assert_failure()
    .assert_contains("Error: The downloaded uv does not match its pinned checksum")
    .assert_contains("Actual sha256:   0caa7637199f")
    .assert_contains("Nothing from the download was used.");

    pack_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Creating uv ")
        .assert_contains("Verified sha256");
}
