//! The strategies of the MAE family behind the one [`MaskStrategy`] interface, each with the
//! invariants its official code guarantees. The drawing itself stays in the strategy's module
//! (`random`, `block`, `uniform`, `tube`, `mixed`, `modality`); this file only lays each on a
//! [`Layout`] and states its promises.
use super::block::{block, BlockParams};
use super::invariant::{Invariant, Unit};
use super::mixed::{mixed, upsample};
use super::modality::modality;
use super::random::random;
use super::tube::tube;
use super::uniform::uniform;
use super::{Grid, Layout, Mask, MaskError, MaskStrategy};
use crate::{rng::Rng, Ratio};
use alloc::vec;
use alloc::vec::Vec;

/// The parts of a [`Layout`] beyond one image's grid that a strategy uses.
#[derive(Clone, Copy)]
struct Uses {
    frames: bool,
    stages: bool,
    text: bool,
}

const IMAGE: Uses = Uses {
    frames: false,
    stages: false,
    text: false,
};

/// The layout's grid, or an error naming a part (frames, stages, text) the strategy has no
/// use for.
fn grid_of(strategy: &'static str, layout: &Layout, uses: Uses) -> Result<Grid, MaskError> {
    let grid = layout.grid.non_empty()?;
    if layout.frames == 0 {
        return Err(MaskError::NoFrames);
    }
    let unused = [
        ("frames", layout.frames, 1, uses.frames),
        ("stages", layout.stages, 1, uses.stages),
        ("text tokens", layout.text, 0, uses.text),
    ];
    for (part, value, plain, used) in unused {
        if value != plain && !used {
            return Err(MaskError::UnusedLayout {
                strategy,
                part,
                value,
            });
        }
    }
    Ok(grid)
}

/// MAE's random masking (`random_masking`): per-sample noise, the `floor(L (1 - r))` tokens
/// with the smallest noise kept, in noise order. On a video it masks all frames' tokens at
/// once (VideoMAE's random alternative to tubes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Random;

impl MaskStrategy for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn invariants(&self) -> Vec<Invariant> {
        vec![Invariant::KeepsFloor(Unit::Whole)]
    }

    fn sample(&self, layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        let grid = grid_of(
            self.name(),
            layout,
            Uses {
                frames: true,
                ..IMAGE
            },
        )?;
        random(grid.len() * layout.frames, ratio, rng)
    }
}

/// Block-wise masking (BEiT, the SimMIM baseline): rectangles of `cell x cell`-token cells
/// until exactly `floor(C r)` of the `C` cells are removed; kept tokens in raster order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub cell: usize,
}

impl Default for Block {
    fn default() -> Self {
        Block { cell: 1 }
    }
}

impl MaskStrategy for Block {
    fn name(&self) -> &'static str {
        "block"
    }

    fn invariants(&self) -> Vec<Invariant> {
        vec![
            Invariant::MasksWholeCells { cell: self.cell },
            Invariant::KeptInRasterOrder,
        ]
    }

    fn sample(&self, layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        let grid = grid_of(self.name(), layout, IMAGE)?;
        let coarse = grid.windows(Grid::new(self.cell, self.cell))?;
        let cells = block(coarse, ratio, BlockParams::for_grid(coarse), rng)?;
        Mask::from_binary(&upsample(cells.mask(), coarse, grid)?)
    }
}

/// UM-MAE's uniform sampling: one kept token in every 2x2 block (ratio 3/4 exactly), kept
/// tokens in raster order. Secondary masking happens inside the encoder and is not part of the
/// mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uniform;

impl MaskStrategy for Uniform {
    fn name(&self) -> &'static str {
        "uniform"
    }

    fn invariants(&self) -> Vec<Invariant> {
        vec![
            Invariant::VisiblePerWindow {
                window: 2,
                visible: 1,
            },
            // At 3/4, floor(L / 4) is the one-per-block count; any other ratio contradicts it.
            Invariant::KeepsFloor(Unit::Whole),
            Invariant::KeptInRasterOrder,
        ]
    }

    fn sample(&self, layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        uniform(grid_of(self.name(), layout, IMAGE)?, ratio, rng)
    }
}

/// VideoMAE's tube masking: one spatial pattern with `floor(L r)` removed positions, repeated
/// in every frame; kept tokens in raster order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tube;

impl MaskStrategy for Tube {
    fn name(&self) -> &'static str {
        "tube"
    }

    fn invariants(&self) -> Vec<Invariant> {
        vec![
            Invariant::MasksFloor(Unit::Frame),
            Invariant::ConstantAlongTime,
            Invariant::KeptInRasterOrder,
        ]
    }

    fn sample(&self, layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        let grid = grid_of(
            self.name(),
            layout,
            Uses {
                frames: true,
                ..IMAGE
            },
        )?;
        // The layout counts temporal slices, so each slice is a tubelet of one.
        tube(grid, layout.frames, 1, ratio, rng)
    }
}

/// MixMIM's mixing mask: drawn once per batch on the coarsest stage grid, `floor(L r)` tokens
/// taken from the partner image `N - 1 - i`; kept (own-image) tokens in raster order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mixed;

impl MaskStrategy for Mixed {
    fn name(&self) -> &'static str {
        "mixed"
    }

    fn invariants(&self) -> Vec<Invariant> {
        vec![
            Invariant::MasksFloor(Unit::Whole),
            Invariant::SharedByBatch,
            Invariant::ComplementaryPairs,
            Invariant::KeptInRasterOrder,
        ]
    }

    fn sample(&self, layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        let grid = grid_of(
            self.name(),
            layout,
            Uses {
                stages: true,
                ..IMAGE
            },
        )?;
        Mask::from_binary(mixed(grid, layout.stages, ratio, rng)?.coarse())
    }
}

/// M3AE's per-modality masking: image tokens at the strategy's ratio and text tokens at
/// `text_ratio`, each with one permutation shared by the batch. The mask covers the image
/// tokens then the text tokens; `ids_keep` lists the kept image tokens then the kept text
/// tokens (M3AE's encoder sequence), each in noise order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modality {
    pub text_ratio: Ratio,
}

impl MaskStrategy for Modality {
    fn name(&self) -> &'static str {
        "modality"
    }

    fn invariants(&self) -> Vec<Invariant> {
        vec![
            Invariant::KeepsFloor(Unit::Whole),
            Invariant::TextKeepsFloor {
                ratio: self.text_ratio,
            },
            Invariant::SharedByBatch,
        ]
    }

    fn sample(&self, layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        let grid = grid_of(
            self.name(),
            layout,
            Uses {
                text: true,
                ..IMAGE
            },
        )?;
        let m = modality(grid.len(), ratio, layout.text, self.text_ratio, rng)?;
        let (l, image, text) = (grid.len(), &m.image, &m.text);
        let shift = |ids: &[usize]| ids.iter().map(|&i| i + l).collect::<Vec<_>>();
        let mut ids_shuffle = image.ids_keep().to_vec();
        ids_shuffle.extend(shift(text.ids_keep()));
        ids_shuffle.extend_from_slice(image.ids_masked());
        ids_shuffle.extend(shift(text.ids_masked()));
        Mask::from_shuffle(ids_shuffle, image.len_keep() + text.len_keep())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{modality::modality, tube};

    #[test]
    fn each_builtin_draws_what_its_module_draws() {
        let g = Grid::new(8, 8);
        let r = Ratio::of(3, 4);
        let same = |a: Mask, b: Mask| assert_eq!(a, b);
        same(
            Random
                .sample(&Layout::image(g), r, &mut Rng::seed_from_u64(1))
                .unwrap(),
            random(64, r, &mut Rng::seed_from_u64(1)).unwrap(),
        );
        same(
            Uniform
                .sample(&Layout::image(g), r, &mut Rng::seed_from_u64(2))
                .unwrap(),
            uniform(g, r, &mut Rng::seed_from_u64(2)).unwrap(),
        );
        same(
            Tube.sample(&Layout::video(g, 4), r, &mut Rng::seed_from_u64(3))
                .unwrap(),
            tube::tube(g, 8, 2, r, &mut Rng::seed_from_u64(3)).unwrap(),
        );
        // M3AE: 64 image and 16 text tokens; ids_keep = kept image, then kept text + 64.
        let m = Modality { text_ratio: r }
            .sample(
                &Layout::image(g).with_text(16),
                r,
                &mut Rng::seed_from_u64(4),
            )
            .unwrap();
        let parts = modality(64, r, 16, r, &mut Rng::seed_from_u64(4)).unwrap();
        assert_eq!(&m.ids_keep()[..16], parts.image.ids_keep());
        let text: Vec<usize> = parts.text.ids_keep().iter().map(|i| i + 64).collect();
        assert_eq!(&m.ids_keep()[16..], text.as_slice());
        assert_eq!(&m.mask()[64..], parts.text.mask());
    }

    #[test]
    fn layouts_a_strategy_has_no_use_for_are_refused() {
        let mut rng = Rng::seed_from_u64(0);
        let g = Grid::new(4, 4);
        let r = Ratio::of(3, 4);
        assert!(Uniform.sample(&Layout::video(g, 2), r, &mut rng).is_err());
        assert!(Random
            .sample(&Layout::image(g).with_text(3), r, &mut rng)
            .is_err());
        assert!(Mixed.sample(&Layout::video(g, 2), r, &mut rng).is_err());
        assert!(Block { cell: 3 }
            .sample(&Layout::image(g), r, &mut rng)
            .is_err());
        // A batch-shared strategy draws once for the whole batch.
        let batch = Mixed
            .sample_batch(&Layout::pyramid(g, 2), Ratio::of(1, 2), 4, &mut rng)
            .unwrap();
        assert!(batch.iter().all(|m| *m == batch[0]));
    }
}
