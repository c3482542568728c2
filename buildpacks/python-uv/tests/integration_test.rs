//! End-to-end tests of luban/python-uv: real pack builds with the offline builder, then the
//! image is run or inspected. They need the testbed (`make builder`); `make test` runs them.

// Integration tests see every dependency of the crate (rust-lang/rust#95513).
#![allow(unused_crate_dependencies)]
// Test code: the helpers panic to fail a test.
#![allow(clippy::missing_panics_doc)]

use luban_test_support::{
    App, Container, PrivateIndex, WebApp, find_in_image, first_build, first_build_with, free_port,
    http_get, image_name, pack_build, pull_from_registry, registry, registry_run_image, run,
    run_shell,
};
use std::time::Duration;

/// Build env that would break a buildpack relying on anything it didn't set itself. The
/// lifecycle puts a user's `PATH` *before* the buildpacks' own directories, so the fake `uv`
/// and `python3` of `hostile-bin/` (written by `hostile_app`) are found first by a PATH lookup.
const HOSTILE_ENV: &[&str] = &[
    "--env",
    "PATH=/workspace/hostile-bin",
    "--env",
    "PYTHONPATH=/nonexistent/site-packages",
    "--env",
    "PYTHONHOME=/nonexistent",
    "--env",
    "VIRTUAL_ENV=/nonexistent/venv",
    "--env",
    "UV_PROJECT_ENVIRONMENT=/tmp/elsewhere",
];

#[test]
#[ignore = "integration test"]
fn web_app_answers_http_as_non_root_without_uv_or_dev_tools() {
    let app = App::fixture("web_flask");
    for fake in ["uv", "python", "python3"] {
        app.write_executable(
            &format!("hostile-bin/{fake}"),
            &format!("#!/bin/sh\necho 'the build ran a {fake} from the user PATH' >&2\nexit 97\n"),
        );
    }
    let image = image_name("web_app_answers_http");
    first_build(&image, app.path(), HOSTILE_ENV)
        .assert_success()
        .assert_contains("Python `3.12.1` (requested: 3.12 from `.python-version`)")
        .assert_contains("Running `uv sync --locked --no-python-downloads")
        .assert_contains("Compiling the dependencies to hash-checked bytecode")
        .assert_contains("/bin/python3 --no-dev`")
        .assert_contains(
            "Left out the test suite, IDLE, Tk, ensurepip's wheels and static libraries; stripped debug symbols",
        );

    let port = free_port().to_string();
    let container = Container::start(&image, &["--env", &format!("PORT={port}")]);
    let (status, body) = http_get(
        &format!("http://127.0.0.1:{port}/"),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|error| panic!("no answer: {error}\n{}", container.logs()));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""uid":1002"#), "{body}");
    assert!(body.contains(r#""python":"3.12.1""#), "{body}");

    let checks = run_shell(
        &image,
        r#"
        set -u
        echo "uv: $(command -v uv || echo absent)"
        python -c 'import pytest' 2>/dev/null && echo 'pytest: present' || echo 'pytest: absent'
        echo "user: $(id -u):$(id -g)"
        touch /workspace/app.py 2>/dev/null && echo 'app: writable' || echo 'app: read-only'
        echo "stale: $(python -v -c 'import flask, app' 2>&1 | grep -c 'bytecode is stale')"
        echo "from-bytecode: $(python -v -c 'import flask, app' 2>&1 | grep -c 'code object from')"
        echo "env: $PYTHONUNBUFFERED $VIRTUAL_ENV"
        home=$(dirname "$(dirname "$(readlink -f "$(command -v python)")")")
        echo "stdlib tests: $(ls -d "$home"/lib/python3.12/test "$home"/lib/python3.12/idlelib 2>/dev/null | wc -l)"
        echo "libpython over 15 MB: $(find "$home/lib" -maxdepth 1 -name 'libpython3*.so*' -type f -size +15M | wc -l)"
        echo "python layer MB: $(du -sm "$home" | cut -f1)"
        python -c 'import ssl, sqlite3, ctypes, json, decimal, zlib; print("stdlib: ok")'
        "#,
    );
    let out = checks.stdout;
    for expected in [
        "uv: absent",
        "pytest: absent",
        "user: 1002:1000",
        "app: read-only",
        "stale: 0",
        "env: 1 /layers/luban_python-uv/venv",
        // The Python layer's diet: no test suite or IDLE, libpython without debug symbols
        // (30 MB with them on the mirror's build), and the modules apps do use still load.
        "stdlib tests: 0",
        "libpython over 15 MB: 0",
        "stdlib: ok",
    ] {
        assert!(
            out.contains(expected),
            "expected {expected:?} in:\n{out}\n{}",
            checks.stderr
        );
    }
    let loaded: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("from-bytecode: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        loaded > 50,
        "modules should load from precompiled bytecode:\n{out}"
    );
}

#[test]
#[ignore = "integration test"]
fn rebuild_with_nothing_changed_reuses_every_layer_and_code_changes_still_land() {
    let app = App::fixture("web_flask");
    let image = image_name("rebuild_nothing_changed");
    first_build(&image, app.path(), &[]).assert_success();

    let warm = pack_build(&image, app.path(), &[]);
    warm.assert_success()
        .assert_contains("Reusing uv ")
        .assert_contains("Reusing Python 3.12.1 from the cache")
        // The venv is kept by metadata alone: not restored, not re-hashed, reused by digest.
        .assert_contains("Reusing the virtual environment from the previous image")
        .assert_not_contains("Restoring data for \"luban/python-uv:venv\"")
        .assert_contains("Reusing layer 'luban/python-uv:venv'")
        .assert_not_contains("Running `uv sync")
        .assert_not_contains("Running `uv python install")
        .assert_not_contains("Creating ")
        .assert_not_contains("Rebuilding ");
    insta::with_settings!({filters => vec![
        (r"< 0\.1s", "<time>"),
        (r"\d+(\.\d+)?s\)", "<time>)"),
        (r"\.\.\.+ ?\(", "... ("),
        (r"uv \d+\.\d+\.\d+", "uv <version>"),
        (r"from \d+ paths", "from <n> paths"),
    ]}, {
        insta::assert_snapshot!("warm_rebuild_output", warm.buildpack_output());
    });

    // Only app code changed: dependencies are reused, the new code is in the image.
    app.write(
        "app.py",
        &std::fs::read_to_string(app.path().join("app.py"))
            .unwrap()
            .replace("Hello from Luban", "Hello again from Luban"),
    );
    pack_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Reusing the virtual environment from the previous image")
        .assert_not_contains("Running `uv sync");
    let out = run_shell(&image, "grep -c 'Hello again from Luban' /workspace/app.py").stdout;
    assert_eq!(out.trim(), "1");
    let sbom = run_shell(
        &image,
        "cat /layers/sbom/launch/luban_python-uv/venv/sbom.cdx.json",
    )
    .stdout;
    assert!(
        sbom.contains("\"flask\""),
        "venv SBOM in the image:\n{sbom}"
    );

    // The kept venv's directory isn't there during the build; the launch check still knows
    // what it holds, so a Procfile naming a program it lacks still fails the build.
    app.write("Procfile", "web: uvicorn app:app\n");
    pack_build(&image, app.path(), &[])
        .assert_failure()
        .assert_contains("Reusing the virtual environment from the previous image")
        .assert_contains("Process `web` runs `uvicorn`, which is not in the image");
}

#[test]
#[ignore = "integration test"]
fn changed_lock_updates_the_dependencies() {
    let app = App::fixture("web_flask");
    let image = image_name("lock_changed");
    first_build(&image, app.path(), &[]).assert_success();
    // A warm build keeps the uv cache (it opens the layer even though nothing is installed)…
    pack_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Reusing the uv cache from the cache")
        .assert_contains("cache layer 'luban/python-uv:uv-cache'");

    let pyproject = std::fs::read_to_string(app.path().join("pyproject.toml")).unwrap();
    app.write(
        "pyproject.toml",
        &pyproject.replace(r#""gunicorn>=23.0"]"#, r#""gunicorn>=23.0", "six>=1.16"]"#),
    );
    app.relock();
    pack_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Reusing Python 3.12.1 from the cache")
        .assert_contains("Rebuilding the virtual environment because lock sha256 changed")
        // … so the lock change after it starts from the cache, not from nothing.
        .assert_contains("Reusing the uv cache from the cache")
        .assert_contains("+ six==");
    let out = run_shell(&image, "python -c 'import six; print(six.__version__)'");
    assert!(
        out.stdout.trim().starts_with("1."),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
#[ignore = "integration test"]
fn changed_python_version_rebuilds_python_and_dependencies() {
    let app = App::fixture("web_flask");
    let image = image_name("python_version_changed");
    first_build(&image, app.path(), &[]).assert_success();

    app.write(".python-version", "3.13\n");
    pack_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains(
            "Rebuilding Python 3.13.0 because python version changed (3.12.1 → 3.13.0)",
        )
        .assert_contains(
            "Rebuilding the virtual environment because python version changed (3.12.1 → 3.13.0)",
        );
    let out = run_shell(&image, "python --version");
    assert_eq!(out.stdout.trim(), "Python 3.13.0", "{}", out.stderr);
}

#[test]
#[ignore = "integration test"]
fn python_version_comes_from_requires_python_without_python_version_file() {
    let app = App::fixture("python_version_from_requires_python");
    let image = image_name("requires_python");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains(
            "Python `3.13.0` (requested: >=3.13 from `requires-python` in `pyproject.toml`)",
        );
    let out = run_shell(&image, "python main.py");
    assert!(
        out.stdout.contains("python 3.13.0 six "),
        "{}{}",
        out.stdout,
        out.stderr
    );

    // A pin the project excludes (a real project's `.python-version` left behind when
    // `requires-python` moved on) fails before Python is installed, naming both.
    app.write(".python-version", "3.12\n");
    pack_build(&image, app.path(), &[])
        .assert_failure()
        .assert_contains(
            "Error: `.python-version` pins Python 3.12, which the project doesn't allow",
        )
        .assert_contains("but `requires-python` in `pyproject.toml` is `>=3.13`")
        .assert_not_contains("Running `uv python install");
}

#[test]
#[ignore = "integration test"]
fn a_pinned_python_3_11_comes_from_the_mirror() {
    let app = App::fixture("python_pinned_311");
    let image = image_name("python_pinned_311");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Python `3.11.7` (requested: 3.11 from `.python-version`)");
    let out = run(&image, &[], &[]);
    assert_eq!(out.stdout.trim(), "3.11.7 1.17.0", "{}", out.stderr);
}

#[test]
#[ignore = "integration test"]
fn packaged_project_gets_its_script_and_groups_on_request() {
    let app = App::fixture("packaged_scripts");
    let image = image_name("packaged_scripts");
    first_build(&image, app.path(), &[]).assert_success();
    let out = run_shell(
        &image,
        "greet --name Luban; python -c 'import iniconfig' 2>/dev/null && echo 'dev: present' || echo 'dev: absent'",
    );
    assert!(
        out.stdout.contains("Hello, Luban!"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("dev: absent"), "{}", out.stdout);
    // The project's only script is the image's default process, and takes `docker run`'s
    // arguments.
    let out = run(&image, &[], &["--name", "CLI"]);
    assert_eq!(
        (out.exit_code, out.stdout.trim()),
        (0, "Hello, CLI!"),
        "{}",
        out.stderr
    );

    pack_build(&image, app.path(), &["--env", "BP_UV_GROUPS=dev"])
        .assert_success()
        .assert_contains("Rebuilding the virtual environment because groups changed (none → dev)");
    let out = run_shell(
        &image,
        "python -c 'import iniconfig; print(\"dev: present\")'",
    );
    assert!(
        out.stdout.contains("dev: present"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
#[ignore = "integration test"]
fn requirements_txt_without_lock_is_installed_with_uv_pip() {
    let app = App::fixture("requirements_without_lock");
    let image = image_name("requirements_without_lock");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("`requirements.txt`, installed with `uv pip install`");
    let out = run_shell(&image, "python main.py");
    assert_eq!(out.stdout.trim(), "six 1.17.0", "{}", out.stderr);
}

#[test]
#[ignore = "integration test"]
fn dependency_without_wheel_compiles_with_the_build_image_compiler() {
    let app = App::fixture("sdist_compiled");
    let image = image_name("sdist_compiled");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Building markupsafe==3.0.2");
    let out = run_shell(
        &image,
        "python -c 'import markupsafe._speedups as s; print(s.__file__)'; command -v gcc || echo 'gcc: absent'",
    );
    assert!(
        out.stdout
            .contains("_speedups.cpython-312-x86_64-linux-gnu.so"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("gcc: absent"), "{}", out.stdout);
}

fn assert_build_fails(fixture: &str, expected: &[&str]) {
    let app = App::fixture(fixture);
    let build = first_build(&image_name(fixture), app.path(), &[]);
    build.assert_failure();
    for text in expected {
        build.assert_contains(text);
    }
}

#[test]
#[ignore = "integration test"]
fn stale_lock_fails_with_its_message() {
    assert_build_fails(
        "broken_stale_lock",
        &[
            "Error: `uv.lock` is out of date",
            "hint: Run `uv lock` in the project",
        ],
    );
}

#[test]
#[ignore = "integration test"]
fn invalid_python_version_file_fails_with_its_message() {
    assert_build_fails(
        "broken_python_version_invalid",
        &[
            "Error: `.python-version` holds an invalid version",
            "Line 2 is `python3.12`.",
        ],
    );
}

#[test]
#[ignore = "integration test"]
fn unknown_python_version_fails_with_its_message() {
    assert_build_fails(
        "broken_python_version_unknown",
        &[
            "Error: Python 3.99 is not available",
            // The mirror offers every CPython the machine's pyenv has, these among them.
            "The Python builds uv can install here: ",
            "3.12.1, 3.13.0.",
        ],
    );
}

#[test]
#[ignore = "integration test"]
fn unparsable_pyproject_fails_with_its_message() {
    assert_build_fails(
        "broken_pyproject_unparsable",
        &["Error: `pyproject.toml` is not valid TOML", "line 1"],
    );
}

#[test]
#[ignore = "integration test"]
fn committed_venv_fails_with_its_message() {
    assert_build_fails(
        "broken_venv_committed",
        &[
            "Error: The app contains a `.venv` directory",
            "git rm -r --cached .venv",
        ],
    );
}

#[test]
#[ignore = "integration test"]
fn private_index_credentials_install_the_package_and_stay_out_of_the_image() {
    let index = PrivateIndex::start();
    let app = App::fixture("private_index_app");
    // The app is a package whose build backend (its setup.py) records whether it can see the
    // index credentials: what the README says about who sees them is what this shows.
    app.build_with_setup_py_of("index_credentials_probe");
    index.lock_app(&app, "luban-private-greeting");
    let image = image_name("private_index");

    // Without credentials the private package can't be had: the index really needs them.
    first_build(&image, app.path(), &[])
        .assert_failure()
        .assert_contains("Error: Could not install the dependencies");

    let username = format!("UV_INDEX_PRIVATE_USERNAME={}", index.username);
    let password = format!("UV_INDEX_PRIVATE_PASSWORD={}", index.password);
    pack_build(
        &image,
        app.path(),
        &["--env", &username, "--env", &password],
    )
    .assert_success()
    .assert_contains("+ luban-private-greeting==1.0.0")
    .assert_not_contains(&index.password);
    // The image runs the private package, and holds its text but not the password, in any
    // layer, the config or the labels (the search does find what is in the image).
    let runs_the_private_package_without_the_password = |image: &str| {
        let out = run_shell(image, "python main.py");
        assert_eq!(
            out.stdout.trim(),
            "Hello from the private index",
            "{}",
            out.stderr
        );
        assert!(!find_in_image(image, "Hello from the private index").is_empty());
        assert_eq!(find_in_image(image, &index.password), Vec::<String>::new());
    };
    runs_the_private_package_without_the_password(&image);

    // uv runs the app's build backend with its own environment: the backend sees the index
    // credentials (the README's security section says so), and so can any sdist's setup.py.
    let out = run_shell(
        &image,
        "python -c 'import index_probe as p; print(p.IN_ENV, p.IN_PARENT)'",
    );
    assert_eq!(out.stdout.trim(), "True True", "{}", out.stderr);

    // The same credentials as a CNB service binding (`pack build --volume`, as kpack's
    // `spec.build.services` mounts a Secret): the same install, the same secrecy.
    let bindings = tempfile::tempdir().unwrap();
    let binding = bindings.path().join("private");
    std::fs::create_dir(&binding).unwrap();
    for (key, value) in [
        ("type", "uv-index\n"),
        ("username", index.username.as_str()),
        ("password", index.password.as_str()),
    ] {
        std::fs::write(binding.join(key), value).unwrap();
    }
    // Readable by the build user, as kpack mounts a Secret.
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(bindings.path())
        .status()
        .unwrap();
    assert!(status.success());
    let volume = format!("{}:/platform/bindings/private:ro", binding.display());
    let image = image_name("private_index_binding");
    first_build(&image, app.path(), &["--volume", &volume])
        .assert_success()
        .assert_contains(
            "Credentials for index `private` from service binding `private` (type `uv-index`)",
        )
        .assert_contains("+ luban-private-greeting==1.0.0")
        .assert_not_contains(&index.password);
    runs_the_private_package_without_the_password(&image);
}

#[test]
#[ignore = "integration test"]
fn published_to_a_tls_registry_with_its_ca_then_runs() {
    let app = App::fixture("requirements_without_lock");
    let image = format!("{}/luban-test/published", registry());
    let run_image = registry_run_image();
    let publish = ["--publish", "--run-image", &run_image];

    // Without the registry's CA the build can't publish: the certificate really is private.
    let host_cas_only = ("LUBAN_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt");
    let without_ca = first_build_with(&image, app.path(), &publish, &[host_cas_only]);
    without_ca.assert_failure();
    assert!(
        without_ca.log.contains("x509") || without_ca.log.contains("certificate"),
        "should fail on the certificate:\n{}",
        without_ca.log
    );

    first_build(&image, app.path(), &publish)
        .assert_success()
        .assert_contains(&format!("Successfully built image '{image}'"));
    pull_from_registry(&image);
    let out = run(&image, &[], &[]);
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "six 1.17.0");
}

#[test]
#[ignore = "integration test"]
fn python_is_chosen_from_the_locked_wheels_and_a_pin_still_wins() {
    let app = App::fixture("python_choice_by_wheels");
    let image = image_name("python_choice_by_wheels");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains(
            "Python `3.12.1` (requested: >=3.12 from `requires-python` in `pyproject.toml`; 3.13.0 skipped: httptools 0.6.1 has no wheel for it)",
        )
        .assert_not_contains("Building httptools");
    let out = run_shell(&image, "python main.py");
    assert_eq!(
        out.stdout.trim(),
        "python 3.12.1 httptools 0.6.1",
        "{}",
        out.stderr
    );

    // The user's pin wins, even where the lock has no wheel for it: uv compiles the sdist,
    // which fails, and the error says which Python was used and why.
    app.write(".python-version", "3.13\n");
    pack_build(&image, app.path(), &[])
        .assert_failure()
        .assert_contains("Python `3.13.0` (requested: 3.13 from `.python-version`)")
        .assert_contains("Error: Could not build `httptools 0.6.1` from source")
        .assert_contains("The build used Python 3.13.0 (pinned in `.python-version`).")
        .assert_contains("uv lock --upgrade-package httptools");
}

#[test]
#[ignore = "integration test"]
fn workspace_with_a_virtual_root_installs_every_member() {
    let app = App::fixture("workspace_virtual_root");
    let image = image_name("workspace_virtual_root");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("A uv workspace: installing all 2 members (greeting, web)")
        .assert_contains("Set `BP_UV_PACKAGE=<member>`")
        .assert_contains("--all-packages")
        .assert_contains("(default; a WSGI app `app` in `apps/web/app.py`)");
    WebApp::start(&image).assert_ok(
        "/",
        &["Hello, workspace, from a library member", r#""uid":1002"#],
    );
}

#[test]
#[ignore = "integration test"]
fn workspace_package_installs_one_member_and_what_it_needs() {
    let app = App::fixture("workspace_with_package");
    let image = image_name("workspace_with_package");

    // An unknown member fails before Python or anything else is installed.
    first_build(&image, app.path(), &["--env", "BP_UV_PACKAGE=web"])
        .assert_failure()
        .assert_contains("Error: `BP_UV_PACKAGE=web` is not a member of the workspace")
        .assert_contains("`api`, `core`, `platform`, `report`")
        .assert_not_contains("Running `uv python install");

    // With spaces around the name, as a CI variable often has: every buildpack reads the
    // same member (the start command is found in it).
    pack_build(&image, app.path(), &["--env", "BP_UV_PACKAGE= api "])
        .assert_success()
        .assert_contains("A uv workspace: installing member `api` and what it depends on")
        .assert_contains("--package api")
        .assert_contains(r#"api-admin: api-admin "$@" (a `[project.scripts]` entry)"#);
    WebApp::start(&image).assert_ok("/", &["Hello from the api member", r#""core":"1.0""#]);
    let out = run_shell(
        &image,
        "api-admin; for m in report six; do python -c \"import $m\" 2>/dev/null && echo \"$m: present\" || echo \"$m: absent\"; done",
    );
    for expected in ["api admin, core 1.0", "report: absent", "six: absent"] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?} not in:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
#[ignore = "integration test"]
fn app_files_are_untrusted_input() {
    // `.python-version` linked to a file outside the app: refused, and nothing of that file
    // is printed.
    let app = App::fixture("web_flask");
    std::fs::remove_file(app.path().join(".python-version")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", app.path().join(".python-version")).unwrap();
    first_build(&image_name("python_version_symlink"), app.path(), &[])
        .assert_failure()
        .assert_contains("Error: Could not read `.python-version`")
        .assert_contains("leads outside the app directory")
        .assert_not_contains("root:x:0:0")
        .assert_not_contains("/usr/sbin/nologin");

    // A `-r` include through a directory link into the platform's env: the link is not the
    // file's own name, yet the include is refused before uv could quote the secret it reads.
    let app = App::fixture("requirements_without_lock");
    app.write("requirements.txt", "-r cfg/LUBAN_TEST_DEPLOY_TOKEN\nsix\n");
    std::os::unix::fs::symlink("/platform/env", app.path().join("cfg")).unwrap();
    let secret = "luban-e2e-bare-secret-Zq81x";
    first_build(
        &image_name("requirements_include_link"),
        app.path(),
        &["--env", &format!("LUBAN_TEST_DEPLOY_TOKEN={secret}")],
    )
    .assert_failure()
    .assert_contains("`cfg/LUBAN_TEST_DEPLOY_TOKEN` leads outside the app directory")
    .assert_not_contains(secret);

    // An app module named like the standard library's `compileall` never runs: the bytecode
    // compile runs Python isolated, from outside the app.
    let app = App::fixture("web_flask");
    app.write(
        "compileall.py",
        "import pathlib\npathlib.Path(__file__).with_name('COMPILEALL_RAN').write_text('ran')\nraise SystemExit('the app shadowed compileall')\n",
    );
    let image = image_name("compileall_shadow");
    first_build(&image, app.path(), &[])
        .assert_success()
        .assert_not_contains("the app shadowed compileall");
    let out = run_shell(
        &image,
        "test -e /workspace/COMPILEALL_RAN && echo 'marker: present' || echo 'marker: absent'",
    );
    assert_eq!(out.stdout.trim(), "marker: absent", "{}", out.stderr);
}

#[test]
#[ignore = "integration test"]
fn uv_settings_in_pyproject_or_the_build_env_rebuild_the_venv() {
    let app = App::fixture("web_flask");
    let image = image_name("uv_settings_rebuild");
    first_build(&image, app.path(), &[]).assert_success();

    let pyproject = std::fs::read_to_string(app.path().join("pyproject.toml")).unwrap();
    app.write(
        "pyproject.toml",
        &format!("{pyproject}\n[tool.uv]\ndefault-groups = []\n"),
    );
    pack_build(&image, app.path(), &[])
        .assert_success()
        .assert_contains("Rebuilding the virtual environment because project sha256 changed")
        .assert_contains("Running `uv sync");

    pack_build(
        &image,
        app.path(),
        &["--env", "UV_INDEX_URL=https://pypi.org/simple"],
    )
    .assert_success()
    .assert_contains(
        "Rebuilding the virtual environment because uv settings changed (none → UV_INDEX_URL=https://pypi.org/simple)",
    )
    .assert_contains("Running `uv sync");
}

/// Runs `git` in `dir` with fixed identities and dates, failing the test when it fails.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Luban Test",
            "-c",
            "user.email=test@luban.invalid",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2026-11-20T10:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-20T10:00:00Z")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn image_id(image: &str) -> String {
    let out = luban_test_support::docker(&["image", "inspect", "--format", "{{.Id}}", image]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn labels(image: &str) -> serde_json::Value {
    let out = luban_test_support::docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        image,
    ]);
    serde_json::from_slice(&out.stdout).expect("labels as JSON")
}

/// The app's `CycloneDX` document that luban/python-uv puts in the image.
fn app_sbom(image: &str) -> serde_json::Value {
    let out = run_shell(
        image,
        "cat /layers/sbom/launch/luban_python-uv/sbom.cdx.json",
    );
    serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("no app SBOM: {}", out.stderr))
}

const OCI: &str = "org.opencontainers.image";

#[test]
#[ignore = "integration test"]
fn two_cold_builds_of_the_same_commit_give_the_same_image_that_names_it() {
    // The same commit in two Git checkouts (two paths, two `.git` that differ), two empty
    // caches, built at least a second apart. The remote's URL carries a token.
    let first_app = App::fixture("web_flask");
    git(first_app.path(), &["init", "-q", "-b", "main"]);
    git(first_app.path(), &["add", "-A"]);
    git(first_app.path(), &["commit", "-q", "-m", "app"]);
    let remote = "https://deploy:ghp_luban_test_token@git.example/acme/shop.git";
    git(first_app.path(), &["remote", "add", "origin", remote]);
    let commit = git(first_app.path(), &["rev-parse", "HEAD"]);
    let second_app = tempfile::tempdir().unwrap();
    git(
        second_app.path(),
        &["clone", "-q", &first_app.path().to_string_lossy(), "."],
    );
    git(second_app.path(), &["remote", "set-url", "origin", remote]);

    let first = image_name("reproducible_first");
    first_build(&first, first_app.path(), &[])
        .assert_success()
        .assert_contains(&format!("Revision `{commit}` (from the app's Git checkout)"))
        .assert_contains("Source `https://git.example/acme/shop.git` (from the app's Git checkout; credentials removed)")
        .assert_contains("Created `2026-11-20T10:00:00Z` (from the app's Git checkout)")
        .assert_contains("Left `.git` out of the image")
        .assert_not_contains("ghp_luban_test_token");
    std::thread::sleep(Duration::from_secs(1));
    let second = image_name("reproducible_second");
    first_build(&second, second_app.path(), &[]).assert_success();

    let (a, b) = (image_id(&first), image_id(&second));
    assert!(!a.is_empty(), "no image id for {first}");
    assert_eq!(a, b, "the two builds gave different images");

    let labels = labels(&first);
    for (key, value) in [
        ("revision", commit.as_str()),
        ("source", "https://git.example/acme/shop.git"),
        ("created", "2026-11-20T10:00:00Z"),
        ("version", "0.1.0"),
    ] {
        assert_eq!(labels[format!("{OCI}.{key}")], value, "{labels}");
    }
    let sbom = app_sbom(&first);
    let component = &sbom["metadata"]["component"];
    assert_eq!(component["pedigree"]["commits"][0]["uid"], commit.as_str());
    assert_eq!(
        component["externalReferences"][0]["url"],
        "https://git.example/acme/shop.git"
    );
    let out = run_shell(
        &first,
        "test -e /workspace/.git && echo present || echo absent",
    );
    assert_eq!(out.stdout.trim(), "absent", "{}", out.stderr);
}

#[test]
#[ignore = "integration test"]
fn provenance_from_the_platform_is_checked_and_wins_over_git() {
    let app = App::fixture("web_flask");
    git(app.path(), &["init", "-q", "-b", "main"]);
    git(app.path(), &["add", "-A"]);
    git(app.path(), &["commit", "-q", "-m", "app"]);
    let image = image_name("provenance_from_the_platform");

    // A value that isn't what its name says fails before anything is installed.
    first_build(&image, app.path(), &["--env", "BP_OCI_REVISION=main"])
        .assert_failure()
        .assert_contains("Error: `BP_OCI_REVISION` is not a commit SHA")
        .assert_contains("Found `BP_OCI_REVISION=main`")
        .assert_not_contains("Running `uv python install");
    pack_build(
        &image,
        app.path(),
        &["--env", "BP_OCI_SOURCE=https://user:hunter2@[::1"],
    )
    .assert_failure()
    .assert_contains("Error: `BP_OCI_SOURCE` is not a repository URL")
    .assert_not_contains("hunter2");

    let revision = "89abcdef0123456789abcdef0123456789abcdef";
    pack_build(
        &image,
        app.path(),
        &[
            "--env",
            &format!("BP_OCI_REVISION={revision}"),
            "--env",
            "BP_OCI_SOURCE=https://git.example/acme/shop",
            "--env",
            "SOURCE_DATE_EPOCH=1767225600",
        ],
    )
    .assert_success()
    .assert_contains(&format!("Revision `{revision}` (from `BP_OCI_REVISION`)"))
    .assert_contains("Created `2026-01-01T00:00:00Z` (from `SOURCE_DATE_EPOCH`)");
    let labels = labels(&image);
    assert_eq!(labels[format!("{OCI}.revision")], revision, "{labels}");
    assert_eq!(
        labels[format!("{OCI}.source")],
        "https://git.example/acme/shop",
        "{labels}"
    );
    assert_eq!(
        labels[format!("{OCI}.created")],
        "2026-01-01T00:00:00Z",
        "{labels}"
    );
    assert_eq!(
        app_sbom(&image)["metadata"]["component"]["pedigree"]["commits"][0]["uid"],
        revision
    );
}
