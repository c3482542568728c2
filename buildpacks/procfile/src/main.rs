//! luban/procfile: declares the image's processes: from the app's `Procfile`, or, without one,
//! from what the project shows (see `detect`). Then checks that every process can start.

mod app_files;
mod detect;
mod errors;
mod launch_check;
mod procfile;

use bullet_stream::global::print;
use errors::ProcfileBuildpackError;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::launch::{LaunchBuilder, ProcessBuilder};
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Platform, buildpack_main};
use luban_common::app_file;
use procfile::Process;
use std::path::PathBuf;

#[cfg(test)]
use {insta as _, luban_test_support as _, tempfile as _};

pub(crate) struct ProcfileBuildpack;

impl Buildpack for ProcfileBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = ProcfileBuildpackError;

    fn detect(&self, _context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        // Always passes: without a Procfile the build finds a start command or says how to
        // add one.
        DetectResultBuilder::pass().build()
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let started = print::buildpack("Luban Procfile");
        let procfile = app_file::read(&context.app_dir, "Procfile", app_file::TEXT_FILE_LIMIT)
            .map_err(ProcfileBuildpackError::Read)?;
        let detected = procfile.is_none();
        let processes = if let Some(contents) = procfile {
            let processes = procfile::parse(&contents).map_err(ProcfileBuildpackError::Parse)?;
            print::bullet("Processes from `Procfile`");
            if processes.is_empty() {
                print::sub_bullet("The `Procfile` declares no process");
            }
            for process in &processes {
                print::sub_bullet(describe(&process.name, &process.command, None));
            }
            processes
        } else {
            detected_processes(&context)?
        };

        if processes.is_empty() {
            // Only an empty `Procfile` gets here: the app's own say that the image has no process.
            print::warning(
                "The image has no process: `docker run` needs a command, and Kubernetes a `command:`.",
            );
        } else {
            print::bullet("Checking that each process can start");
            check_programs(&context, &processes)?;
            print::sub_bullet("Every process's program is in the image");
        }

        let default = default_process(&processes, detected);
        let mut launch = LaunchBuilder::new();
        for process in &processes {
            // The names were checked by the parser and the detection against the same rules.
            let Ok(process_type) = process.name.parse() else {
                continue;
            };
            // `$0` is the process's name, so arguments given at `docker run` are `$1`….
            launch.process(
                ProcessBuilder::new(
                    process_type,
                    ["bash", "-c", &process.command, &process.name],
                )
                .default(default == Some(process.name.as_str()))
                .build(),
            );
        }
        print::all_done(&Some(started));
        BuildResultBuilder::new().launch(launch.build()).build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        errors::on_error(&error);
    }
}

/// Without a `Procfile`: the processes the project shows, with why, and how to override them.
/// Fails when there are none: an image that can't start must not be called done.
fn detected_processes(
    context: &BuildContext<ProcfileBuildpack>,
) -> Result<Vec<Process>, ProcfileBuildpackError> {
    let app = app_files::AppFiles::read(&context.app_dir, context.platform.env());
    let read = |relative: &str| app_files::read_app_file(&context.app_dir, relative);
    let detection = detect::detect(&detect::Inputs {
        installed: &app.installed,
        projects: &app.projects,
        scripts: &app.scripts,
        read: &read,
    });
    if detection.processes.is_empty() {
        return Err(ProcfileBuildpackError::NoProcess {
            notes: detection.notes,
        });
    }
    print::bullet("No `Procfile`; processes found in the project");
    for process in &detection.processes {
        print::sub_bullet(describe(
            &process.name,
            &process.command,
            Some(&process.reason),
        ));
    }
    for note in &detection.notes {
        print::sub_bullet(note);
    }
    if !detection.processes.iter().any(|p| p.name == "web") {
        if let [only] = detection.processes.as_slice() {
            print::sub_bullet(format!(
                "No web process; `{}`, the only process, is the image's default (`docker run <image> <args>` passes arguments to it)",
                only.name
            ));
        } else {
            print::sub_bullet(format!(
                "No web process, so the image has no default: run one by name (`docker run --entrypoint {} <image>`)",
                detection.processes[0].name
            ));
        }
    }
    print::sub_bullet(
        "To start something else, add a `Procfile` (`web: <command>`); it always wins",
    );
    Ok(detection
        .processes
        .into_iter()
        .map(|p| Process {
            name: p.name,
            command: p.command,
        })
        .collect())
}

/// The image's default process: `web`, or, for processes found in the project (not a
/// `Procfile`'s), the only one there is (a `[project.scripts]` CLI).
fn default_process(processes: &[Process], detected: bool) -> Option<&str> {
    if let Some(web) = processes.iter().find(|p| p.name == "web") {
        return Some(web.name.as_str());
    }
    match processes {
        [only] if detected => Some(only.name.as_str()),
        _ => None,
    }
}

/// One line of the build log for a process: `name: command (default; why)`.
fn describe(name: &str, command: &str, reason: Option<&str>) -> String {
    let notes: Vec<&str> = [(name == "web").then_some("default"), reason]
        .into_iter()
        .flatten()
        .collect();
    if notes.is_empty() {
        format!("{name}: {command}")
    } else {
        format!("{name}: {command} ({})", notes.join("; "))
    }
}

/// Fails the build when a process's program is not on the launch `PATH` nor in the app.
fn check_programs(
    context: &BuildContext<ProcfileBuildpack>,
    processes: &[Process],
) -> Result<(), ProcfileBuildpackError> {
    let mut path = context
        .layers_dir
        .parent()
        .map(launch_check::launch_path)
        .unwrap_or_default();
    path.dirs
        .extend(launch_check::SYSTEM_DIRS.iter().map(PathBuf::from));
    for process in processes {
        let Some(program) = launch_check::first_program(&process.command) else {
            continue;
        };
        if !launch_check::resolves(&program, &path, &context.app_dir) {
            return Err(ProcfileBuildpackError::MissingProgram {
                process: process.name.clone(),
                program: program.clone(),
                package: launch_check::package_for(&program),
            });
        }
    }
    Ok(())
}

buildpack_main!(ProcfileBuildpack);
