//! A data set seen with another channel count (grey Fashion-MNIST as RGB for an RGB model, or
//! the reverse), converting each image as it is loaded.

use std::sync::Arc;

use super::pixels::convert;
use super::{DataError, Dataset, Image, Skipped};

/// `inner` with every image converted to `channels`.
pub struct AsChannels {
    inner: Arc<dyn Dataset>,
    channels: usize,
}

impl AsChannels {
    /// `inner` itself when it already has `channels`, else a converting view (1 <-> 3 only).
    pub fn wrap(inner: Arc<dyn Dataset>, channels: usize) -> Result<Arc<dyn Dataset>, DataError> {
        if inner.channels() == channels {
            return Ok(inner);
        }
        if !matches!((inner.channels(), channels), (1, 3) | (3, 1)) {
            return Err(DataError::BadConfig(format!(
                "{} has {} channel(s); it can be read as 1 (grey) or 3 (RGB), not {channels}",
                inner.name(),
                inner.channels()
            )));
        }
        Ok(Arc::new(AsChannels { inner, channels }))
    }
}

impl Dataset for AsChannels {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn label(&self, index: usize) -> u32 {
        self.inner.label(index)
    }

    fn classes(&self) -> &[String] {
        self.inner.classes()
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn describe(&self, index: usize) -> String {
        self.inner.describe(index)
    }

    fn load(&self, index: usize) -> Result<Image, DataError> {
        let img = self.inner.load(index)?;
        convert(&img, self.channels).ok_or_else(|| {
            DataError::BadConfig(format!(
                "{}: {} channel(s) cannot be read as {}",
                self.inner.describe(index),
                img.channels,
                self.channels
            ))
        })
    }

    fn skipped(&self) -> Vec<Skipped> {
        self.inner.skipped()
    }

    fn name(&self) -> String {
        let what = if self.channels == 3 { "RGB" } else { "grey" };
        format!("{} (as {what})", self.inner.name())
    }
}
