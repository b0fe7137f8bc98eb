//! Drawing the masks a spec's [`MaskSpec`] states, one implementation per strategy: random
//! (MAE), block-wise in cells (BEiT/SimMIM), uniform sampling (UM-MAE), a user's custom
//! strategy. Models get their masks here and nowhere else.
use super::block::{block, BlockParams};
use super::mixed::upsample;
use super::random::random;
use super::uniform::uniform;
use super::{Grid, Layout, Mask, MaskBatch, MaskError};
use crate::rng::Rng;
use crate::spec::MaskSpec;
use alloc::vec::Vec;

/// One sample's mask over a square `grid x grid` token grid.
///
/// Secondary masking (UM-MAE) is not part of the mask: it picks, inside the encoder, which of
/// the kept tokens are replaced by the shared token, and is drawn by the model that has one.
pub fn sample(spec: &MaskSpec, grid: usize, rng: &mut Rng) -> Result<Mask, MaskError> {
    let g = Grid::new(grid, grid);
    match *spec {
        MaskSpec::Random { ratio } => random(g.len(), ratio, rng),
        MaskSpec::Block { ratio, cell } => {
            let coarse = g.windows(Grid::new(cell, cell))?;
            let cells = block(coarse, ratio, BlockParams::for_grid(coarse), rng)?;
            Mask::from_binary(&upsample(cells.mask(), coarse, g)?)
        }
        MaskSpec::Uniform { ratio, .. } => uniform(g, ratio, rng),
        MaskSpec::Custom { strategy, ratio } => {
            let mut masks = strategy.sample_checked(&Layout::image(g), ratio, 1, rng)?;
            masks.pop().ok_or(MaskError::WrongLength {
                what: "masks drawn",
                expected: 1,
                got: 0,
            })
        }
    }
}

/// Masks for `batch` samples, drawn one after the other from `rng`.
pub fn sample_masks(
    spec: &MaskSpec,
    grid: usize,
    batch: usize,
    rng: &mut Rng,
) -> Result<Vec<Mask>, MaskError> {
    match *spec {
        // Drawn as a batch: a custom strategy may share one mask across it, and every mask is
        // checked against its declared invariants.
        MaskSpec::Custom { strategy, ratio } => {
            let layout = Layout::image(Grid::new(grid, grid));
            strategy.sample_checked(&layout, ratio, batch, rng)
        }
        _ => (0..batch).map(|_| sample(spec, grid, rng)).collect(),
    }
}

/// [`sample_masks`] as one batch.
pub fn sample_batch(
    spec: &MaskSpec,
    grid: usize,
    batch: usize,
    rng: &mut Rng,
) -> Result<MaskBatch, MaskError> {
    MaskBatch::from_masks(&sample_masks(spec, grid, batch, rng)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ratio;

    #[test]
    fn every_strategy_keeps_the_count_its_spec_promises() {
        let mut rng = Rng::seed_from_u64(3);
        let specs = [
            MaskSpec::Random {
                ratio: Ratio::of(3, 4),
            },
            MaskSpec::Block {
                ratio: Ratio::of(1, 2),
                cell: 2,
            },
            MaskSpec::Block {
                ratio: Ratio::of(2, 5),
                cell: 1,
            },
            MaskSpec::Uniform {
                ratio: Ratio::of(3, 4),
                secondary: None,
            },
        ];
        for spec in specs {
            let counts = spec.validate(crate::Family::Mae, 8).unwrap();
            let b = sample_batch(&spec, 8, 5, &mut rng).unwrap();
            assert_eq!(b.len_keep, counts.keep, "{spec}");
            for s in 0..5 {
                let removed = b.sample_mask(s).iter().filter(|&&v| v == 1.0).count();
                assert_eq!(removed, counts.masked, "{spec}");
            }
        }
        // Cells of 2x2 tokens are masked whole.
        let spec = MaskSpec::Block {
            ratio: Ratio::of(1, 2),
            cell: 2,
        };
        let m = sample(&spec, 8, &mut rng).unwrap();
        for (i, &v) in m.mask().iter().enumerate() {
            let (r, c) = (i / 8, i % 8);
            assert_eq!(v, m.mask()[(r & !1) * 8 + (c & !1)]);
        }
    }
}
