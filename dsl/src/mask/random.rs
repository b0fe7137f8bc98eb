//! MAE random masking (`models_mae.py: random_masking`): per-sample uniform noise, the tokens
//! with the smallest noise are kept.
use super::{draw_noise, keep_count, stable_argsort, Mask, MaskError};
use crate::{rng::Rng, Ratio};
use alloc::vec::Vec;

/// The mask official MAE builds from `noise` (one value per token): `ids_shuffle` = stable
/// ascending argsort of the noise, keep the first `floor(L (1 - r))`.
pub fn random_from_noise(noise: &[f32], ratio: Ratio) -> Result<Mask, MaskError> {
    let len_keep = keep_count(noise.len(), ratio)?;
    Mask::from_shuffle(stable_argsort(noise)?, len_keep)
}

/// One sample's random mask over `len` tokens, from noise drawn out of `rng`.
pub fn random(len: usize, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
    // Check the counts before drawing so that an error consumes no randomness.
    keep_count(len, ratio)?;
    random_from_noise(&draw_noise(len, rng), ratio)
}

/// Independent random masks for `batch` samples (MAE draws noise of shape [N, L]).
pub fn random_batch(
    batch: usize,
    len: usize,
    ratio: Ratio,
    rng: &mut Rng,
) -> Result<Vec<Mask>, MaskError> {
    (0..batch).map(|_| random(len, ratio, rng)).collect()
}
