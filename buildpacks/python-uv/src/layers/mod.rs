pub(crate) mod python;
pub(crate) mod uv_cache;
pub(crate) mod venv;
