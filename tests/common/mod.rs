//! Where the integration tests find the `tessera` binary and the repository's files.
//!
//! Both are looked up at run time first, so that the same test executables run from a bundle
//! unpacked on another machine, where the build's absolute paths do not exist
//! (`scripts/gpu-check.sh` sets the variables). A plain `cargo test` leaves them unset and gets
//! the build's own paths.
// Each test crate includes this module and uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Path of the `tessera` binary to run instead of the one cargo built.
pub const BIN_VAR: &str = "TESSERA_BIN";
/// Repository root (holding `tests/fixtures`, `examples/`, ...) to read instead of the
/// build's source tree.
pub const ROOT_VAR: &str = "TESSERA_ROOT";

/// `var` when set and not empty; a set path that does not exist is a broken setup, not a
/// reason to fall back silently to the build's path.
fn path_from_env(var: &str) -> Option<PathBuf> {
    let value = std::env::var_os(var).filter(|v| !v.is_empty())?;
    let path = PathBuf::from(value);
    assert!(
        path.exists(),
        "{var}={} does not exist",
        path.to_string_lossy()
    );
    Some(path)
}

/// The `tessera` binary: `$TESSERA_BIN`, else the one cargo built for these tests.
pub fn tessera_bin() -> PathBuf {
    path_from_env(BIN_VAR).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tessera")))
}

/// A command running the `tessera` binary.
pub fn tessera() -> Command {
    Command::new(tessera_bin())
}

/// The repository root: `$TESSERA_ROOT`, else the source tree the tests were built from.
pub fn repo_root() -> PathBuf {
    path_from_env(ROOT_VAR).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub mod cli;
pub mod fixtures;
pub mod scratch;

pub use scratch::Scratch;
