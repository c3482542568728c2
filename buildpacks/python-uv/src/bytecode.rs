//! Bytecode compiled at build time, hash-checked and reproducible. The lifecycle resets file
//! times when it exports layers, so timestamp-checked bytecode (what Python writes by default)
//! would be stale in the image and every start of the app would compile again, as a user who
//! can't write it.
//!
//! `compileall -j N` (and uv's `--compile-bytecode`) hand files to worker processes as they
//! free up, and the bytes marshal writes depend on what the worker compiled before (which
//! objects are shared), so two builds of the same files can give different `.pyc` files and a
//! different layer. Here each worker gets a fixed share of the directory's entries, in sorted
//! order, so the same files always compile the same way.

use crate::uv::Uv;
use bullet_stream::global::print;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// Splits `entries` (sorted) round-robin into at most `workers` non-empty shares.
pub(crate) fn shares(mut entries: Vec<PathBuf>, workers: usize) -> Vec<Vec<PathBuf>> {
    entries.sort();
    let workers = workers.clamp(1, entries.len().max(1));
    let mut shares: Vec<Vec<PathBuf>> = vec![Vec::new(); workers];
    for (index, entry) in entries.into_iter().enumerate() {
        shares[index % workers].push(entry);
    }
    shares.retain(|share| !share.is_empty());
    shares
}

/// Compiles every module under `dir` (except paths matching `exclude`) with `python`, showing
/// `what` with a timer. Returns whether every file compiled; never fails the build.
///
/// Python runs isolated (`-I`: no `PYTHON*` variables, no user site, no script or working
/// directory on `sys.path`) from `/`, so a `compileall.py` (or any module) in the app can't
/// run in place of the standard library's.
pub(crate) fn compile(uv: &Uv, python: &Path, dir: &Path, exclude: &str, what: &str) -> bool {
    let timer = print::sub_start_timer(format!("Compiling {what} to hash-checked bytecode"));
    let all_compiled = spawn(uv, python, dir, exclude, what).wait();
    timer.done();
    all_compiled
}

/// [`compile`] in the background: the workers run while the build goes on (the standard
/// library compiles alongside the dependency install), and [`Compilation::finish`] waits for
/// them. Dropped unfinished (the build failed), it still waits, so no worker outlives the
/// build and no layer is left half-compiled.
pub(crate) fn start(uv: &Uv, python: &Path, dir: &Path, exclude: &str, what: &str) -> Compilation {
    print::sub_bullet(format!(
        "Compiling {what} to hash-checked bytecode, alongside what follows"
    ));
    spawn(uv, python, dir, exclude, what)
}

/// Compile workers started by [`start`].
pub(crate) struct Compilation {
    children: Vec<std::io::Result<Child>>,
    started: Instant,
    what: String,
}

impl Compilation {
    /// Waits for the workers and says how long the compilation took and how much of it the
    /// build waited for. Returns whether every file compiled.
    pub(crate) fn finish(mut self) -> bool {
        let waiting = Instant::now();
        let all_compiled = self.wait();
        print::sub_bullet(format!(
            "Compiled {} ({} in the background, {} of it waited for)",
            self.what,
            seconds(self.started.elapsed()),
            seconds(waiting.elapsed()),
        ));
        all_compiled
    }

    fn wait(&mut self) -> bool {
        let mut all_compiled = true;
        for child in self.children.drain(..) {
            all_compiled &= child
                .and_then(|mut child| child.wait())
                .is_ok_and(|status| status.success());
        }
        all_compiled
    }
}

impl Drop for Compilation {
    fn drop(&mut self) {
        self.wait();
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

fn spawn(uv: &Uv, python: &Path, dir: &Path, exclude: &str, what: &str) -> Compilation {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let children = shares(entries, workers)
        .into_iter()
        .map(|share| {
            uv.clean_command(python)
                .current_dir("/")
                .args(["-I", "-m", "compileall", "-q", "-f"])
                .args(["--invalidation-mode", "checked-hash", "-x", exclude])
                .args(share)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
        })
        .collect();
    Compilation {
        children,
        started: Instant::now(),
        what: what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_fixed_by_the_sorted_entries() {
        let paths = |names: &[&str]| -> Vec<PathBuf> { names.iter().map(PathBuf::from).collect() };
        let a = shares(paths(&["d", "a", "c", "b", "e"]), 2);
        let b = shares(paths(&["e", "b", "c", "a", "d"]), 2);
        assert_eq!(a, b);
        assert_eq!(a, [paths(&["a", "c", "e"]), paths(&["b", "d"])]);
        assert_eq!(shares(paths(&["a"]), 8), [paths(&["a"])]);
        assert!(shares(Vec::new(), 4).is_empty());
    }
}
