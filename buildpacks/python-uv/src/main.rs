//! luban/python-uv: Python installed by uv and the project's locked dependencies, in cached
//! layers that are reused while their inputs are unchanged.

mod bytecode;
mod config;
mod errors;
mod layers;
mod project;
mod python_version;
mod uv;

use bullet_stream::global::print;
use bullet_stream::style;
use config::Config;
use errors::PythonUvError;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::{Buildpack, Platform, buildpack_main};
use project::{Dependencies, Project};
use std::path::Path;
use uv::{Uv, UvError};

#[cfg(test)]
use {insta as _, luban_test_support as _, tempfile as _};

pub(crate) struct PythonUvBuildpack;

impl Buildpack for PythonUvBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = PythonUvError;

    fn detect(&self, context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        if project::detected(&context.app_dir) {
            DetectResultBuilder::pass()
                .build_plan(BuildPlanBuilder::new().requires("uv").build())
                .build()
        } else {
            println!(
                "No `uv.lock` or `.python-version` in the app; luban/python-uv does not apply."
            );
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let started = print::buildpack("Luban Python (uv)");

        // Everything that can be wrong with the app or its settings fails here, before any
        // download or install.
        let config = Config::from_env(context.platform.env()).map_err(PythonUvError::Config)?;
        let project = Project::read(&context.app_dir).map_err(PythonUvError::Project)?;
        let uv = Uv::new(context.platform.env(), &std::env::temp_dir()).map_err(
            |error| match error {
                UvError::NotFound => PythonUvError::UvNotFound,
                other => PythonUvError::UvVersion(other),
            },
        )?;
        let uv_version = uv.version().map_err(PythonUvError::UvVersion)?;
        let distro = format!(
            "{}-{}",
            context.target.distro_name, context.target.distro_version
        );
        print::bullet(format!(
            "Project ({})",
            describe(&project.dependencies, &config)
        ));
        print::sub_bullet(format!("uv {uv_version}"));

        print::bullet("Python");
        let available = uv.available_pythons().map_err(PythonUvError::PythonList)?;
        let version =
            python_version::resolve(&project.python_request, &available).ok_or_else(|| {
                PythonUvError::PythonNotAvailable {
                    request: project.python_request.clone(),
                    origin: project.python_origin,
                    available: available.clone(),
                }
            })?;
        print::sub_bullet(format!(
            "Python {} (requested: {} from {})",
            style::value(version.to_string()),
            project.python_request,
            project.python_origin
        ));
        let python = layers::python::install_python(&context, &uv, &version, &distro)?;

        print::bullet("Dependencies");
        layers::venv::install_dependencies(
            &context,
            &layers::venv::VenvInputs {
                uv: &uv,
                uv_version: &uv_version,
                python: &python,
                dependencies: &project.dependencies,
                config: &config,
                distro: &distro,
            },
        )?;

        print::bullet("App");
        compile_app_bytecode(&context, &uv, &python.executable);

        print::all_done(&Some(started));
        BuildResultBuilder::new().build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        errors::on_error(&error);
    }
}

fn describe(dependencies: &Dependencies, config: &Config) -> String {
    let mut text = match dependencies {
        Dependencies::Locked { .. } => "`uv.lock`, installed with `uv sync --locked`".to_string(),
        Dependencies::Requirements { .. } => {
            "`requirements.txt`, installed with `uv pip install`".to_string()
        }
    };
    for (label, names) in [("groups", &config.groups), ("extras", &config.extras)] {
        if !names.is_empty() {
            text = format!("{text}; {label}: {}", names.join(", "));
        }
    }
    text
}

/// Compiles the app's own modules, so the app starts without compiling (the run user can't
/// write the app directory). A file that doesn't compile only warns: apps often carry fixtures
/// or scripts for other Pythons.
fn compile_app_bytecode(context: &BuildContext<PythonUvBuildpack>, uv: &Uv, python: &Path) {
    let exclude = r"(^|/)\.|/(node_modules|__pycache__)/";
    if !bytecode::compile(
        uv,
        python,
        &context.app_dir,
        exclude,
        "the app's Python files",
    ) {
        print::warning(
            "Some of the app's Python files did not compile (run `python -m compileall .` to see which); they will be compiled each time they are imported.",
        );
    }
}

buildpack_main!(PythonUvBuildpack);
