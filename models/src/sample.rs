//! What one training sample of a model is (an image, a clip, an image with its caption) and a
//! batch of them as a step takes it. Data loaders produce [`Samples`]; every family's
//! [`Model::step_inputs`](crate::model::Model::step_inputs) consumes them.
use tessera_dsl::spec::ImageSpec;

/// Token id of padding in captions (BERT's `[PAD]`): captions are padded at the end with it.
pub const PAD: u32 = 0;

/// The data one sample holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SampleSpec {
    /// An image `[C, H, W]`.
    Image(ImageSpec),
    /// A clip `[C, T, H, W]` of `frames` frames of `image`.
    Clip { frames: usize, image: ImageSpec },
    /// An image and a caption of exactly `text_len` token ids below `vocab`, padded with
    /// [`PAD`].
    ImageText {
        image: ImageSpec,
        text_len: usize,
        vocab: usize,
    },
}

impl SampleSpec {
    /// The image (or each frame of the clip).
    pub fn image(&self) -> ImageSpec {
        match *self {
            SampleSpec::Image(image)
            | SampleSpec::Clip { image, .. }
            | SampleSpec::ImageText { image, .. } => image,
        }
    }

    /// Pixel values per sample.
    pub fn pixel_numel(&self) -> usize {
        match *self {
            SampleSpec::Clip { frames, image } => frames * image.numel(),
            _ => self.image().numel(),
        }
    }

    /// Token ids per sample (0 without a caption).
    pub fn text_len(&self) -> usize {
        match *self {
            SampleSpec::ImageText { text_len, .. } => text_len,
            _ => 0,
        }
    }
}

/// A batch of `N` samples: `pixels` holds `N · pixel_numel` values (images `[N, C, H, W]`,
/// clips `[N, C, T, H, W]`, normalized), `text` `N · text_len` token ids (empty without
/// captions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Samples<'a> {
    pub pixels: &'a [f32],
    pub text: &'a [u32],
}

impl<'a> Samples<'a> {
    /// A batch of images or clips without text.
    pub fn pixels(pixels: &'a [f32]) -> Samples<'a> {
        Samples { pixels, text: &[] }
    }

    /// How many samples of `spec` the batch holds, or why it does not hold a whole number.
    pub fn count(&self, spec: &SampleSpec) -> Result<usize, String> {
        let per = spec.pixel_numel();
        if self.pixels.is_empty() || !self.pixels.len().is_multiple_of(per) {
            return Err(format!(
                "the batch holds {} pixel values, not a whole number of {per}-value samples",
                self.pixels.len()
            ));
        }
        let n = self.pixels.len() / per;
        if self.text.len() != n * spec.text_len() {
            return Err(format!(
                "the batch holds {} token ids for {n} samples of {} tokens",
                self.text.len(),
                spec.text_len()
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_whole_samples_only() {
        let image = ImageSpec {
            height: 2,
            width: 2,
            channels: 1,
        };
        let clip = SampleSpec::Clip { frames: 3, image };
        assert_eq!(clip.pixel_numel(), 12);
        assert_eq!(Samples::pixels(&[0.0; 24]).count(&clip), Ok(2));
        assert!(Samples::pixels(&[0.0; 20]).count(&clip).is_err());
        let pair = SampleSpec::ImageText {
            image,
            text_len: 5,
            vocab: 10,
        };
        let text = [1u32; 10];
        let two = Samples {
            pixels: &[0.0; 8],
            text: &text,
        };
        assert_eq!(two.count(&pair), Ok(2));
        assert!(Samples::pixels(&[0.0; 8]).count(&pair).is_err());
    }
}
