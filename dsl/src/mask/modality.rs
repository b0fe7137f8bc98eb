//! M3AE per-modality masking (`m3ae/model.py: random_masking`): image and text tokens are masked
//! separately, each with its own ratio, and each with **one** permutation shared by the whole
//! batch (the official code draws noise of shape [L], not [N, L]).
use super::{draw_noise, keep_count, random::random_from_noise, Mask, MaskError};
use crate::{rng::Rng, Ratio};

/// The batch-shared image and text masks of one M3AE step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModalityMasks {
    pub image: Mask,
    pub text: Mask,
}

/// Masks from explicit noise vectors (`image_noise` [L], `text_noise` [T]): per modality,
/// `ids_shuffle` = stable argsort, keep `floor(len (1 - r))` — M3AE keeps them in that shuffled
/// order.
pub fn modality_from_noise(
    image_noise: &[f32],
    image_ratio: Ratio,
    text_noise: &[f32],
    text_ratio: Ratio,
) -> Result<ModalityMasks, MaskError> {
    Ok(ModalityMasks {
        image: random_from_noise(image_noise, image_ratio)?,
        text: random_from_noise(text_noise, text_ratio)?,
    })
}

/// Masks drawn from `rng`: image noise first, then text noise (the official call order).
pub fn modality(
    image_len: usize,
    image_ratio: Ratio,
    text_len: usize,
    text_ratio: Ratio,
    rng: &mut Rng,
) -> Result<ModalityMasks, MaskError> {
    keep_count(image_len, image_ratio)?;
    keep_count(text_len, text_ratio)?;
    let image_noise = draw_noise(image_len, rng);
    let text_noise = draw_noise(text_len, rng);
    modality_from_noise(&image_noise, image_ratio, &text_noise, text_ratio)
}
