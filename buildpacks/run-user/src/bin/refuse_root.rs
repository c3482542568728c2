//! exec.d program: runs before the app starts and refuses to let it start as root.
// The crate's buildpack binary uses the other dependencies; this program needs only the library.
#![allow(unused_crate_dependencies)]

fn main() -> std::process::ExitCode {
    luban_run_user::exec_d_check(luban_run_user::current_ids()).map_or_else(
        |message| {
            eprintln!("{message}");
            std::process::ExitCode::FAILURE
        },
        |()| std::process::ExitCode::SUCCESS,
    )
}
