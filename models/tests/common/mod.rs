//! What the models crate's integration tests share.
use std::path::PathBuf;

/// A fresh folder tagged `tag` in the temporary folder, with the guard that removes it when
/// the test drops it.
pub fn temp_dir(tag: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new()
        .prefix(&format!("tessera-{tag}-"))
        .tempdir()
        .unwrap();
    let dir = guard.path().to_path_buf();
    (guard, dir)
}
