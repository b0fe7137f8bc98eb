//! A batch of per-sample masks as the tensors a training or evaluation step uploads: the mask
//! `[N, L]` (f32, 1 = removed), `ids_keep` `[N, K]` and `ids_restore` `[N, L]` (u32), in the
//! official layouts.
use super::{Mask, MaskError};
use alloc::vec::Vec;

/// The masks of a batch, flattened row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskBatch {
    pub batch: usize,
    /// Tokens per sample `L`.
    pub len: usize,
    /// Kept tokens per sample `K` (the same for every sample: the encoder's sequence length).
    pub len_keep: usize,
    /// `[N, K]`: kept tokens in the order the encoder sees them.
    pub ids_keep: Vec<u32>,
    /// `[N, L]`: where each raster token sits in the kept-then-removed order.
    pub ids_restore: Vec<u32>,
    /// `[N, L]`: 1.0 where the token is removed, 0.0 where kept.
    pub mask: Vec<f32>,
}

impl MaskBatch {
    /// Flattens `masks`; every mask must have the same length and kept count.
    pub fn from_masks(masks: &[Mask]) -> Result<MaskBatch, MaskError> {
        let first = masks.first().ok_or(MaskError::WrongLength {
            what: "masks in the batch",
            expected: 1,
            got: 0,
        })?;
        let (len, len_keep) = (first.len(), first.len_keep());
        let mut out = MaskBatch {
            batch: masks.len(),
            len,
            len_keep,
            ids_keep: Vec::with_capacity(masks.len() * len_keep),
            ids_restore: Vec::with_capacity(masks.len() * len),
            mask: Vec::with_capacity(masks.len() * len),
        };
        for m in masks {
            if m.len() != len {
                return Err(MaskError::WrongLength {
                    what: "mask of a later sample",
                    expected: len,
                    got: m.len(),
                });
            }
            if m.len_keep() != len_keep {
                return Err(MaskError::WrongLength {
                    what: "kept tokens of a later sample",
                    expected: len_keep,
                    got: m.len_keep(),
                });
            }
            out.ids_keep.extend(m.ids_keep().iter().map(|&i| i as u32));
            out.ids_restore
                .extend(m.ids_restore().iter().map(|&i| i as u32));
            out.mask.extend(m.mask().iter().map(|&v| v as f32));
        }
        Ok(out)
    }

    /// The 0/1 mask of sample `b`.
    pub fn sample_mask(&self, b: usize) -> &[f32] {
        &self.mask[b * self.len..(b + 1) * self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_in_the_official_layout_and_refuses_unequal_counts() {
        let a = Mask::from_shuffle(alloc::vec![2, 0, 1, 3], 2).unwrap();
        let b = Mask::from_shuffle(alloc::vec![1, 3, 0, 2], 2).unwrap();
        let batch = MaskBatch::from_masks(&[a.clone(), b]).unwrap();
        assert_eq!(batch.ids_keep, [2, 0, 1, 3]);
        assert_eq!(batch.ids_restore, [1, 2, 0, 3, 2, 0, 3, 1]);
        assert_eq!(batch.sample_mask(0), &[0.0, 1.0, 0.0, 1.0]);
        let c = Mask::from_shuffle(alloc::vec![0, 1, 2, 3], 3).unwrap();
        assert!(MaskBatch::from_masks(&[a, c]).is_err());
        assert!(MaskBatch::from_masks(&[]).is_err());
    }
}
