//! MixMIM mixing masks (`models_mixmim.py: random_masking`): one mask on the coarsest stage
//! grid, shared by the whole batch; mixed sample `i` takes its tokens from image `i` where the
//! mask is 0 and from the partner image `N - 1 - i` where it is 1, so the two images of a pair
//! fill complementary halves. The mask is nearest-upsampled to every finer stage.
use super::{draw_noise, masked_count, stable_argsort, Grid, MaskError};
use crate::{rng::Rng, Ratio};
use alloc::vec::Vec;

/// MixMIM's default mixing ratio: half of the tokens come from the partner.
pub const MIXED_RATIO: Ratio = Ratio::of(1, 2);

/// A batch-shared mixing mask on the coarsest grid and its upsampling to every stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixedMask {
    stage_grids: Vec<Grid>,
    stage_masks: Vec<Vec<u8>>,
}

impl MixedMask {
    /// Stage grids, finest (stage 0, the patch-embedding grid) first, coarsest last.
    pub fn stage_grids(&self) -> &[Grid] {
        &self.stage_grids
    }

    /// The mask at stage `s` (1 = token taken from the partner image), raster order.
    pub fn stage(&self, s: usize) -> &[u8] {
        &self.stage_masks[s]
    }

    /// The coarsest grid, on which the mask is drawn.
    pub fn coarse_grid(&self) -> Grid {
        self.stage_grids[self.stage_grids.len() - 1]
    }

    /// The mask on the coarsest grid.
    pub fn coarse(&self) -> &[u8] {
        &self.stage_masks[self.stage_masks.len() - 1]
    }

    /// The image mixed sample `i` takes its masked (1) tokens from: `batch - 1 - i` (the
    /// official `x.flip(0)`; for an odd batch the middle sample pairs with itself).
    pub fn partner(i: usize, batch: usize) -> usize {
        batch - 1 - i
    }
}

/// Stage grids `grid / 2^s` for `s` in `0..stages`, or an error unless every halving is exact.
pub fn stage_grids(grid: Grid, stages: usize) -> Result<Vec<Grid>, MaskError> {
    let grid = grid.non_empty()?;
    if stages == 0 {
        return Err(MaskError::NoStages);
    }
    let step = 1usize << (stages - 1);
    if !grid.h.is_multiple_of(step) || !grid.w.is_multiple_of(step) {
        return Err(MaskError::StageGrid {
            h: grid.h,
            w: grid.w,
            stages,
        });
    }
    Ok((0..stages)
        .map(|s| Grid::new(grid.h >> s, grid.w >> s))
        .collect())
}

/// Nearest-neighbour upsampling of `mask` on `from` to `to` (integer factors per axis), like
/// `F.interpolate(mode="nearest")`.
pub fn upsample(mask: &[u8], from: Grid, to: Grid) -> Result<Vec<u8>, MaskError> {
    from.check_mask(mask)?;
    // Each coarse token covers one window of `to`.
    let Grid { h: fh, w: fw } = to.windows(from)?;
    Ok((0..to.len())
        .map(|i| mask[(i / to.w / fh) * from.w + (i % to.w) / fw])
        .collect())
}

/// The official mask from `noise` (one value per coarse token): the `floor(Lc r)` tokens with
/// the **smallest** noise get 1 (taken from the partner), unlike MAE where small noise is kept.
/// `grid` is the stage-0 grid; the coarse grid is `grid / 2^(stages - 1)`.
pub fn mixed_from_noise(
    grid: Grid,
    stages: usize,
    noise: &[f32],
    ratio: Ratio,
) -> Result<MixedMask, MaskError> {
    let stage_grids = stage_grids(grid, stages)?;
    let coarse_grid = stage_grids[stages - 1];
    if noise.len() != coarse_grid.len() {
        return Err(MaskError::WrongLength {
            what: "mixing noise",
            expected: coarse_grid.len(),
            got: noise.len(),
        });
    }
    let masked = masked_count(coarse_grid.len(), ratio)?;
    let mut coarse = alloc::vec![0u8; coarse_grid.len()];
    for &i in &stable_argsort(noise)?[..masked] {
        coarse[i] = 1;
    }
    let stage_masks = stage_grids
        .iter()
        .map(|&g| upsample(&coarse, coarse_grid, g))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MixedMask {
        stage_grids,
        stage_masks,
    })
}

/// A mixing mask drawn from `rng`: one per batch, as in the official code.
pub fn mixed(
    grid: Grid,
    stages: usize,
    ratio: Ratio,
    rng: &mut Rng,
) -> Result<MixedMask, MaskError> {
    let coarse = stage_grids(grid, stages)?[stages - 1];
    masked_count(coarse.len(), ratio)?;
    mixed_from_noise(grid, stages, &draw_noise(coarse.len(), rng), ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_repeats_each_cell() {
        let up = upsample(&[1, 0, 0, 1], Grid::new(2, 2), Grid::new(4, 6)).unwrap();
        #[rustfmt::skip]
        let expected = [
            1, 1, 1, 0, 0, 0,
            1, 1, 1, 0, 0, 0,
            0, 0, 0, 1, 1, 1,
            0, 0, 0, 1, 1, 1,
        ];
        assert_eq!(up, expected);
    }

    #[test]
    fn mixmim_b_layout() {
        // 224 input: stage grids 56, 28, 14, 7; 24 of 49 coarse cells mixed at ratio 1/2.
        let mut rng = Rng::seed_from_u64(4);
        let m = mixed(Grid::new(56, 56), 4, MIXED_RATIO, &mut rng).unwrap();
        assert_eq!(m.coarse_grid(), Grid::new(7, 7));
        assert_eq!(m.coarse().iter().filter(|&&v| v == 1).count(), 24);
        assert_eq!(m.stage(0).iter().filter(|&&v| v == 1).count(), 24 * 64);
        assert_eq!(
            stage_grids(Grid::new(28, 28), 4),
            Err(MaskError::StageGrid {
                h: 28,
                w: 28,
                stages: 4
            })
        );
        assert_eq!(MixedMask::partner(0, 4), 3);
    }
}
