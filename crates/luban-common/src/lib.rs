//! Code shared by the Luban buildpacks.
//!
//! Each buildpack keeps its own user-facing text in its `errors.rs`; this crate only holds
//! the mechanics they have in common, so nothing is copied between buildpacks.

pub mod app_file;
pub mod cache;
pub mod digest;
pub mod django;
pub mod message;
pub mod process_env;
pub mod redact;
pub mod settings;
pub mod uv_project;
