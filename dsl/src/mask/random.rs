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

/// The official mask from `noise` keeping exactly `len_keep` tokens (for counts computed the
/// official way, e.g. [`float_keep_count`]); `len_keep` may be 0 or `len`.
pub fn random_keeping(noise: &[f32], len_keep: usize) -> Result<Mask, MaskError> {
    Mask::from_shuffle(stable_argsort(noise)?, len_keep)
}

/// `int(L * (1 - mask_ratio))` as the official forward pass computes it with the ratio given
/// as a float (`f32` widened to a Python float); `None` unless the ratio lies in `[0, 1]`.
/// At `0.6` this keeps 3 of 10 where the exact ratio 3/5 keeps 4.
pub fn float_keep_count(len: usize, mask_ratio: f32) -> Option<usize> {
    if !(0.0..=1.0).contains(&mask_ratio) {
        return None;
    }
    Some(num_traits::Float::floor(len as f64 * (1.0 - mask_ratio as f64)) as usize)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_counts_follow_python() {
        assert_eq!(float_keep_count(196, 0.75), Some(49));
        assert_eq!(float_keep_count(10, 0.6), Some(3));
        assert_eq!(float_keep_count(16, 1.0), Some(0));
        assert_eq!(float_keep_count(16, 1.5), None);
        assert_eq!(float_keep_count(16, f32::NAN), None);
        // torch: noise [[.5, .1, .9, .3, .7]] -> ids_shuffle [1, 3, 0, 4, 2]; keep 2.
        let m = random_keeping(&[0.5, 0.1, 0.9, 0.3, 0.7], 2).unwrap();
        assert_eq!(m.ids_keep(), &[1, 3]);
        assert_eq!(m.ids_restore(), &[2, 0, 4, 1, 3]);
        assert_eq!(m.mask(), &[1, 0, 1, 0, 1]);
    }
}
