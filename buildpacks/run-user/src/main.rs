//! luban/run-user: refuses to build as root, and adds an exec.d check to the image that
//! refuses to start the app as root.

use bullet_stream::global::print;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::layer_name;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::layer::UncachedLayerDefinition;
use libcnb::{Buildpack, Platform, buildpack_main};
use luban_common::message::ErrorMessage;
use luban_common::{app_file, settings};
use luban_run_user::writable::{self, Origin, Outcome, Writable};
use luban_run_user::{build_refusal, current_ids, errors, make_app_read_only};
use std::path::Path;

#[cfg(test)]
use {insta as _, luban_test_support as _, tempfile as _};

pub(crate) struct RunUserBuildpack;

#[derive(Debug)]
pub(crate) struct RunUserError(ErrorMessage);

impl From<RunUserError> for libcnb::Error<RunUserError> {
    fn from(error: RunUserError) -> Self {
        libcnb::Error::BuildpackError(error)
    }
}

impl Buildpack for RunUserBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = RunUserError;

    fn detect(&self, _context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        DetectResultBuilder::pass().build()
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let started = print::buildpack("Luban run user");
        let ids =
            current_ids().map_err(|error| RunUserError(errors::ids_unreadable_at_build(&error)))?;
        let env = |name| std::env::var(name).ok();
        if let Some(refusal) = build_refusal(
            ids,
            env("CNB_USER_ID").as_deref(),
            env("CNB_GROUP_ID").as_deref(),
        ) {
            return Err(RunUserError(refusal).into());
        }
        print::bullet(format!("Building as uid {} gid {}", ids.uid, ids.gid));
        // Worked out before anything changes, so a bad setting fails the build untouched.
        let setting = settings::writable_paths(context.platform.env())
            .map_err(|error| RunUserError(errors::writable_setting(&error)))?;
        let read = |relative: &str| {
            app_file::read(&context.app_dir, relative, app_file::TEXT_FILE_LIMIT)
                .ok()
                .flatten()
        };
        let writable_paths = writable::plan(&setting, &read);

        let layer = context.uncached_layer(
            layer_name!("refuse-root"),
            UncachedLayerDefinition {
                build: false,
                launch: true,
            },
        )?;
        // The `refuse-root` binary target, where libcnb-package puts additional binaries.
        layer.write_exec_d_programs([(
            "refuse-root",
            libcnb::additional_buildpack_binary_path!("refuse-root"),
        )])?;
        print::bullet("Added a launch check that refuses to start the app as root");
        let permissions = make_app_read_only(&context.app_dir, ids.uid)
            .map_err(|error| RunUserError(errors::app_permissions(&context.app_dir, &error)))?;
        print::bullet(format!(
            "Made the app read-only for the run user (removed group/other write permission from {} paths)",
            permissions.changed
        ));
        if let Some(mode) = permissions.platform_owned {
            print::warning(errors::platform_owned_app_dir(&context.app_dir, mode));
        }

        // == Paths the app writes ==
        make_writable(&context.app_dir, &writable_paths)?;
        print::all_done(&Some(started));
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        match error {
            libcnb::Error::BuildpackError(RunUserError(message)) => message.print(),
            other => ErrorMessage::internal("run-user", &other).print(),
        }
    }
}

/// Makes the paths the app writes writable for the run user, saying which and why; a path the
/// user named that can't be made writable fails the build.
fn make_writable(app_dir: &Path, paths: &[Writable]) -> Result<(), RunUserError> {
    if paths.is_empty() {
        return Ok(());
    }
    let outcomes = writable::apply(app_dir, paths).map_err(|error| {
        RunUserError(errors::writable_failed(
            &app_dir.display().to_string(),
            &error,
        ))
    })?;
    if let Some((refused, Outcome::Skipped(skip))) = outcomes
        .iter()
        .find(|(w, o)| w.origin == Origin::Setting && *o != Outcome::Made)
    {
        return Err(RunUserError(errors::writable_setting_refused(
            &refused.path,
            skip,
        )));
    }
    print::bullet("Made writable for the run user (the app's code stays read-only)");
    for (writable, outcome) in &outcomes {
        print::sub_bullet(errors::writable_line(writable, outcome));
    }
    Ok(())
}

buildpack_main!(RunUserBuildpack);
