//! Helpers for Luban's end-to-end tests.
//!
//! Every build goes through `scripts/pack-build.sh`, the same script the demo and the benchmarks
//! use, so the tests exercise exactly the testbed a user gets from `make demo`: our packaged
//! buildpacks in the offline builder, the real lifecycle, real uv, real Python, real packages.
//! Containers run through the `docker` CLI against whatever engine the scripts set up.
//!
//! The testbed must exist first (`make builder`); `make test` makes it. Its settings (directory,
//! ports, image names) come from the environment `scripts/lib.sh` exports, with no defaults
//! here: run the tests through `make e2e` or `scripts/test.sh e2e`. A builder made from other
//! sources than the working tree is refused (see [`pack_build`]).

// Test helpers: a panic is how they fail a test.
#![allow(clippy::missing_panics_doc)]
// Assertions return `&Self` only so they chain; their result is not meant to be used.
#![allow(clippy::must_use_candidate)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub use luban_xtask::repo_root;

/// A copy of a fixture from `test-fixtures/`, so a test can change it freely.
pub struct App {
    dir: tempfile::TempDir,
}

impl App {
    /// Copies `test-fixtures/<name>`.
    ///
    /// # Panics
    /// When the fixture doesn't exist or can't be copied.
    #[must_use]
    pub fn fixture(name: &str) -> Self {
        let source = repo_root().join("test-fixtures").join(name);
        assert!(source.is_dir(), "no fixture {}", source.display());
        let dir = tempfile::Builder::new()
            .prefix(&format!("luban-{name}-"))
            .tempdir()
            .expect("temp dir");
        copy_dir(&source, dir.path());
        App { dir }
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `relative` inside the app.
    ///
    /// # Panics
    /// When the file can't be written.
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write fixture file");
    }

    /// Makes the app a package built by setuptools from the `setup.py` of the fixture `from`:
    /// its `[build-system]`, set with `toml_edit`.
    ///
    /// # Panics
    /// When the files can't be read or written.
    pub fn build_with_setup_py_of(&self, from: &str) {
        std::fs::copy(
            App::fixture(from).path().join("setup.py"),
            self.path().join("setup.py"),
        )
        .expect("copy setup.py");
        let path = self.path().join("pyproject.toml");
        let mut pyproject = luban_xtask::read_toml(&path).unwrap_or_else(|error| panic!("{error}"));
        let mut build_system = toml_edit::Table::new();
        build_system.insert(
            "requires",
            toml_edit::value(toml_edit::Array::from_iter(["setuptools>=61"])),
        );
        build_system.insert("build-backend", toml_edit::value("setuptools.build_meta"));
        pyproject.insert("build-system", toml_edit::Item::Table(build_system));
        luban_xtask::write_toml(&path, &pyproject).unwrap_or_else(|error| panic!("{error}"));
    }

    /// Writes an executable file (mode 0755) to `relative` inside the app.
    pub fn write_executable(&self, relative: &str, contents: &str) {
        use std::os::unix::fs::PermissionsExt;
        self.write(relative, contents);
        std::fs::set_permissions(
            self.dir.path().join(relative),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }

    /// Runs `uv lock` in the app with `scripts/uv-lock.sh` (the testbed's uv and a Python from
    /// its mirror, so nothing depends on the host's Pythons).
    ///
    /// # Panics
    /// When uv fails.
    pub fn relock(&self) {
        self.relock_with(&[]);
    }

    /// [`App::relock`] with extra environment for uv (an index's credentials).
    ///
    /// # Panics
    /// When uv fails.
    pub fn relock_with(&self, env: &[(&str, &str)]) {
        let output = Command::new(repo_root().join("scripts/uv-lock.sh"))
            .arg(self.path())
            .envs(env.iter().copied())
            .output()
            .expect("run scripts/uv-lock.sh");
        assert!(
            output.status.success(),
            "uv lock failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A temporary app directory holding `files` (`(relative path, contents)`), for unit tests of
/// code that reads an app.
///
/// # Panics
/// When the files can't be written.
#[must_use]
pub fn app_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, contents) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write app file");
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A testbed setting `scripts/lib.sh` exports (there is no second default here).
///
/// # Panics
/// When it is not set: the tests were not started through make.
#[must_use]
pub fn setting(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: run the end-to-end tests through make (`make e2e`, or \
             `T=<test> make e2e` for one), which sets the testbed's settings from scripts/lib.sh"
        ),
    }
}

/// Where the scripts keep the testbed (tools, mirror, CA bundle).
#[must_use]
pub fn testbed_dir() -> PathBuf {
    PathBuf::from(setting("LUBAN_TESTBED"))
}

/// The testbed registry, `host:port` (TLS with its own CA, started by `scripts/registry.sh`).
#[must_use]
pub fn registry() -> String {
    setting("REGISTRY")
}

/// The run image as pushed to the testbed registry, for `--publish` builds.
#[must_use]
pub fn registry_run_image() -> String {
    setting("REGISTRY_RUN_IMAGE")
}

/// Refuses a builder made from other sources than the working tree: the tests would pass or
/// fail against old buildpacks. Checked once per test process.
fn assert_builder_is_current() {
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| {
        let builder = setting("BUILDER_IMAGE");
        let label = luban_xtask::source_digest::LABEL;
        let output = docker(&[
            "image",
            "inspect",
            "--format",
            &format!("{{{{index .Config.Labels \"{label}\"}}}}"),
            &builder,
        ]);
        let built_from = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let tree = luban_xtask::source_digest::source_digest(&repo_root())
            .unwrap_or_else(|error| panic!("can't hash the buildpack sources: {error}"));
        assert!(
            output.status.success() && built_from == tree,
            "the builder `{builder}` was not made from this working tree ({label} = {built_from:?}, \
             the sources hash to {tree}): run the tests with `make e2e` (`T=<test> make e2e` for \
             one), which recreates it first"
        );
    });
}

/// The result of one `pack build`.
pub struct Build {
    pub success: bool,
    /// stdout and stderr of pack, which carries the lifecycle's and buildpacks' output.
    pub log: String,
}

impl Build {
    /// # Panics
    /// When the build failed.
    pub fn assert_success(&self) -> &Self {
        assert!(self.success, "build failed:\n{}", self.log);
        self
    }

    /// # Panics
    /// When the build succeeded.
    pub fn assert_failure(&self) -> &Self {
        assert!(!self.success, "build should have failed:\n{}", self.log);
        self
    }

    /// # Panics
    /// When the log doesn't contain `text`.
    pub fn assert_contains(&self, text: &str) -> &Self {
        assert!(
            self.log.contains(text),
            "build log lacks {text:?}:\n{}",
            self.log
        );
        self
    }

    /// # Panics
    /// When the log contains `text`.
    pub fn assert_not_contains(&self, text: &str) -> &Self {
        assert!(
            !self.log.contains(text),
            "build log has {text:?}:\n{}",
            self.log
        );
        self
    }

    /// The part of the log our buildpacks printed (between the lifecycle's BUILDING and
    /// EXPORTING headers), for snapshots.
    #[must_use]
    pub fn buildpack_output(&self) -> String {
        let start = self
            .log
            .find("===> BUILDING")
            .map_or(0, |i| i + "===> BUILDING".len());
        let end = self.log[start..]
            .find("===> EXPORTING")
            .map_or(self.log.len(), |i| start + i);
        self.log[start..end].trim().to_string()
    }
}

/// An image name for a test; builds of different tests never share caches.
#[must_use]
pub fn image_name(test: &str) -> String {
    format!("luban-test/{}", test.replace('_', "-"))
}

/// Builds `app` into `image` with the offline builder; `args` are extra `pack build` arguments.
#[must_use]
pub fn pack_build(image: &str, app: &Path, args: &[&str]) -> Build {
    run_pack_build(image, app, args, &[])
}

/// What pack says when the engine's container wait returned no exit code: podman's API service
/// sometimes loses a container's state as it exits ("While waiting on condition: unexpected
/// end of JSON input" in its log). No lifecycle phase exits with -1 (exit codes are 0–255), so
/// this is never the build's own failure.
const ENGINE_LOST_THE_EXIT_CODE: &str = "executing lifecycle: failed with status code: -1";

fn run_pack_build(image: &str, app: &Path, args: &[&str], script_env: &[(&str, &str)]) -> Build {
    assert_builder_is_current();
    let attempt = || {
        let output = Command::new(repo_root().join("scripts/pack-build.sh"))
            .arg(image)
            .arg("--path")
            .arg(app)
            .args(args)
            .envs(script_env.iter().copied())
            .output()
            .expect("run scripts/pack-build.sh");
        Build {
            success: output.status.success(),
            log: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    };
    let build = attempt();
    if build.success || !build.log.contains(ENGINE_LOST_THE_EXIT_CODE) {
        return build;
    }
    // Once more, the same build: the engine, not the build, failed.
    eprintln!("the engine lost the exit code of a phase of {image}'s build; building it again");
    attempt()
}

/// The first build of a test: like [`pack_build`], but from nothing, so a test never depends
/// on what an earlier run of the suite left: an empty cache, and no previous image in the
/// engine (launch-only layers, such as the venv, are kept from the previous image by metadata
/// alone, and `--clear-cache` leaves that image in place for the builds after it).
#[must_use]
pub fn first_build(image: &str, app: &Path, args: &[&str]) -> Build {
    first_build_with(image, app, args, &[])
}

/// Pulls an image from the testbed registry into the engine, trusting the registry's CA.
pub fn pull_from_registry(image: &str) {
    let output = Command::new(repo_root().join("scripts/registry.sh"))
        .args(["pull", image])
        .output()
        .expect("run scripts/registry.sh");
    assert!(
        output.status.success(),
        "pull failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Like [`first_build`], with extra environment for `scripts/pack-build.sh` itself.
#[must_use]
pub fn first_build_with(
    image: &str,
    app: &Path,
    args: &[&str],
    script_env: &[(&str, &str)],
) -> Build {
    // Not there yet (or published to a registry instead) is as good as removed.
    let _ = docker(&["image", "rm", "--force", image]);
    let mut all = vec!["--clear-cache"];
    all.extend_from_slice(args);
    run_pack_build(image, app, &all, script_env)
}

/// Runs `docker` (pointed at the testbed's engine) and returns its output.
///
/// # Panics
/// When docker can't be started.
#[must_use]
pub fn docker(args: &[&str]) -> Output {
    Command::new(repo_root().join("scripts/docker.sh"))
        .args(args)
        .output()
        .expect("run scripts/docker.sh")
}

/// The outcome of running a container to completion.
pub struct Run {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `image` with `args` (`docker run` options, then `--`, then the command if any) until it
/// exits, and returns its exit code and output.
///
/// # Panics
/// When the container can't be created.
#[must_use]
pub fn run(image: &str, options: &[&str], command: &[&str]) -> Run {
    let name = format!("luban-run-{}", unique());
    let mut args = vec!["run", "--name", &name];
    args.extend_from_slice(options);
    args.push(image);
    args.extend_from_slice(command);
    let output = docker(&args);
    // Read the exit code from the container itself: `run --rm` through some engines' Docker
    // API reports 0 for a container whose entrypoint failed.
    let code = docker(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    let _ = docker(&["rm", "-f", &name]);
    Run {
        exit_code: String::from_utf8_lossy(&code.stdout)
            .trim()
            .parse()
            .unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a shell command in `image` through the CNB launcher, so it sees the launch env.
#[must_use]
pub fn run_shell(image: &str, script: &str) -> Run {
    run(
        image,
        &["--entrypoint", "launcher"],
        &["--", "bash", "-c", script],
    )
}

/// A running container, removed when dropped.
pub struct Container {
    name: String,
}

impl Container {
    /// Starts `image` in the background on the host network.
    ///
    /// # Panics
    /// When the container can't be started.
    #[must_use]
    pub fn start(image: &str, options: &[&str]) -> Self {
        let name = format!("luban-app-{}", unique());
        let mut args = vec!["run", "-d", "--network", "host", "--name", &name];
        args.extend_from_slice(options);
        args.push(image);
        let output = docker(&args);
        assert!(
            output.status.success(),
            "docker run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Container { name }
    }

    #[must_use]
    pub fn logs(&self) -> String {
        let output = docker(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

/// An image's default process, started on a free port of the host network (`PORT`).
pub struct WebApp {
    container: Container,
    port: u16,
}

impl WebApp {
    /// Starts `image` with `PORT` set to a free port.
    #[must_use]
    pub fn start(image: &str) -> Self {
        let port = free_port();
        let container = Container::start(image, &["--env", &format!("PORT={port}")]);
        WebApp { container, port }
    }

    /// GETs `path` (waiting up to 60 s for the app to answer) and returns status and body.
    ///
    /// # Panics
    /// When nothing answers, with the container's logs.
    #[must_use]
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(
            &format!("http://127.0.0.1:{}{path}", self.port),
            Duration::from_mins(1),
        )
        .unwrap_or_else(|error| panic!("no answer: {error}\n{}", self.container.logs()))
    }

    /// GETs `path` and asserts a 200 whose body holds each of `expected`.
    ///
    /// # Panics
    /// When the answer is not that.
    pub fn assert_ok(&self, path: &str, expected: &[&str]) {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{body}\n{}", self.container.logs());
        for text in expected {
            assert!(body.contains(text), "{text:?} not in {body}");
        }
    }
}

/// GETs `url`, retrying until the server answers or `timeout` passes.
///
/// # Errors
/// The last error when nothing answered in time.
pub fn http_get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let started = Instant::now();
    loop {
        match agent.get(url).call() {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let body = response.body_mut().read_to_string().unwrap_or_default();
                return Ok((status, body));
            }
            Err(error) if started.elapsed() > timeout => return Err(error.to_string()),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// A TCP port on loopback that is free right now.
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Serves `dir` over HTTP on a free loopback port until dropped (python's `http.server`, which
/// the testbed already relies on for the mirror).
pub struct StaticServer {
    child: std::process::Child,
    pub url: String,
}

impl StaticServer {
    /// # Panics
    /// When the server doesn't come up.
    #[must_use]
    pub fn serve(dir: &Path) -> Self {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let url = format!("http://127.0.0.1:{port}");
        let server = StaticServer { child, url };
        let _ = http_get(&format!("{}/", server.url), Duration::from_secs(10));
        server
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private package index with basic auth on 127.0.0.1:`PRIVATE_INDEX_PORT`, serving
/// `test-fixtures/private_index_packages`. The password is new for every run. Stopped when
/// dropped.
pub struct PrivateIndex {
    child: std::process::Child,
    pub username: String,
    pub password: String,
    _htpasswd: tempfile::NamedTempFile,
}

impl PrivateIndex {
    /// The index's simple API.
    #[must_use]
    pub fn url() -> String {
        format!("http://127.0.0.1:{}/simple/", setting("PRIVATE_INDEX_PORT"))
    }

    #[must_use]
    pub fn start() -> Self {
        let venv = testbed_dir().join("pypiserver");
        let password = format!("s3cret-{}-{}", std::process::id(), unique_nanos());
        let htpasswd = tempfile::NamedTempFile::new().expect("temp file");
        let status = Command::new(venv.join("bin/python"))
            .args([
                "-c",
                "import sys; from passlib.apache import HtpasswdFile as H; \
                 h = H(sys.argv[1], new=True); h.set_password('luban', sys.argv[2]); h.save()",
            ])
            .arg(htpasswd.path())
            .arg(&password)
            .status()
            .expect("run passlib (scripts/install-tools.sh installs pypiserver)");
        assert!(status.success(), "could not write the htpasswd file");
        let child = Command::new(venv.join("bin/pypi-server"))
            .args([
                "run",
                "-i",
                "127.0.0.1",
                "-p",
                &setting("PRIVATE_INDEX_PORT"),
                "-a",
                "download,list,update",
                "-P",
            ])
            .arg(htpasswd.path())
            .arg(repo_root().join("test-fixtures/private_index_packages"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start pypi-server");
        let index = PrivateIndex {
            child,
            username: "luban".into(),
            password,
            _htpasswd: htpasswd,
        };
        let (status, _) =
            http_get(&Self::url(), Duration::from_secs(20)).expect("private index answers");
        assert_eq!(status, 401, "the private index must require credentials");
        index
    }

    /// Names this server as `app`'s index `private` for `package` (in `pyproject.toml`, as a
    /// company's project names its own index) and locks the app against it, with credentials.
    ///
    /// # Panics
    /// When the app's `pyproject.toml` can't be edited or uv can't lock.
    pub fn lock_app(&self, app: &App, package: &str) {
        let path = app.path().join("pyproject.toml");
        let mut pyproject = luban_xtask::read_toml(&path).unwrap_or_else(|error| panic!("{error}"));
        let mut index = toml_edit::Table::new();
        index.insert("name", toml_edit::value("private"));
        index.insert("url", toml_edit::value(Self::url()));
        index.insert("explicit", toml_edit::value(true));
        let mut indexes = toml_edit::ArrayOfTables::new();
        indexes.push(index);
        let mut sources = toml_edit::Table::new();
        let mut source = toml_edit::InlineTable::new();
        source.insert("index", "private".into());
        sources.insert(package, toml_edit::value(source));
        let mut uv = toml_edit::Table::new();
        uv.set_implicit(true);
        uv.insert("index", toml_edit::Item::ArrayOfTables(indexes));
        uv.insert("sources", toml_edit::Item::Table(sources));
        let mut tool = toml_edit::Table::new();
        tool.set_implicit(true);
        tool.insert("uv", toml_edit::Item::Table(uv));
        assert!(
            pyproject.get("tool").is_none(),
            "the fixture must leave [tool] to this helper"
        );
        pyproject.insert("tool", toml_edit::Item::Table(tool));
        luban_xtask::write_toml(&path, &pyproject).unwrap_or_else(|error| panic!("{error}"));
        app.relock_with(&[
            ("UV_INDEX_PRIVATE_USERNAME", &self.username),
            ("UV_INDEX_PRIVATE_PASSWORD", &self.password),
        ]);
    }
}

impl Drop for PrivateIndex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Every place in the exported image where `needle` occurs: the image is saved with
/// `docker save`, and each file of each layer (gzip or plain tar) and each JSON file (config,
/// manifest) is searched. Returns `<archive member>` or `<layer>:<path>` for each hit.
#[must_use]
pub fn find_in_image(image: &str, needle: &str) -> Vec<String> {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("image.tar");
    let output = docker(&["save", "-o", &archive.to_string_lossy(), image]);
    assert!(
        output.status.success(),
        "docker save failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let needle = needle.as_bytes();
    let contains = |haystack: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    let mut hits = Vec::new();
    let mut outer = tar::Archive::new(std::fs::File::open(&archive).expect("open saved image"));
    for member in outer.entries().expect("read saved image") {
        let mut member = member.expect("member");
        let name = member.path().expect("path").display().to_string();
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).expect("read member");
        if contains(&bytes) {
            hits.push(name.clone());
        }
        let layer: Box<dyn Read> = if bytes.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::GzDecoder::new(&bytes[..]))
        } else {
            Box::new(&bytes[..])
        };
        let mut inner = tar::Archive::new(layer);
        let Ok(entries) = inner.entries() else {
            continue;
        };
        for entry in entries {
            let Ok(mut entry) = entry else { break };
            let path = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let mut contents = Vec::new();
            if entry.read_to_end(&mut contents).is_ok() && contains(&contents) {
                hits.push(format!("{name}:{path}"));
            }
        }
    }
    hits
}
