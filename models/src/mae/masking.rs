//! Host-side random masking exactly as official `random_masking` computes it from a noise
//! tensor: `len_keep = int(L * (1 - mask_ratio))` in Python float arithmetic, `ids_shuffle =
//! argsort(noise)` ascending (stable), `ids_restore = argsort(ids_shuffle)`, `ids_keep =
//! ids_shuffle[:, :len_keep]`, mask in raster order with 1 = removed.

/// The mask of a batch of `batch` samples over `len` tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchMask {
    pub batch: usize,
    pub len: usize,
    pub len_keep: usize,
    /// `[batch, len_keep]`: kept tokens in shuffled order (what the encoder sees, in order).
    pub ids_keep: Vec<u32>,
    /// `[batch, len]`: position of raster token `t` in the shuffled order.
    pub ids_restore: Vec<u32>,
    /// `[batch, len]`: 1.0 where the token is removed, 0.0 where kept.
    pub mask: Vec<f32>,
}

/// Why a batch's noise or ratio cannot make a mask.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MaskingError {
    #[error("mask_ratio {0} must be a number in [0, 1]")]
    Ratio(f32),
    #[error("noise has {found} values; expected {batch} x {len} = {}", batch * len)]
    NoiseLen {
        batch: usize,
        len: usize,
        found: usize,
    },
    #[error("noise[{sample}, {token}] is NaN; every noise value must be a number")]
    NaN { sample: usize, token: usize },
}

/// `int(L * (1 - mask_ratio))` with the ratio read as f32 and widened to a Python float.
pub fn keep_count(len: usize, mask_ratio: f32) -> Result<usize, MaskingError> {
    if !(0.0..=1.0).contains(&mask_ratio) {
        return Err(MaskingError::Ratio(mask_ratio));
    }
    Ok((len as f64 * (1.0 - mask_ratio as f64)).floor() as usize)
}

/// The official mask from `noise` (`[batch, len]`, row-major).
pub fn mask_from_noise(
    noise: &[f32],
    batch: usize,
    len: usize,
    mask_ratio: f32,
) -> Result<BatchMask, MaskingError> {
    let len_keep = keep_count(len, mask_ratio)?;
    if noise.len() != batch * len {
        return Err(MaskingError::NoiseLen {
            batch,
            len,
            found: noise.len(),
        });
    }
    if let Some(i) = noise.iter().position(|x| x.is_nan()) {
        return Err(MaskingError::NaN {
            sample: i / len,
            token: i % len,
        });
    }
    let mut out = BatchMask {
        batch,
        len,
        len_keep,
        ids_keep: Vec::with_capacity(batch * len_keep),
        ids_restore: vec![0; batch * len],
        mask: vec![0.0; batch * len],
    };
    for b in 0..batch {
        let row = &noise[b * len..(b + 1) * len];
        let mut shuffle: Vec<u32> = (0..len as u32).collect();
        // A stable sort on the IEEE order torch uses (-0.0 == 0.0); NaN was refused above.
        shuffle.sort_by(|&i, &j| {
            row[i as usize]
                .partial_cmp(&row[j as usize])
                .expect("no NaN")
        });
        for (rank, &tok) in shuffle.iter().enumerate() {
            out.ids_restore[b * len + tok as usize] = rank as u32;
            out.mask[b * len + tok as usize] = if rank < len_keep { 0.0 } else { 1.0 };
        }
        out.ids_keep.extend_from_slice(&shuffle[..len_keep]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_count_is_pythons_int_of_a_float_product() {
        assert_eq!(keep_count(196, 0.75).unwrap(), 49);
        assert_eq!(keep_count(256, 0.75).unwrap(), 64);
        // f32(0.6) = 0.60000002384..., so 10 * (1 - r) = 3.9999997..., int() = 3 (an exact
        // rational 3/5 would keep 4): the official code sees the f32 ratio.
        assert_eq!(keep_count(10, 0.6).unwrap(), 3);
        assert_eq!(keep_count(64, 0.6).unwrap(), 25);
        assert_eq!(keep_count(16, 0.0).unwrap(), 16);
        assert!(keep_count(16, 1.5).is_err() && keep_count(16, f32::NAN).is_err());
    }

    #[test]
    fn worked_example_matches_torch() {
        // torch: noise [[.5, .1, .9, .3, .7]] -> ids_shuffle [1, 3, 0, 4, 2],
        // ids_restore [2, 0, 4, 1, 3]; keep int(5 * 0.5) = 2 -> mask [1, 0, 1, 0, 1].
        let m = mask_from_noise(&[0.5, 0.1, 0.9, 0.3, 0.7], 1, 5, 0.5).unwrap();
        assert_eq!(m.len_keep, 2);
        assert_eq!(m.ids_keep, [1, 3]);
        assert_eq!(m.ids_restore, [2, 0, 4, 1, 3]);
        assert_eq!(m.mask, [1.0, 0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn ties_keep_raster_order_and_nan_is_refused() {
        let m = mask_from_noise(&[0.2, -0.0, 0.0, 0.2], 1, 4, 0.5).unwrap();
        assert_eq!(m.ids_keep, [1, 2]);
        assert_eq!(m.ids_restore, [2, 0, 1, 3]);
        let err = mask_from_noise(&[0.1, 0.2, f32::NAN, 0.3], 2, 2, 0.5).unwrap_err();
        assert_eq!(
            err,
            MaskingError::NaN {
                sample: 1,
                token: 0
            }
        );
        assert!(mask_from_noise(&[0.1; 5], 2, 2, 0.5).is_err());
    }

    #[test]
    fn restore_inverts_the_shuffle_and_the_mask_counts_are_exact() {
        let mut rng = tessera_dsl::rng::Rng::seed_from_u64(11);
        let (batch, len) = (5, 49);
        let noise: Vec<f32> = (0..batch * len).map(|_| rng.next_f32()).collect();
        let m = mask_from_noise(&noise, batch, len, 0.75).unwrap();
        assert_eq!(m.len_keep, 12);
        for b in 0..batch {
            let row = &m.mask[b * len..(b + 1) * len];
            assert_eq!(row.iter().sum::<f32>(), (len - 12) as f32);
            for (k, &tok) in m.ids_keep[b * 12..(b + 1) * 12].iter().enumerate() {
                assert_eq!(m.ids_restore[b * len + tok as usize], k as u32);
                assert_eq!(row[tok as usize], 0.0);
            }
            // Every kept token has smaller noise than every removed one.
            let nrow = &noise[b * len..(b + 1) * len];
            let max_kept = (0..len).filter(|&t| row[t] == 0.0).map(|t| nrow[t]);
            let min_removed = (0..len).filter(|&t| row[t] == 1.0).map(|t| nrow[t]);
            assert!(max_kept.fold(f32::MIN, f32::max) <= min_removed.fold(f32::MAX, f32::min));
        }
    }
}
