//! Block-wise masking, the BEiT baseline also used by SimMIM-style comparisons: random
//! rectangles of random aspect ratio are masked until the target count is reached.
//!
//! Follows BEiT's `MaskingGenerator` (`masking_generator.py`): each rectangle has an area drawn
//! uniformly from `[min_patches, room]` and an aspect ratio log-uniform in
//! `[min_aspect, 1 / min_aspect]`, must be strictly smaller than the grid on both sides, and is
//! accepted only if it adds between 1 and `room` new masked tokens (10 attempts per rectangle).
//! BEiT stops, possibly short of the target, when a rectangle cannot be placed; here the
//! remaining tokens are then masked one by one, uniformly among the still visible ones, so the
//! masked count is always exactly `floor(L r)` (the VideoMAE/MixMIM count) and all samples of
//! a batch have the same length.
use super::{masked_count, Grid, Mask, MaskError};
use crate::{rng::Rng, Ratio};
use alloc::vec::Vec;
use num_traits::Float;

/// Rectangle shape parameters (BEiT defaults: 4 patches minimum, aspect in [0.3, 1/0.3]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockParams {
    /// Smallest rectangle area drawn (BEiT: 16 for its 14x14 ViT-B pre-training).
    pub min_patches: usize,
    /// Largest rectangle area; `None` = the whole remaining target.
    pub max_patches: Option<usize>,
    /// Smallest height/width ratio; the largest is its inverse.
    pub min_aspect: f64,
}

impl Default for BlockParams {
    fn default() -> Self {
        BlockParams {
            min_patches: 4,
            max_patches: None,
            min_aspect: 0.3,
        }
    }
}

impl BlockParams {
    /// BEiT's shapes with the smallest rectangle scaled to the grid (a sixteenth of it, 1 to
    /// 16 tokens; BEiT uses 16 on its 14x14 grid), so small grids still get rectangles.
    pub fn for_grid(grid: Grid) -> BlockParams {
        BlockParams {
            min_patches: (grid.len() / 16).clamp(1, 16),
            ..BlockParams::default()
        }
    }
}

/// Attempts per rectangle before giving up (BEiT's constant).
const ATTEMPTS: usize = 10;

/// A block-wise mask over `grid` with exactly `floor(L r)` masked tokens. `ids_keep` lists the
/// kept tokens in raster order (the masked-image models that use block masks take `x[~mask]`).
pub fn block(
    grid: Grid,
    ratio: Ratio,
    params: BlockParams,
    rng: &mut Rng,
) -> Result<Mask, MaskError> {
    let grid = grid.non_empty()?;
    let target = masked_count(grid.len(), ratio)?;
    let mut mask = alloc::vec![0u8; grid.len()];
    let mut count = 0;
    while count < target {
        let room = (target - count).min(params.max_patches.unwrap_or(target));
        let added = place_rectangle(&mut mask, grid, room, &params, rng);
        if added == 0 {
            break;
        }
        count += added;
    }
    // Top up to the exact count with single tokens (where BEiT would stop short).
    let mut visible: Vec<usize> = (0..mask.len()).filter(|&i| mask[i] == 0).collect();
    for k in 0..target - count {
        let j = k + rng.index(visible.len() - k);
        visible.swap(k, j);
        mask[visible[k]] = 1;
    }
    Mask::from_binary(&mask)
}

/// Tries to mask one rectangle that adds between 1 and `room` tokens; returns how many it added.
fn place_rectangle(
    mask: &mut [u8],
    grid: Grid,
    room: usize,
    params: &BlockParams,
    rng: &mut Rng,
) -> usize {
    // Explicit `Float::` calls: in no_std f64 has no inherent ln/exp/sqrt/round (libm does it).
    let log_aspect = (
        Float::ln(params.min_aspect),
        Float::ln(1.0 / params.min_aspect),
    );
    for _ in 0..ATTEMPTS {
        let area = rng.uniform(params.min_patches as f64, room as f64);
        let aspect = Float::exp(rng.uniform(log_aspect.0, log_aspect.1));
        let h = Float::round(Float::sqrt(area * aspect)) as usize;
        let w = Float::round(Float::sqrt(area / aspect)) as usize;
        if h == 0 || w == 0 || h >= grid.h || w >= grid.w {
            continue;
        }
        let top = rng.index(grid.h - h + 1);
        let left = rng.index(grid.w - w + 1);
        let cells =
            || (top..top + h).flat_map(move |r| (left..left + w).map(move |c| r * grid.w + c));
        let new = cells().filter(|&i| mask[i] == 0).count();
        if new > 0 && new <= room {
            for i in cells() {
                mask[i] = 1;
            }
            return new;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_exactly_the_target_in_rectangles() {
        let grid = Grid::new(14, 14);
        let mut rng = Rng::seed_from_u64(5);
        let m = block(grid, Ratio::of(4, 10), BlockParams::default(), &mut rng).unwrap();
        let masked = m.mask().iter().filter(|&&v| v == 1).count();
        // floor(196 * 0.4)
        assert_eq!(masked, 78);
        // Rectangles cluster the masked tokens: an i.i.d. mask of this density has both ends of
        // 0.4^2 = 16% of the 4-neighbour pairs masked; block masks have over 30% (the minimum
        // over 2000 seeds was 0.302).
        let mut pairs = 0;
        let mut both = 0;
        for r in 0..14 {
            for c in 0..13 {
                pairs += 2;
                both += (m.mask()[r * 14 + c] & m.mask()[r * 14 + c + 1]) as usize;
                both += (m.mask()[c * 14 + r] & m.mask()[(c + 1) * 14 + r]) as usize;
            }
        }
        assert!(both as f64 / pairs as f64 > 0.25, "{both} of {pairs}");
    }
}
