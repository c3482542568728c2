//! exec.d program: runs before the app starts and refuses to let it start as root.
// The crate's buildpack binary uses the other dependencies; this program needs only the library.
#![allow(unused_crate_dependencies)]
use luban_run_user::{current_ids, launch_refusal};

fn main() -> std::process::ExitCode {
    match current_ids().map(launch_refusal) {
        Ok(None) => std::process::ExitCode::SUCCESS,
        Ok(Some(refusal)) => {
            eprintln!("{refusal}");
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("Error: could not check the user the app runs as: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
