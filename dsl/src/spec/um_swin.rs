//! Swin pre-trained with Uniform Masking (implus/UM-MAE `models_mae_swin.py`).
//! Uniform sampling keeps one 16-px mask cell per 2x2 block; the visible
//! quarter is compacted into a dense half-resolution map that the Swin stages run on, with the
//! pre-training window (8); fine-tuning runs the full map with twice the window (16).
use super::error::{Family, Rule, ShapeError};
use super::image::ImageSpec;
#[cfg(feature = "serde")]
use super::mae::eps_1e6;
use super::mask::MaskSpec;
use super::name::stage_name;
use super::rules::{layer_norm_eps, mlp_hidden, size, tri, PosEmbed};
use super::stages::{merge_doubles, stage_heads, stage_window, Stages, MAX_STAGES};
use super::table::{decoder_rows, eps_row, image_row, row, PerStage, PerStageGrid};
use super::target::Target;
use super::vit::{VitDims, VitSpec};
use core::fmt::{self, Display, Formatter};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

const F: Family = Family::UmSwin;

/// A Swin encoder pre-trained with UM-MAE. Each stage's `window` is the pre-training window on
/// the compacted map (official: 8 everywhere).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct UmSwinSpec {
    pub image: ImageSpec,
    /// Patch-embed stride (official 4).
    pub patch: usize,
    /// Side of one mask cell in pixels (official 16): the unit uniform sampling works on.
    pub mask_cell: usize,
    pub stages: Stages,
    pub mlp_ratio: f64,
    /// Hidden width of the continuous relative-position MLP of every window attention
    /// (official `posmlp_dim`: 32; Swin-L 64).
    #[cfg_attr(feature = "serde", serde(default = "posmlp_32"))]
    pub posmlp_dim: usize,
    /// Uniform sampling over the mask cells (ratio 3/4), with optional secondary masking of
    /// the visible cells (official 1/4), or a custom mask that declares equal kept counts in
    /// every 2x2 block of cells. Other masks break rule `windowed_token_dropping`.
    pub mask: MaskSpec,
    pub decoder: VitSpec,
    /// Which decoder position embedding each visible token gets (see [`DecoderPositions`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub decoder_positions: DecoderPositions,
    pub target: Target,
    #[cfg_attr(feature = "serde", serde(default = "eps_1e6"))]
    pub layer_norm_eps: f64,
}

/// The decoder's visible tokens come out of the final map's pixel shuffle in 2x2-block
/// order. Which decoder position embedding does each get?
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum DecoderPositions {
    /// Its own cell's embedding (geometrically correct; the default for new models).
    #[default]
    Cells,
    /// The official code's: the embeddings of the visible cells in cell raster order, added
    /// to tokens in block order, so a token can get another cell's embedding. Checkpoints of
    /// the official code were trained this way and reproduce only with it.
    OfficialRaster,
}

/// The official `posmlp_dim`.
pub const UM_SWIN_POSMLP: usize = 32;

#[cfg(feature = "serde")]
fn posmlp_32() -> usize {
    UM_SWIN_POSMLP
}

/// Every size derived from a [`UmSwinSpec`]; per-stage arrays hold `num_stages` entries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UmSwinDims {
    pub spec: UmSwinSpec,
    pub image: usize,
    /// Mask cells per side `M = image / mask_cell`.
    pub mask_grid: usize,
    /// `M^2` cells; also the decoder's sequence length.
    pub mask_cells: usize,
    /// `M^2 / 4` cells kept by uniform sampling (one per 2x2 block).
    pub visible_cells: usize,
    /// Cells removed; the loss averages over these.
    pub masked_cells: usize,
    /// Visible cells replaced by the secondary mask token.
    pub secondary_masked: usize,
    /// Tokens per side of the full map, `image / patch`.
    pub token_grid: usize,
    /// Tokens per side of the compacted visible map, `token_grid / 2`.
    pub compact_grid: usize,
    pub num_stages: usize,
    /// Compacted (pre-training) grid side per stage.
    pub stage_grids: [usize; MAX_STAGES],
    pub stage_dims: [usize; MAX_STAGES],
    pub stage_head_dims: [usize; MAX_STAGES],
    pub stage_mlp_hidden: [usize; MAX_STAGES],
    /// Effective pre-training window per stage, `min(window, grid)`.
    pub windows: [usize; MAX_STAGES],
    /// Windows per image per stage, `(grid / window)^2`.
    pub window_counts: [usize; MAX_STAGES],
    /// Cyclic shift of the odd blocks, `window / 2` where the grid exceeds the window, else 0.
    pub shifts: [usize; MAX_STAGES],
    /// Fine-tuning (full map) grid side per stage, twice the compacted one.
    pub finetune_grids: [usize; MAX_STAGES],
    /// Fine-tuning window per stage, `min(2 * window, finetune grid)`.
    pub finetune_windows: [usize; MAX_STAGES],
    /// Final-stage tokens after `PixelShuffle(2)`: one per visible cell.
    pub decoder_visible: usize,
    /// Decoder sequence (visible then masked cells, no class token).
    pub decoder_seq: usize,
    /// Values per mask cell, `mask_cell^2 * channels`: the prediction width.
    pub pred_dim: usize,
    pub decoder: VitDims,
}

impl UmSwinSpec {
    /// Checks every UM-MAE (pyramid) rule (docs/shape-rules.md) and derives every size.
    pub const fn validate(&self) -> Result<UmSwinDims, ShapeError> {
        let image = tri!(self.image.validate(F));
        tri!(size(F, "patch", self.patch));
        tri!(size(F, "mask cell", self.mask_cell));
        tri!(size(F, "posmlp width", self.posmlp_dim));
        tri!(layer_norm_eps(F, self.layer_norm_eps));
        // The compaction folds every 2x2 block of mask cells into one cell of the map the
        // windows run on, so equal counts per block make every window of every stage equal.
        if !self.mask.window_balanced(2) {
            let e = ShapeError::new(F, Rule::WindowedTokenDropping);
            return Err(match self.mask {
                MaskSpec::Custom { strategy, .. } => e
                    .s("windowed attention on the visible tokens only needs equal kept counts in ")
                    .s("every window; custom mask `")
                    .s(strategy.name)
                    .s("` declares none for the 2x2 blocks of mask cells the encoder compacts")
                    .done(),
                _ => e
                    .s("the Swin stages run windowed attention on the visible tokens only, so ")
                    .s("every window must keep the same number of them; ")
                    .s(self.mask_name())
                    .s(" masking cannot promise that: use uniform(3 / 4)")
                    .done(),
            });
        }
        let num_stages = tri!(self.stages.count(F, 1));
        let stages = self.stages.as_slice();
        let stage_head_dims = tri!(stage_heads(F, stages));
        tri!(merge_doubles(F, stages));
        if !self.mask_cell.is_multiple_of(self.patch) {
            return Err(ShapeError::new(F, Rule::MaskCellMultipleOfPatch)
                .s("mask cell ")
                .n(self.mask_cell)
                .s(" is not a multiple of patch ")
                .n(self.patch)
                .done());
        }
        if !image.is_multiple_of(self.mask_cell) {
            return Err(ShapeError::new(F, Rule::MaskCellDividesImage)
                .s("mask cell ")
                .n(self.mask_cell)
                .s(" does not divide image ")
                .n(image)
                .done());
        }
        let mask_grid = image / self.mask_cell;
        let counts = tri!(self.mask.validate(F, mask_grid));
        // M even and mask_cell % patch == 0, so the token grid is even and halves exactly.
        let token_grid = image / self.patch;
        let compact_grid = token_grid / 2;
        let merges = 1usize << (num_stages - 1);
        if !compact_grid.is_multiple_of(merges) {
            return Err(ShapeError::new(F, Rule::CompactionThroughStages)
                .s("image ")
                .n(image)
                .s(" is not a multiple of ")
                .n(2 * self.patch * merges)
                .s(", so the visible quarter cannot be compacted through ")
                .n(num_stages)
                .s(" stages")
                .done());
        }
        let mut stage_grids = [0; MAX_STAGES];
        let mut stage_dims = [0; MAX_STAGES];
        let mut stage_mlp_hidden = [0; MAX_STAGES];
        let mut windows = [0; MAX_STAGES];
        let mut window_counts = [0; MAX_STAGES];
        let mut shifts = [0; MAX_STAGES];
        let mut finetune_grids = [0; MAX_STAGES];
        let mut finetune_windows = [0; MAX_STAGES];
        let mut s = 0;
        while s < num_stages {
            let grid = compact_grid >> s;
            let window = stages[s].window;
            let w = tri!(stage_window(F, s, window, grid));
            stage_grids[s] = grid;
            stage_dims[s] = stages[s].dim;
            let name = stage_name(s);
            stage_mlp_hidden[s] = tri!(mlp_hidden(F, name.as_str(), stages[s].dim, self.mlp_ratio));
            windows[s] = w;
            window_counts[s] = (grid / w) * (grid / w);
            shifts[s] = if grid > window { w / 2 } else { 0 };
            finetune_grids[s] = 2 * grid;
            finetune_windows[s] = 2 * w;
            s += 1;
        }
        let mask_cells = mask_grid * mask_grid;
        let visible_cells = counts.keep;
        let last = stage_grids[num_stages - 1];
        let decoder_visible = 4 * last * last;
        if decoder_visible != visible_cells {
            return Err(ShapeError::new(F, Rule::DecoderCoversVisibleCells)
                .s("the final ")
                .nxn(last, last)
                .s(" stage map pixel-shuffles to ")
                .n(decoder_visible)
                .s(" decoder tokens, but the ")
                .nxn(mask_grid, mask_grid)
                .s(" mask grid has ")
                .n(visible_cells)
                .s(" visible cells")
                .done());
        }
        let decoder = tri!(self.decoder.validate(F, "decoder", PosEmbed::SinCos2d));
        Ok(UmSwinDims {
            spec: *self,
            image,
            mask_grid,
            mask_cells,
            visible_cells,
            masked_cells: mask_cells - visible_cells,
            secondary_masked: counts.secondary_masked,
            token_grid,
            compact_grid,
            num_stages,
            stage_grids,
            stage_dims,
            stage_head_dims,
            stage_mlp_hidden,
            windows,
            window_counts,
            shifts,
            finetune_grids,
            finetune_windows,
            decoder_visible,
            decoder_seq: mask_cells,
            pred_dim: self.mask_cell * self.mask_cell * self.image.channels,
            decoder,
        })
    }
}

impl Display for UmSwinDims {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        let n = self.num_stages;
        let (depths, heads) = (s.stages.depths(), s.stages.heads());
        row(f, "family", "UM-Swin (Swin + Uniform Masking)")?;
        image_row(f, self.image, s.image.channels)?;
        row(f, "patch", s.patch)?;
        row(f, "mask cell", s.mask_cell)?;
        row(f, "mask grid", format_args!("{0}x{0}", self.mask_grid))?;
        row(f, "mask", s.mask)?;
        row(f, "visible cells", self.visible_cells)?;
        row(f, "masked cells", self.masked_cells)?;
        if self.secondary_masked > 0 {
            row(f, "secondary masked", self.secondary_masked)?;
        }
        row(f, "token grid", format_args!("{0}x{0}", self.token_grid))?;
        row(
            f,
            "compacted grid",
            format_args!("{0}x{0}", self.compact_grid),
        )?;
        row(f, "stages", n)?;
        row(f, "stage grids", PerStageGrid(&self.stage_grids[..n]))?;
        row(f, "stage widths", PerStage(&self.stage_dims[..n]))?;
        row(f, "stage depths", PerStage(&depths[..n]))?;
        row(f, "stage heads", PerStage(&heads[..n]))?;
        row(f, "stage head dims", PerStage(&self.stage_head_dims[..n]))?;
        row(f, "stage mlp hidden", PerStage(&self.stage_mlp_hidden[..n]))?;
        row(f, "windows", PerStage(&self.windows[..n]))?;
        row(f, "windows per image", PerStage(&self.window_counts[..n]))?;
        row(f, "shifts", PerStage(&self.shifts[..n]))?;
        row(f, "finetune grids", PerStageGrid(&self.finetune_grids[..n]))?;
        row(f, "finetune windows", PerStage(&self.finetune_windows[..n]))?;
        row(f, "decoder visible", self.decoder_visible)?;
        decoder_rows(f, self.decoder, self.decoder_seq)?;
        let positions = match s.decoder_positions {
            DecoderPositions::Cells => "each visible token its own cell's",
            DecoderPositions::OfficialRaster => {
                "official (cell raster order on block-order tokens)"
            }
        };
        row(f, "decoder positions", positions)?;
        row(f, "relative pos MLP", s.posmlp_dim)?;
        row(f, "prediction width", self.pred_dim)?;
        row(f, "target", s.target)?;
        eps_row(f, s.layer_norm_eps)
    }
}

impl UmSwinSpec {
    const fn mask_name(&self) -> &'static str {
        match self.mask {
            MaskSpec::Random { .. } => "random",
            MaskSpec::Block { .. } => "block-wise",
            MaskSpec::Uniform { .. } => "uniform",
            MaskSpec::Custom { .. } => "custom",
        }
    }
}
