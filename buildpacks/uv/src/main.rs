//! luban/uv: installs the pinned, checksum-verified uv release into a build-only layer.

mod download;
mod errors;
mod inventory;
mod layers;

use bullet_stream::global::print;
use errors::UvBuildpackError;
use inventory::BuildpackMetadata;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::GenericPlatform;
use libcnb::{Buildpack, Platform, buildpack_main};

#[cfg(test)]
use {insta as _, luban_test_support as _, toml as _};

pub(crate) struct UvBuildpack;

impl Buildpack for UvBuildpack {
    type Platform = GenericPlatform;
    type Metadata = BuildpackMetadata;
    type Error = UvBuildpackError;

    fn detect(&self, _context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        // Always offers uv; the group only passes when a later buildpack requires it.
        DetectResultBuilder::pass()
            .build_plan(BuildPlanBuilder::new().provides("uv").build())
            .build()
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let started = print::buildpack("Luban uv");
        luban_common::redact::mask_secret_values(context.platform.env().iter());

        let mirror = context.platform.env().get_string_lossy("BP_UV_MIRROR_URL");
        let download = context
            .buildpack_descriptor
            .metadata
            .uv
            .download_for(&context.target.arch, mirror.as_deref())
            .map_err(UvBuildpackError::Inventory)?;
        if mirror.is_some_and(|m| !m.trim().is_empty()) {
            print::bullet("Using the uv mirror set by `BP_UV_MIRROR_URL`");
        }

        print::bullet(format!("uv {} ({})", download.version, download.arch));
        layers::uv::install_uv(&context, &download)?;

        print::all_done(&Some(started));
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        errors::on_error(&error);
    }
}

buildpack_main!(UvBuildpack);
