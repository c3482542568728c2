//! luban/procfile: declares the image's processes from the app's `Procfile`.

mod errors;
mod procfile;

use bullet_stream::global::print;
use errors::ProcfileBuildpackError;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::launch::{LaunchBuilder, ProcessBuilder};
use libcnb::data::process_type;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, buildpack_main};

#[cfg(test)]
use {insta as _, luban_test_support as _};

pub(crate) struct ProcfileBuildpack;

impl Buildpack for ProcfileBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = ProcfileBuildpackError;

    fn detect(&self, _context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        // Always passes: without a Procfile the build explains how to add one.
        DetectResultBuilder::pass().build()
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let started = print::buildpack("Luban Procfile");
        let path = context.app_dir.join("Procfile");
        if !path.is_file() {
            print::bullet("No `Procfile`; the image has no process to start by default");
            print::sub_bullet(
                "Add a `Procfile` at the app's root with a line such as `web: gunicorn app:app --bind 0.0.0.0:8000`",
            );
            print::all_done(&Some(started));
            return BuildResultBuilder::new().build();
        }
        let contents = std::fs::read_to_string(&path).map_err(ProcfileBuildpackError::Read)?;
        let processes = procfile::parse(&contents).map_err(ProcfileBuildpackError::Parse)?;

        print::bullet("Processes from `Procfile`");
        let mut launch = LaunchBuilder::new();
        for process in &processes {
            // The names were checked by the parser against the same rules.
            let Ok(process_type) = process.name.parse() else {
                continue;
            };
            let is_web = process_type == process_type!("web");
            print::sub_bullet(format!(
                "{}: {}{}",
                process.name,
                process.command,
                if is_web { " (default)" } else { "" }
            ));
            launch.process(
                ProcessBuilder::new(process_type, ["bash", "-c", &process.command])
                    .default(is_web)
                    .build(),
            );
        }
        if processes.is_empty() {
            print::sub_bullet("The `Procfile` declares no process");
        }
        print::all_done(&Some(started));
        BuildResultBuilder::new().launch(launch.build()).build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        errors::on_error(&error);
    }
}

buildpack_main!(ProcfileBuildpack);
