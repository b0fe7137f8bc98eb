//! Masking strategies of the MAE family, deterministic from a seed or from explicit noise.
//!
//! Conventions follow the official MAE code: `0 = keep, 1 = removed`, tokens in raster order,
//! `ids_shuffle` orders the kept tokens first, `ids_keep = ids_shuffle[..len_keep]` and
//! `ids_restore` is the inverse permutation of `ids_shuffle`.
//!
//! One module per strategy: [`random`] (MAE), [`block`] (BEiT/SimMIM baseline), [`uniform`]
//! (UM-MAE uniform sampling + secondary masking, with the window checks), [`tube`] (VideoMAE),
//! [`mixed`] (MixMIM) and [`modality`] (M3AE); [`spec`] draws what a spec's `MaskSpec` states,
//! and [`MaskBatch`] flattens a batch into the tensors a step uploads.
//!
//! The extension point: every strategy is a [`MaskStrategy`] ([`builtin`] holds the family's)
//! that declares the [`Invariant`]s its masks keep; [`check`] tests masks against them; a
//! user's strategy enters a spec as a [`CustomStrategy`]; `testing` (feature `proptest`) makes
//! its property test a few lines.
mod batch;
pub mod block;
pub mod builtin;
pub mod check;
mod custom;
mod error;
mod invariant;
pub mod mixed;
pub mod modality;
mod perm;
pub mod random;
mod registry;
pub mod spec;
mod strategy;
#[cfg(feature = "proptest")]
pub mod testing;
pub mod tube;
pub mod uniform;

pub use batch::MaskBatch;
pub use check::{check_masks, check_rows, Report, Rows, Violation};
pub use custom::{CustomStrategy, Draw};
pub use error::MaskError;
pub use invariant::{balance_window, implied_keep, Conflict, Invariant, Unit};
pub use perm::{invert_permutation, stable_argsort};
#[cfg(feature = "serde")]
pub(crate) use registry::by_name;
#[cfg(feature = "std")]
pub use registry::register;
pub use registry::{lookup, registered, NameTaken};
pub use strategy::{Layout, MaskStrategy};

use crate::Ratio;
use alloc::vec::Vec;

/// A token grid, `h` rows by `w` columns, numbered in raster order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Grid {
    pub h: usize,
    pub w: usize,
}

impl Grid {
    pub const fn new(h: usize, w: usize) -> Grid {
        Grid { h, w }
    }

    /// Number of tokens, `h * w`.
    pub const fn len(self) -> usize {
        self.h * self.w
    }

    /// True when a side is zero.
    pub const fn is_empty(self) -> bool {
        self.h == 0 || self.w == 0
    }

    /// `win` windows per side that tile the grid, or [`MaskError::Window`] when `win` is
    /// empty or does not divide it.
    pub fn windows(self, win: Grid) -> Result<Grid, MaskError> {
        if win.is_empty() || !self.h.is_multiple_of(win.h) || !self.w.is_multiple_of(win.w) {
            return Err(MaskError::Window {
                grid_h: self.h,
                grid_w: self.w,
                win_h: win.h,
                win_w: win.w,
            });
        }
        Ok(Grid::new(self.h / win.h, self.w / win.w))
    }

    /// `Ok` when `mask` holds one value per token, else [`MaskError::WrongLength`].
    pub fn check_mask(self, mask: &[u8]) -> Result<(), MaskError> {
        if mask.len() != self.len() {
            return Err(MaskError::WrongLength {
                what: "mask",
                expected: self.len(),
                got: mask.len(),
            });
        }
        Ok(())
    }

    /// The grid itself, or [`MaskError::EmptyGrid`] when it has no tokens.
    pub fn non_empty(self) -> Result<Grid, MaskError> {
        if self.is_empty() {
            Err(MaskError::EmptyGrid {
                h: self.h,
                w: self.w,
            })
        } else {
            Ok(self)
        }
    }
}

/// One sample's mask with the official index tensors.
///
/// Invariants (upheld by every constructor): `ids_shuffle` is a permutation of `0..len`,
/// `ids_restore` its inverse, and `mask[i] == 0` exactly for the `len_keep` tokens in
/// `ids_shuffle[..len_keep]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    mask: Vec<u8>,
    ids_shuffle: Vec<usize>,
    ids_restore: Vec<usize>,
    len_keep: usize,
}

impl Mask {
    /// The mask that keeps the first `len_keep` tokens of `ids_shuffle` (MAE step 4-5).
    pub fn from_shuffle(ids_shuffle: Vec<usize>, len_keep: usize) -> Result<Mask, MaskError> {
        let len = ids_shuffle.len();
        if len_keep > len {
            return Err(MaskError::WrongLength {
                what: "ids_keep",
                expected: len,
                got: len_keep,
            });
        }
        let ids_restore = invert_permutation(&ids_shuffle)?;
        let mut mask = alloc::vec![1u8; len];
        for &i in &ids_shuffle[..len_keep] {
            mask[i] = 0;
        }
        Ok(Mask {
            mask,
            ids_shuffle,
            ids_restore,
            len_keep,
        })
    }

    /// The mask given as 0/1 values, with the ordering the non-MAE models use when they take
    /// `x[~mask]`: kept tokens in raster order, then removed tokens in raster order.
    pub fn from_binary(mask: &[u8]) -> Result<Mask, MaskError> {
        if let Some(index) = mask.iter().position(|&v| v > 1) {
            return Err(MaskError::NotBinary {
                index,
                value: mask[index],
            });
        }
        let kept = (0..mask.len()).filter(|&i| mask[i] == 0);
        let removed = (0..mask.len()).filter(|&i| mask[i] == 1);
        let ids_shuffle: Vec<usize> = kept.chain(removed).collect();
        let len_keep = mask.iter().filter(|&&v| v == 0).count();
        Mask::from_shuffle(ids_shuffle, len_keep)
    }

    /// 0 = keep, 1 = removed, raster order.
    pub fn mask(&self) -> &[u8] {
        &self.mask
    }

    /// All tokens, kept first (MAE: ascending noise).
    pub fn ids_shuffle(&self) -> &[usize] {
        &self.ids_shuffle
    }

    /// Inverse of `ids_shuffle`: where each raster token sits in the shuffled sequence.
    pub fn ids_restore(&self) -> &[usize] {
        &self.ids_restore
    }

    /// The kept tokens, in the order the encoder sees them.
    pub fn ids_keep(&self) -> &[usize] {
        &self.ids_shuffle[..self.len_keep]
    }

    /// The removed tokens, in the order the decoder appends their mask tokens.
    pub fn ids_masked(&self) -> &[usize] {
        &self.ids_shuffle[self.len_keep..]
    }

    /// Number of kept tokens.
    pub fn len_keep(&self) -> usize {
        self.len_keep
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.mask.len()
    }

    /// True for a mask over no tokens.
    pub fn is_empty(&self) -> bool {
        self.mask.is_empty()
    }
}

/// MAE's kept count `floor(len * (1 - r))`, or an error when it keeps nothing. (It always
/// masks at least one token: `r > 0` makes `len * (1 - r) < len`.)
pub fn keep_count(len: usize, ratio: Ratio) -> Result<usize, MaskError> {
    match ratio.keep_of(len) {
        0 => Err(MaskError::NothingKept { len, ratio }),
        keep => Ok(keep),
    }
}

/// VideoMAE's / MixMIM's masked count `floor(len * r)`, or an error when it masks nothing.
/// (It always keeps at least one token: `r < 1`.)
pub fn masked_count(len: usize, ratio: Ratio) -> Result<usize, MaskError> {
    match ratio.masked_of(len) {
        0 => Err(MaskError::NothingMasked { len, ratio }),
        masked => Ok(masked),
    }
}

/// Uniform noise in [0, 1), one value per token, drawn like `torch.rand`.
pub fn draw_noise(len: usize, rng: &mut crate::rng::Rng) -> Vec<f32> {
    (0..len).map(|_| rng.next_f32()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn from_shuffle_builds_the_raster_mask_and_inverse() {
        let m = Mask::from_shuffle(vec![4, 1, 0, 3, 2], 2).unwrap();
        assert_eq!(m.mask(), &[1, 0, 1, 1, 0]);
        assert_eq!(m.ids_keep(), &[4, 1]);
        assert_eq!(m.ids_masked(), &[0, 3, 2]);
        assert_eq!(m.ids_restore(), &[2, 1, 4, 3, 0]);
        assert!(Mask::from_shuffle(vec![0, 1], 3).is_err());
        assert!(Mask::from_shuffle(vec![0, 0], 1).is_err());
    }

    #[test]
    fn from_binary_orders_kept_then_removed_in_raster_order() {
        let m = Mask::from_binary(&[1, 0, 1, 0, 0]).unwrap();
        assert_eq!(m.ids_shuffle(), &[1, 3, 4, 0, 2]);
        assert_eq!(m.len_keep(), 3);
        assert_eq!(m.mask(), &[1, 0, 1, 0, 0]);
        assert_eq!(
            Mask::from_binary(&[0, 2]),
            Err(MaskError::NotBinary { index: 1, value: 2 })
        );
    }

    #[test]
    fn counts_reject_degenerate_ratios() {
        assert_eq!(keep_count(196, Ratio::of(3, 4)), Ok(49));
        assert_eq!(masked_count(196, Ratio::of(9, 10)), Ok(176));
        assert!(matches!(
            keep_count(3, Ratio::of(3, 4)),
            Err(MaskError::NothingKept { len: 3, .. })
        ));
        assert!(matches!(
            masked_count(3, Ratio::of(1, 4)),
            Err(MaskError::NothingMasked { len: 3, .. })
        ));
    }
}
