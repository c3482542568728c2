//! End-to-end tests of luban/procfile: processes from a `Procfile` or found in the project,
//! each started and queried; a bad line and a missing program fail the build.

// Integration tests see every dependency of the crate (rust-lang/rust#95513).
#![allow(unused_crate_dependencies)]

use luban_test_support::{App, WebApp, first_build, image_name};

#[test]
#[ignore = "integration test"]
fn bad_procfile_line_fails_with_its_message() {
    let app = App::fixture("broken_procfile_line");
    first_build(&image_name("broken_procfile_line"), app.path(), &[])
        .assert_failure()
        .assert_contains("Error: `Procfile` line 2 is not a process")
        .assert_contains("Line 2 is `python worker.py`");
}

#[test]
#[ignore = "integration test"]
fn fastapi_without_procfile_starts_with_fastapi_run() {
    let app = App::fixture("fastapi_no_procfile");
    let image = image_name("fastapi_no_procfile");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("No `Procfile`; processes found in the project")
        .assert_contains(
            r#"web: fastapi run main.py --host 0.0.0.0 --port "${PORT:-8080}" (default; FastAPI: an `app` in `main.py`)"#,
        )
        .assert_contains("add a `Procfile` (`web: <command>`); it always wins");
    WebApp::start(&image).assert_ok("/", &["Hello from FastAPI", r#""uid":1002"#]);
}

#[test]
#[ignore = "integration test"]
fn flask_without_procfile_starts_with_gunicorn() {
    let app = App::fixture("flask_no_procfile");
    let image = image_name("flask_no_procfile");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains(r#"web: gunicorn app:app --bind "0.0.0.0:${PORT:-8080}" (default; a WSGI app `app` in `app.py`)"#);
    WebApp::start(&image).assert_ok("/", &["Hello from Flask", r#""uid":1002"#]);
}

#[test]
#[ignore = "integration test"]
fn flask_app_re_exported_by_its_package_starts_with_gunicorn() {
    let app = App::fixture("flask_package");
    let image = image_name("flask_package");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains(r#"web: gunicorn webapp:app --bind "0.0.0.0:${PORT:-8080}" (default; a WSGI app `app` in `webapp/__init__.py`)"#);
    WebApp::start(&image).assert_ok("/", &["Hello from a Flask package", r#""uid":1002"#]);
}

#[test]
#[ignore = "integration test"]
fn fasthtml_app_starts_with_uvicorn_and_writes_its_session_key() {
    let app = App::fixture("fasthtml_app");
    let image = image_name("fasthtml_app");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains(r#"web: uvicorn main:app --host 0.0.0.0 --port "${PORT:-8080}" (default; an ASGI app `app` in `main.py`)"#)
        .assert_contains("`.sesskey` (`.gitignore` line 1; kept in `.luban/writable/`)");
    WebApp::start(&image).assert_ok("/", &["Hello from FastHTML as uid 1002"]);
}

#[test]
#[ignore = "integration test"]
fn django_without_procfile_collects_static_files_and_serves_them() {
    let app = App::fixture("django_no_procfile");
    let image = image_name("django_no_procfile");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Running `python manage.py collectstatic --noinput`")
        .assert_contains(r#"web: gunicorn mysite.wsgi --bind "0.0.0.0:${PORT:-8080}" (default; Django with gunicorn: `mysite/wsgi.py`)"#)
        .assert_contains("`db.sqlite3` (Django's SQLite database in `mysite/settings.py`; kept in `.luban/writable/`)");
    let web = WebApp::start(&image);
    // The view writes Django's default SQLite database next to `manage.py`.
    web.assert_ok(
        "/",
        &["Hello from Django", r#""uid":1002"#, r#""visits":1"#],
    );
    web.assert_ok("/", &[r#""visits":2"#]);
    web.assert_ok("/static/luban.css", &["#c0ffee"]);

    // Turned off: nothing collected, so nothing served.
    luban_test_support::pack_build(
        &image,
        app.path(),
        &["--env", "BP_DJANGO_COLLECTSTATIC=false"],
    )
    .assert_success()
    .assert_contains("Skipping Django's `collectstatic` (`BP_DJANGO_COLLECTSTATIC=false`)")
    .assert_not_contains("Running `python manage.py collectstatic");
    let (status, _) = WebApp::start(&image).get("/static/luban.css");
    assert_eq!(status, 404);

    // Without `collectstatic` the venv was kept by metadata alone; turned on again, the build
    // needs Django itself, so the venv is installed again rather than found missing.
    luban_test_support::pack_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Rebuilding the virtual environment because this build needs its contents and the previous build kept only its metadata")
        .assert_contains("Running `python manage.py collectstatic --noinput`");
    WebApp::start(&image).assert_ok("/static/luban.css", &["#c0ffee"]);
}

#[test]
#[ignore = "integration test"]
fn procfile_program_missing_from_the_image_fails_the_build() {
    let app = App::fixture("procfile_missing_program");
    first_build(&image_name("procfile_missing_program"), app.path(), &[])
        .assert_failure()
        .assert_contains("Error: Process `web` runs `gunicorn`, which is not in the image")
        .assert_contains("`uv add gunicorn`");
}

#[test]
#[ignore = "integration test"]
fn no_start_command_fails_the_build_unless_the_procfile_is_empty() {
    // The shape of many real Flask projects: `app.py` with `app.run()`, no WSGI server, no
    // `Procfile`. An image that says "Done" and can't start is worse than a failed build.
    let app = App::fixture("broken_no_start_command");
    let image = image_name("broken_no_start_command");
    first_build(&image, app.path(), &[])
        .assert_failure()
        .assert_contains("Error: The image would have no process to start")
        .assert_contains(
            "`app.py` defines `app`, but no WSGI server (gunicorn or granian) will be installed",
        )
        .assert_contains("hint: Add a `Procfile` at the app's root");

    // An empty `Procfile` is the app's own word that the image has no process.
    app.write("Procfile", "# A base image: no process.\n");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("The `Procfile` declares no process")
        .assert_contains("The image has no process");
}
