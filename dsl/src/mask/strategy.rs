//! The one interface of masking strategies: from a layout (a token grid, and frames, stages or
//! text where relevant) and a ratio to masks with their official index tensors, each strategy
//! declaring the [`Invariant`]s every mask it draws keeps.
use super::check::{check_masks, Report};
use super::{Grid, Invariant, Mask, MaskError};
use crate::{rng::Rng, Ratio};
use alloc::vec::Vec;

/// What a mask covers.
///
/// Tokens are numbered in raster order over the mask grid, frame after frame
/// (`frame * H * W + row * W + col`, as VideoMAE flattens them), then the text tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// The token grid of one image or frame; for a pyramid, its first (finest) stage.
    pub grid: Grid,
    /// Temporal slices (a clip's frames divided by the tubelet); 1 for an image.
    pub frames: usize,
    /// Stages of a pyramid that halves the grid at each stage; the mask lives on the coarsest
    /// grid, `grid / 2^(stages - 1)` (MixMIM). 1 = the grid itself.
    pub stages: usize,
    /// Text tokens after the image tokens (M3AE); 0 for none.
    pub text: usize,
}

impl Layout {
    /// One image's token grid.
    pub const fn image(grid: Grid) -> Layout {
        Layout {
            grid,
            frames: 1,
            stages: 1,
            text: 0,
        }
    }

    /// `frames` temporal slices of `grid`.
    pub const fn video(grid: Grid, frames: usize) -> Layout {
        Layout {
            frames,
            ..Layout::image(grid)
        }
    }

    /// A pyramid of `stages` stages whose first stage has `grid`; the mask lives on the last.
    pub const fn pyramid(grid: Grid, stages: usize) -> Layout {
        Layout {
            stages,
            ..Layout::image(grid)
        }
    }

    /// This layout with `text` text tokens after the image tokens.
    pub const fn with_text(self, text: usize) -> Layout {
        Layout { text, ..self }
    }

    /// The grid the mask is drawn on, `grid / 2^(stages - 1)`, or why there is none.
    pub fn mask_grid(&self) -> Result<Grid, MaskError> {
        let grid = self.grid.non_empty()?;
        if self.stages == 0 {
            return Err(MaskError::NoStages);
        }
        if self.frames == 0 {
            return Err(MaskError::NoFrames);
        }
        let step = 1usize << (self.stages - 1).min(usize::BITS as usize - 1);
        if !grid.h.is_multiple_of(step) || !grid.w.is_multiple_of(step) {
            return Err(MaskError::StageGrid {
                h: grid.h,
                w: grid.w,
                stages: self.stages,
            });
        }
        Ok(Grid::new(grid.h / step, grid.w / step))
    }

    /// Image tokens of one sample: the mask grid times the frames.
    pub fn image_tokens(&self) -> Result<usize, MaskError> {
        Ok(self.mask_grid()?.len() * self.frames)
    }

    /// Every token of one sample: image tokens, then text tokens.
    pub fn tokens(&self) -> Result<usize, MaskError> {
        Ok(self.image_tokens()? + self.text)
    }
}

impl core::fmt::Display for Layout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "a {}x{} grid", self.grid.h, self.grid.w)?;
        if self.frames != 1 {
            write!(f, " x {} frames", self.frames)?;
        }
        if self.stages != 1 {
            write!(f, " of {} stages", self.stages)?;
        }
        if self.text != 0 {
            write!(f, " + {} text tokens", self.text)?;
        }
        Ok(())
    }
}

/// A masking strategy: draws masks, deterministically from a seeded [`Rng`], and declares
/// the invariants every one of them keeps.
///
/// The built-in strategies ([`super::builtin`]) implement it, and so does a
/// [`CustomStrategy`](super::CustomStrategy), the form in which a user's strategy enters a spec.
/// Whatever implements it can be checked with [`MaskStrategy::check`] and property-tested with
/// the helpers of `tessera_dsl::mask::testing` (feature `proptest`).
pub trait MaskStrategy {
    /// The name spec files and mask files use (`random`, `uniform`, `window_blocks`, ...).
    fn name(&self) -> &'static str;

    /// What every mask this strategy draws keeps. Declaring [`Invariant::SharedByBatch`] makes
    /// [`MaskStrategy::sample_batch`] draw one mask for the whole batch.
    fn invariants(&self) -> Vec<Invariant>;

    /// One mask over `layout` at `ratio`, with the official index tensors; an error for a
    /// layout or ratio the strategy cannot serve.
    fn sample(&self, layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError>;

    /// Masks for `batch` samples: one draw per sample in order, or a single draw repeated when
    /// the strategy shares its mask across the batch.
    fn sample_batch(
        &self,
        layout: &Layout,
        ratio: Ratio,
        batch: usize,
        rng: &mut Rng,
    ) -> Result<Vec<Mask>, MaskError> {
        if self.invariants().contains(&Invariant::SharedByBatch) {
            let mask = self.sample(layout, ratio, rng)?;
            Ok(alloc::vec![mask; batch])
        } else {
            (0..batch)
                .map(|_| self.sample(layout, ratio, rng))
                .collect()
        }
    }

    /// Checks `masks` (one batch, drawn over `layout` at `ratio`) against this strategy's
    /// invariants; an error when the layout itself is unusable (a window that does not tile it,
    /// masks of the wrong length).
    fn check(&self, layout: &Layout, ratio: Ratio, masks: &[Mask]) -> Result<Report, MaskError> {
        check_masks(&self.invariants(), layout, ratio, masks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_count_their_tokens() {
        let g = Grid::new(14, 14);
        assert_eq!(Layout::image(g).tokens(), Ok(196));
        assert_eq!(Layout::video(g, 8).tokens(), Ok(8 * 196));
        assert_eq!(Layout::image(g).with_text(64).tokens(), Ok(260));
        let p = Layout::pyramid(Grid::new(56, 56), 4);
        assert_eq!(p.mask_grid(), Ok(Grid::new(7, 7)));
        assert_eq!(
            Layout::pyramid(Grid::new(28, 28), 4).mask_grid(),
            Err(MaskError::StageGrid {
                h: 28,
                w: 28,
                stages: 4
            })
        );
        assert_eq!(Layout::video(g, 0).tokens(), Err(MaskError::NoFrames));
    }
}
