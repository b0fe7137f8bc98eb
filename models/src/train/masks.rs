//! The masks of a training run: per step, noise from a stream keyed by (seed, global step), then
//! official `random_masking` (stable argsort of the noise, the first `keep` tokens kept) with
//! the kept count taken from the exact ratio (`floor(L * (1 - r))`). A resumed run draws the
//! same masks because nothing depends on the steps before.
use tessera_dsl::Ratio;

use crate::data::rng::SplitMix64;
use crate::mae::BatchMask;

/// Stream tag of the masking noise ("MASK").
pub const MASK_STREAM: u64 = 0x4d41_534b;

/// The masking noise of step `global_step` (0-based): `[batch, len]` uniform values.
pub fn step_noise(seed: u64, global_step: u64, batch: usize, len: usize) -> Vec<f32> {
    let mut rng = SplitMix64::for_stream(seed, &[MASK_STREAM, global_step]);
    (0..batch * len).map(|_| rng.uniform() as f32).collect()
}

/// Official masking of `noise` (`[batch, len]`) keeping `ratio.keep_of(len)` tokens.
pub fn mask_from_noise_exact(noise: &[f32], batch: usize, len: usize, ratio: Ratio) -> BatchMask {
    assert_eq!(noise.len(), batch * len, "noise is [batch, len]");
    let keep = ratio.keep_of(len);
    let mut out = BatchMask {
        batch,
        len,
        len_keep: keep,
        ids_keep: Vec::with_capacity(batch * keep),
        ids_restore: vec![0; batch * len],
        mask: vec![0.0; batch * len],
    };
    let mut shuffle: Vec<u32> = Vec::with_capacity(len);
    for b in 0..batch {
        let row = &noise[b * len..(b + 1) * len];
        shuffle.clear();
        shuffle.extend(0..len as u32);
        // Stable, like torch.argsort on distinct values; total_cmp keeps it total.
        shuffle.sort_by(|&i, &j| row[i as usize].total_cmp(&row[j as usize]));
        for (rank, &tok) in shuffle.iter().enumerate() {
            out.ids_restore[b * len + tok as usize] = rank as u32;
            out.mask[b * len + tok as usize] = if rank < keep { 0.0 } else { 1.0 };
        }
        out.ids_keep.extend_from_slice(&shuffle[..keep]);
    }
    out
}

/// The mask of step `global_step`.
pub fn step_mask(seed: u64, global_step: u64, batch: usize, len: usize, ratio: Ratio) -> BatchMask {
    mask_from_noise_exact(
        &step_noise(seed, global_step, batch, len),
        batch,
        len,
        ratio,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mae::mask_from_noise;

    #[test]
    fn agrees_with_the_official_float_masking_where_the_counts_agree() {
        let noise = step_noise(3, 17, 4, 49);
        let ours = mask_from_noise_exact(&noise, 4, 49, Ratio::of(3, 4));
        let official = mask_from_noise(&noise, 4, 49, 0.75).unwrap();
        assert_eq!(ours, official);
        assert_eq!(ours.len_keep, 12);
    }

    #[test]
    fn steps_and_seeds_give_different_masks_and_the_same_step_the_same() {
        let a = step_mask(1, 5, 2, 16, Ratio::of(3, 4));
        assert_eq!(a, step_mask(1, 5, 2, 16, Ratio::of(3, 4)));
        assert_ne!(a.mask, step_mask(1, 6, 2, 16, Ratio::of(3, 4)).mask);
        assert_ne!(a.mask, step_mask(2, 5, 2, 16, Ratio::of(3, 4)).mask);
        // 3/5 of 10 keeps floor(10 * 2/5) = 4 exactly (the f32 ratio would keep 3).
        assert_eq!(step_mask(1, 0, 1, 10, Ratio::of(3, 5)).len_keep, 4);
        for b in 0..2 {
            let removed: f32 = a.mask[b * 16..(b + 1) * 16].iter().sum();
            assert_eq!(removed, 12.0);
        }
    }
}
