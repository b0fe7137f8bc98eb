//! The per-sample transform the loader's workers run: augmentation, then normalization.

use super::{Augment, DataError, Image, Normalize};
use tessera_dsl::rng::Rng;

/// Augmentation + normalization, for images of a known channel count.
#[derive(Clone, Debug, PartialEq)]
pub struct Transform {
    pub augment: Augment,
    pub normalize: Normalize,
}

impl Transform {
    pub fn new(augment: Augment, normalize: Normalize) -> Result<Self, DataError> {
        augment.validate()?;
        Ok(Transform { augment, normalize })
    }

    pub fn channels(&self) -> usize {
        self.normalize.channels()
    }

    /// (channels, height, width) of one output sample.
    pub fn output_shape(&self) -> [usize; 3] {
        let (w, h) = self.augment.output_size();
        [self.channels(), h, w]
    }

    /// Transforms one image into `out` (CHW, length of `output_shape` product).
    pub fn apply_into(
        &self,
        img: &Image,
        name: &str,
        rng: &mut Rng,
        out: &mut [f32],
    ) -> Result<(), DataError> {
        if img.channels != self.channels() {
            return Err(DataError::BadConfig(format!(
                "{name} has {} channel(s) but the normalization is for {}",
                img.channels,
                self.channels()
            )));
        }
        let hwc = self.augment.apply(img, name, rng)?;
        let (w, h) = self.augment.output_size();
        self.normalize.to_chw(&hwc, w, h, out);
        Ok(())
    }
}
