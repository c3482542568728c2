//! Test support (filled in with the end-to-end suite).
