pub(crate) mod uv;
