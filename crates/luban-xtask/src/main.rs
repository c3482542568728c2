//! `cargo xtask <command>`: what Luban's scripts and CI need from the repository's own files,
//! read and written as typed TOML (see the crate docs).

use luban_xtask::{Error, Result, builder_config, package, repo_root, source_digest, uv_pin};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// The library's dependencies, linked through it.
use {libcnb_data as _, libcnb_package as _, serde as _, sha2 as _, toml as _, toml_edit as _};

#[cfg(test)]
use tempfile as _;

const USAGE: &str = "\
usage: cargo xtask <command> [--option value]...

  package [--out DIR] [--target TRIPLE] [--uv-inventory FILE]
      compile the buildpacks and lay them out for package.toml (default: target/buildpacks);
      LUBAN_BUILDPACKS_PROFILE=dev compiles them unoptimised (make demo)
  uv-version            print the uv version luban/uv pins
  uv-artifacts          print each pinned uv file and its sha256
  uv-mirror-inventory --version V --base-url URL --arch ARCH --tarball FILE --out FILE
      write a [metadata.uv] for a mirror serving FILE
  lifecycle-version     print the lifecycle version builder.toml pins
  builder-config --config FILE --out FILE [--lifecycle-uri FILE] [--build-image IMAGE] [--run-image IMAGE]
      write a builder config for `pack builder create`
  source-digest         print the digest of the sources a builder is made from
  builder-label         print the builder's label carrying it, as `name=digest` for `--label`";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let (command, rest) = args.split_first().ok_or_else(|| Error(USAGE.to_string()))?;
    let root = repo_root();
    let uv_descriptor = root.join("buildpacks/uv/buildpack.toml");
    match command.as_str() {
        "package" => {
            let options = Options::parse(rest, &["out", "target", "uv-inventory"])?;
            let out = options
                .path("out")
                .unwrap_or_else(|| root.join("target/buildpacks"));
            let target = options
                .get("target")
                .map_or_else(package::default_target, str::to_string);
            let profile =
                package::profile(std::env::var("LUBAN_BUILDPACKS_PROFILE").ok().as_deref())?;
            eprintln!("Compiling the buildpacks for {target} ({profile:?} profile)");
            for dir in package::package(
                &root,
                &out,
                &target,
                profile,
                options.path("uv-inventory").as_deref(),
            )? {
                eprintln!("  {}", dir.display());
            }
        }
        "uv-version" => {
            Options::parse(rest, &[])?;
            println!("{}", uv_pin::read(&uv_descriptor)?.version);
        }
        "uv-artifacts" => {
            Options::parse(rest, &[])?;
            for artifact in uv_pin::read(&uv_descriptor)?.artifacts {
                println!("{} {}", artifact.file, artifact.sha256);
            }
        }
        "uv-mirror-inventory" => {
            let options = Options::parse(rest, &["version", "base-url", "arch", "tarball", "out"])?;
            let document = uv_pin::mirror_inventory(
                options.required("version")?,
                options.required("base-url")?,
                options.required("arch")?,
                Path::new(options.required("tarball")?),
            )?;
            luban_xtask::write_toml(Path::new(options.required("out")?), &document)?;
        }
        "lifecycle-version" => {
            Options::parse(rest, &[])?;
            println!(
                "{}",
                builder_config::lifecycle_version(&root.join("builder.toml"))?
            );
        }
        "builder-config" => {
            let options = Options::parse(
                rest,
                &["config", "out", "lifecycle-uri", "build-image", "run-image"],
            )?;
            let lifecycle_uri = options.path("lifecycle-uri");
            builder_config::write(
                Path::new(options.required("config")?),
                Path::new(options.required("out")?),
                &builder_config::Overrides {
                    lifecycle_uri: lifecycle_uri.as_deref(),
                    build_image: options.get("build-image"),
                    run_image: options.get("run-image"),
                },
            )?;
        }
        "source-digest" => {
            Options::parse(rest, &[])?;
            println!("{}", source_digest::source_digest(&root)?);
        }
        "builder-label" => {
            Options::parse(rest, &[])?;
            println!(
                "{}={}",
                source_digest::LABEL,
                source_digest::source_digest(&root)?
            );
        }
        other => return Err(Error(format!("unknown command `{other}`\n\n{USAGE}"))),
    }
    Ok(())
}

/// `--name value` pairs, only the names a command takes.
struct Options(BTreeMap<String, String>);

impl Options {
    fn parse(args: &[String], allowed: &[&str]) -> Result<Self> {
        let mut options = BTreeMap::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let name = arg
                .strip_prefix("--")
                .filter(|name| allowed.contains(name))
                .ok_or_else(|| Error(format!("unexpected argument `{arg}`\n\n{USAGE}")))?;
            let value = args
                .next()
                .ok_or_else(|| Error(format!("`--{name}` needs a value")))?;
            options.insert(name.to_string(), value.clone());
        }
        Ok(Options(options))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from)
    }

    fn required(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| Error(format!("`--{name}` is required\n\n{USAGE}")))
    }
}
