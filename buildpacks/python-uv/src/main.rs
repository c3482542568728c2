//! luban/python-uv: Python installed by uv and the project's locked dependencies, in cached
//! layers that are reused while their inputs are unchanged.

mod bindings;
mod bytecode;
mod django;
mod errors;
mod layers;
mod project;
mod provenance;
mod python_choice;
mod python_diet;
mod python_version;
mod sbom;
mod uv;

use bullet_stream::global::print;
use bullet_stream::style;
use errors::PythonUvError;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::build_plan::BuildPlanBuilder;
use libcnb::data::launch::LaunchBuilder;
use libcnb::data::sbom::SbomFormat;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::sbom::Sbom;
use libcnb::{Buildpack, Platform, buildpack_main};
use luban_common::settings::Settings;
use luban_common::uv_project::{self, LockedPackage, Selection};
use pep440_rs::Version;
use project::{Dependencies, Project};
use python_version::RequestOrigin;
use std::fmt::Write as _;
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
                "No `uv.lock`, `pyproject.toml` or `.python-version` in the app; luban/python-uv does not apply."
            );
            DetectResultBuilder::fail().build()
        }
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let started = print::buildpack("Luban Python (uv)");
        // Private-index credentials from service bindings join the build env's; before anything
        // runs, every secret value of either is masked in all output.
        let index_bindings =
            bindings::read_index_credentials(&bindings::root(context.platform.env()))
                .map_err(PythonUvError::Binding)?;
        let uv_env = bindings::with_credentials(context.platform.env(), &index_bindings);
        luban_common::redact::mask_secret_values(uv_env.iter());

        // Everything that can be wrong with the app or its settings fails here, before any
        // download or install.
        let config = Settings::from_env(context.platform.env()).map_err(PythonUvError::Settings)?;
        let project = Project::read(&context.app_dir).map_err(PythonUvError::Project)?;
        let selection = select(&project, &config)?;
        let project_info = project_info(&project);
        let provenance = provenance::decide(
            &|name| context.platform.env().get_string_lossy(name),
            &provenance::read_git(&context.app_dir, std::env::var_os("PATH").as_deref()),
            &project_info,
        )
        .map_err(PythonUvError::Provenance)?;
        let installed: Vec<&LockedPackage> = project.lock.as_ref().map_or_else(Vec::new, |lock| {
            lock.installed(&selection, &config.groups, &config.extras)
        });
        let django = django::plan(
            context.app_dir.join(django::MANAGE_PY).is_file(),
            &installed,
            config.django_collectstatic,
        );
        let uv = Uv::new(&uv_env, &std::env::temp_dir()).map_err(|error| match error {
            UvError::NotFound => PythonUvError::UvNotFound,
            other => PythonUvError::UvVersion(other),
        })?;
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
        for binding in &index_bindings {
            print::sub_bullet(format!(
                "Credentials for index `{}` from service binding `{}` (type `{}`)",
                binding.index,
                binding.binding,
                bindings::INDEX_TYPE
            ));
        }
        describe_selection(&project, &selection);
        describe_provenance(&provenance);

        print::bullet("Python");
        let available = uv.available_pythons().map_err(PythonUvError::PythonList)?;
        let version = choose_python(&context, &uv, &project, &installed, &available)?;
        let python_reason = match project.python_origin {
            RequestOrigin::PythonVersionFile => "pinned in `.python-version`".to_string(),
            origin => format!("chosen for `{}` from {origin}", project.python_request),
        };
        let mut python =
            layers::python::install_python(&context, &uv, &uv_version, &version, &distro)?;

        print::bullet("Dependencies");
        // Opened on every build, so the lifecycle keeps it: a later lock change links what it
        // already has instead of downloading everything again.
        let uv_cache = layers::uv_cache::uv_cache(&context, &distro)?;
        let venv = layers::venv::install_dependencies(
            &context,
            &layers::venv::VenvInputs {
                uv: &uv,
                uv_version: &uv_version,
                python: &python,
                dependencies: &project.dependencies,
                config: &config,
                selection: &selection,
                needed_at_build: django == django::Plan::Collect,
                cache_dir: &uv_cache,
                python_reason: &python_reason,
                distro: &distro,
            },
        )?;

        if let Some(compilation) = python.stdlib_bytecode.take() {
            compilation.finish();
        }

        print::bullet("App");
        match django {
            django::Plan::NotDjango => {}
            django::Plan::TurnedOff => print::sub_bullet(
                "Skipping Django's `collectstatic` (`BP_DJANGO_COLLECTSTATIC=false`)",
            ),
            django::Plan::Collect => {
                django::collectstatic(&uv, &venv, &context.app_dir, context.platform.env())
                    .map_err(PythonUvError::Django)?;
            }
        }
        compile_app_bytecode(&context, &uv, &python.executable);
        leave_out_git(&context.app_dir);

        print::all_done(&Some(started));
        BuildResultBuilder::new()
            .launch(LaunchBuilder::new().labels(provenance.labels()).build())
            .launch_sbom(Sbom::from_bytes(
                SbomFormat::CycloneDxJson,
                provenance.sbom(project_info.name),
            ))
            .build()
    }

    fn on_error(&self, error: libcnb::Error<Self::Error>) {
        errors::on_error(&error);
    }
}

/// Which of the lock's projects the build installs, checked against the lock's members.
fn select(project: &Project, config: &Settings) -> Result<Selection, PythonUvError> {
    let (Some(lock), Some(pyproject)) = (&project.lock, &project.pyproject) else {
        return match &config.package {
            Some(name) => Err(PythonUvError::UnknownPackage {
                name: name.clone(),
                members: Vec::new(),
            }),
            None => Ok(Selection::Root),
        };
    };
    let selection = uv_project::selection(pyproject, config.package.as_deref());
    lock.check_selection(&selection)
        .map_err(|members| PythonUvError::UnknownPackage {
            name: config.package.clone().unwrap_or_default(),
            members,
        })?;
    Ok(selection)
}

fn describe_selection(project: &Project, selection: &Selection) {
    let members = project
        .lock
        .as_ref()
        .map(luban_common::uv_project::Lock::members)
        .unwrap_or_default();
    match selection {
        Selection::Root => {}
        Selection::AllMembers => {
            print::sub_bullet(format!(
                "A uv workspace: installing all {} members ({})",
                members.len(),
                members
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            print::sub_bullet(
                "Set `BP_UV_PACKAGE=<member>` to install one member and what it depends on, for a smaller image",
            );
        }
        Selection::Member(name) => print::sub_bullet(format!(
            "A uv workspace: installing member `{name}` and what it depends on (`BP_UV_PACKAGE`)"
        )),
    }
}

/// The exact Python: the newest the request allows when `.python-version` pins it; otherwise
/// the newest whose wheels cover the lock (see `python_choice`), logged with what was skipped.
fn choose_python(
    context: &BuildContext<PythonUvBuildpack>,
    uv: &Uv,
    project: &Project,
    installed: &[&LockedPackage],
    available: &[Version],
) -> Result<Version, PythonUvError> {
    let not_available = || PythonUvError::PythonNotAvailable {
        request: project.python_request.clone(),
        origin: project.python_origin,
        available: available.to_vec(),
    };
    let requested = format!(
        "requested: {} from {}",
        project.python_request, project.python_origin
    );
    // `.python-version` is the user's word: no choice to make, so no need for the glibc.
    let choice = match project.python_origin {
        RequestOrigin::PythonVersionFile => None,
        _ => python_choice::Target::new(&context.target.arch, build_glibc(uv)).and_then(|target| {
            python_choice::choose(
                &python_version::matching(&project.python_request, available),
                installed,
                &target,
            )
        }),
    };
    let Some(choice) = choice else {
        let version = python_version::resolve(&project.python_request, available)
            .ok_or_else(not_available)?;
        // The pin is the user's word, but not one the project can install with: say so now,
        // not after Python is downloaded and `uv sync` refuses.
        if let Some((specifiers, origin)) = &project.requires_python
            && !specifiers.contains(&version)
        {
            return Err(PythonUvError::PinOutsideRequiresPython {
                pin: project.python_request.clone(),
                version,
                requires_python: specifiers.to_string(),
                origin: *origin,
            });
        }
        print::sub_bullet(format!(
            "Python {} ({requested})",
            style::value(version.to_string())
        ));
        return Ok(version);
    };
    let skipped: String = choice.skipped.iter().fold(String::new(), |mut text, s| {
        let _ = write!(
            text,
            "; {} skipped: {} has no wheel for it",
            s.version, s.package
        );
        text
    });
    print::sub_bullet(format!(
        "Python {} ({requested}{skipped})",
        style::value(choice.version.to_string())
    ));
    if !choice.compiled.is_empty() {
        print::sub_bullet(format!(
            "No Python that satisfies the request has wheels for every package; uv will build from source: {}",
            choice.compiled.join(", ")
        ));
    }
    Ok(choice.version)
}

/// The build image's glibc version (`getconf GNU_LIBC_VERSION`), which decides which
/// manylinux wheels install.
fn build_glibc(uv: &Uv) -> Option<(u16, u16)> {
    let output = uv
        .clean_command(Path::new("getconf"))
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    python_choice::parse_glibc(&String::from_utf8_lossy(&output.stdout))
}

/// The root project's name and static version, for the provenance.
fn project_info(project: &Project) -> provenance::ProjectInfo<'_> {
    let field = |name: &str| {
        project
            .pyproject
            .as_ref()
            .and_then(|pyproject| pyproject.get("project")?.get(name)?.as_str())
    };
    provenance::ProjectInfo {
        name: field("name"),
        version: field("version"),
    }
}

fn describe_provenance(provenance: &provenance::Provenance) {
    print::bullet("Provenance (image labels and SBOM)");
    for (what, value) in [
        ("Revision", &provenance.revision),
        ("Source", &provenance.source),
        ("Created", &provenance.created),
        ("Version", &provenance.version),
    ] {
        if let Some(value) = value {
            let removed = if what == "Source" && provenance.source_had_credentials {
                "; credentials removed"
            } else {
                ""
            };
            print::sub_bullet(format!(
                "{what} {} (from {}{removed})",
                style::value(&value.value),
                value.origin
            ));
        }
    }
    if provenance.revision.is_none() {
        print::sub_bullet(format!(
            "No revision: build from a Git checkout, or set `{}` (`pack build --env {}=$(git rev-parse HEAD)`)",
            provenance::REVISION,
            provenance::REVISION
        ));
    }
}

/// Removes the app's `.git`: history and remotes are not needed at run time, may hold what
/// the image shouldn't publish, and differ between two clones of the same commit.
fn leave_out_git(app_dir: &Path) {
    let git = app_dir.join(".git");
    let removed = match std::fs::symlink_metadata(&git) {
        Err(_) => return,
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(&git),
        Ok(_) => std::fs::remove_file(&git),
    };
    match removed {
        Ok(()) => print::sub_bullet("Left `.git` out of the image"),
        Err(error) => print::warning(format!(
            "Could not remove `.git` from the app ({error}); it stays in the image."
        )),
    }
}

fn describe(dependencies: &Dependencies, config: &Settings) -> String {
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
