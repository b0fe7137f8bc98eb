//! What a data set is to the loader: a list of labelled images that can be decoded one at a
//! time from any thread, plus the decoded image type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::DataError;

/// A decoded 8-bit image, rows of interleaved channels (HWC), top row first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl Image {
    /// Wraps pixels; fails if their count does not match the dimensions.
    pub fn new(
        width: usize,
        height: usize,
        channels: usize,
        pixels: Vec<u8>,
    ) -> Result<Self, DataError> {
        if pixels.len() != width * height * channels || channels == 0 {
            return Err(DataError::BadConfig(format!(
                "an image of {width}x{height}x{channels} needs {} bytes, got {}",
                width * height * channels,
                pixels.len()
            )));
        }
        Ok(Image {
            width,
            height,
            channels,
            pixels,
        })
    }

    pub fn at(&self, x: usize, y: usize, c: usize) -> u8 {
        self.pixels[(y * self.width + x) * self.channels + c]
    }
}

/// A labelled image collection the loader can read from several threads.
pub trait Dataset: Send + Sync {
    /// Number of samples (after unreadable files found while scanning were dropped).
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Class index of sample `index`, in `0..classes().len()`.
    fn label(&self, index: usize) -> u32;

    /// Class names, in label order.
    fn classes(&self) -> &[String];

    /// Channels of the decoded images (1 for Fashion-MNIST, 3 for folders of photos).
    fn channels(&self) -> usize;

    /// What to call sample `index` in a message: its path, or `set[index]`.
    fn describe(&self, index: usize) -> String;

    /// Decodes sample `index`. `DataError::Unreadable` means "skip this one"; every other
    /// error stops the run.
    fn load(&self, index: usize) -> Result<Image, DataError>;

    /// Files found unreadable so far (while scanning and while decoding).
    fn skipped(&self) -> Vec<Skipped> {
        Vec::new()
    }

    /// A short name of the whole set for messages (`fashion-mnist:DIR train`, a folder path).
    fn name(&self) -> String;
}

/// One file that was reported and skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The record of unreadable files of one data set. Each file is reported on stderr once, when
/// it is first found, so a user sees which file is bad while a long run goes on.
#[derive(Debug, Default)]
pub struct SkipLog {
    by_index: Mutex<BTreeMap<usize, Skipped>>,
}

impl SkipLog {
    /// Records sample `index` as unreadable; returns false if it was already known.
    pub fn record(&self, index: usize, path: &Path, reason: &str) -> bool {
        let mut map = self.by_index.lock().unwrap_or_else(|e| e.into_inner());
        if map.contains_key(&index) {
            return false;
        }
        eprintln!(
            "warning: skipping unreadable image {}: {reason}",
            path.display()
        );
        map.insert(
            index,
            Skipped {
                path: path.to_path_buf(),
                reason: reason.to_string(),
            },
        );
        true
    }

    pub fn is_known(&self, index: usize) -> Option<Skipped> {
        let map = self.by_index.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&index).cloned()
    }

    pub fn entries(&self) -> Vec<Skipped> {
        let map = self.by_index.lock().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.by_index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
