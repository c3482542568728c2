//! Bytecode compiled at build time, hash-checked. The lifecycle resets file times when it
//! exports layers, so timestamp-checked bytecode (what Python writes by default) would be stale
//! in the image and every start of the app would compile again, as a user who can't write it.

use crate::uv::Uv;
use bullet_stream::global::print;
use std::path::Path;

/// Compiles every module under `dir` (except paths matching `exclude`) with `python`, showing
/// `what` with a timer. Returns whether every file compiled; never fails the build.
///
/// Python runs isolated (`-I`: no `PYTHON*` variables, no user site, no script or working
/// directory on `sys.path`) from `/`, so a `compileall.py` (or any module) in the app can't
/// run in place of the standard library's.
pub(crate) fn compile(uv: &Uv, python: &Path, dir: &Path, exclude: &str, what: &str) -> bool {
    let mut command = uv.clean_command(python);
    command
        .current_dir("/")
        .args(["-I", "-m", "compileall", "-q", "-f", "-j", "0"])
        .args(["--invalidation-mode", "checked-hash", "-x", exclude])
        .arg(dir);
    let timer = print::sub_start_timer(format!("Compiling {what} to hash-checked bytecode"));
    let output = command.output();
    timer.done();
    output.is_ok_and(|o| o.status.success())
}
