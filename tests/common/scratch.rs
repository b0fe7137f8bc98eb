//! Scratch paths for tests, removed when the test drops them.
//!
//! Every scratch path lies in a folder of its own (`tessera-{tag}-XXXXXX` in the system's
//! temporary folder), so tests running in parallel never share or remove each other's files,
//! and a whole CI run leaves nothing behind: runs that trained models used to leave hundreds
//! of megabytes of checkpoints per run in /tmp.

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A path (not yet created) inside a fresh folder that is removed, with everything under it,
/// when this value is dropped. Dereferences to the path, so `&scratch` serves as a `&Path`.
pub struct Scratch {
    path: PathBuf,
    // Owns the folder; dropping it removes the folder.
    _folder: tempfile::TempDir,
}

impl Scratch {
    /// `name` inside a fresh folder tagged `tag`; nothing exists at the path yet.
    pub fn path(tag: &str, name: &str) -> Scratch {
        let folder = tempfile::Builder::new()
            .prefix(&format!("tessera-{tag}-"))
            .tempdir()
            .expect("cannot create a scratch folder in the temporary folder");
        Scratch {
            path: folder.path().join(name),
            _folder: folder,
        }
    }

    /// Like [`Scratch::path`], with the path created as an empty folder.
    pub fn dir(tag: &str, name: &str) -> Scratch {
        let scratch = Scratch::path(tag, name);
        std::fs::create_dir_all(&scratch.path).unwrap();
        scratch
    }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}
