//! The first `n` samples of a data set (`--limit`), for quick runs and tests.
use std::sync::Arc;

use crate::data::{DataError, Dataset, Image, Skipped};

/// A prefix of another data set.
pub struct Subset {
    inner: Arc<dyn Dataset>,
    len: usize,
}

impl Subset {
    pub fn new(inner: Arc<dyn Dataset>, n: usize) -> Self {
        let len = n.min(inner.len());
        Subset { inner, len }
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.len
    }

    fn label(&self, index: usize) -> u32 {
        self.inner.label(index)
    }

    fn classes(&self) -> &[String] {
        self.inner.classes()
    }

    fn channels(&self) -> usize {
        self.inner.channels()
    }

    fn describe(&self, index: usize) -> String {
        self.inner.describe(index)
    }

    fn load(&self, index: usize) -> Result<Image, DataError> {
        self.inner.load(index)
    }

    fn skipped(&self) -> Vec<Skipped> {
        self.inner.skipped()
    }

    fn name(&self) -> String {
        format!("{} (first {})", self.inner.name(), self.len)
    }
}
