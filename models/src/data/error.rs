//! Errors of the data pipeline. Each names the file (or data set) and what was expected, so
//! the CLI can show it to the user as is.

use std::path::PathBuf;

/// Everything that can go wrong while reading, decoding or batching a data set.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no such folder{hint}")]
    NoFolder { path: PathBuf, hint: String },
    #[error("{path}: not a valid gzip stream ({source}); expected a gzipped or plain IDX file")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: wrong IDX magic number 0x{found:08x}; expected {expected}")]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: String,
    },
    #[error("{path}: truncated: the header promises {expected} bytes, the file holds {found}")]
    Truncated {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    #[error("{path}: {found} bytes after the data the header describes ({expected} bytes)")]
    TrailingData {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    #[error("{path}: {what}")]
    Inconsistent { path: PathBuf, what: String },
    #[error("{dir}: none of {tried} exists; expected {expected}")]
    MissingFile {
        dir: PathBuf,
        tried: String,
        expected: String,
    },
    #[error(
        "{name}: image is {found_w}x{found_h}, expected {expected_w}x{expected_h} (with \
         `--fit exact` images must already have the model's size; `--fit center-crop` or \
         `--fit stretch` resizes them)"
    )]
    UnexpectedSize {
        name: String,
        expected_w: usize,
        expected_h: usize,
        found_w: usize,
        found_h: usize,
    },
    #[error("{path}: unreadable image: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{what}: the data set is empty ({why})")]
    Empty { what: String, why: String },
    #[error("bad data source `{spec}`: {why}")]
    BadSpec { spec: String, why: String },
    #[error("bad data pipeline setting: {0}")]
    BadConfig(String),
    #[error("a data loader worker thread stopped unexpectedly ({0})")]
    Worker(String),
}

impl DataError {
    /// `path` is not a folder; a relative path's message names the directory it was read
    /// from.
    pub(crate) fn no_folder(path: &std::path::Path) -> Self {
        let hint = match std::env::current_dir() {
            Ok(cwd) if path.is_relative() => format!(
                " (a relative path is read from the current directory, {})",
                cwd.display()
            ),
            _ => String::new(),
        };
        DataError::NoFolder {
            path: path.to_path_buf(),
            hint,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
