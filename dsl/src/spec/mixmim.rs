//! MixMIM / MixMAE (Sense-X/MixMIM `models_mixmim.py`). Two
//! images are mixed by one batch-shared mask defined on the last stage's grid and upsampled to
//! every stage; windows attend only within their own source image. The mask removes
//! `floor(L4 * r)` tokens of the last grid. LayerNorms use PyTorch's default eps 1e-5.
use super::error::{Family, Rule, ShapeError};
use super::image::ImageSpec;
use super::name::stage_name;
use super::rules::{
    layer_norm_eps, mlp_hidden, patch_grid, pos_embed_width, ratio, size, tri, PosEmbed,
};
use super::stages::{merge_doubles, stage_heads, stage_window, Stages, MAX_STAGES};
use super::table::{decoder_rows, eps_row, image_row, row, PerStage, PerStageGrid};
use super::target::Target;
use super::vit::{VitDims, VitSpec};
use crate::Ratio;
use core::fmt::{self, Display, Formatter};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

const F: Family = Family::MixMim;

/// Stages of a MixMIM encoder: the mixing mask lives on the last grid and is upsampled x8,
/// x4, x2 to the others, as in the official code.
pub const MIXMIM_STAGES: usize = 4;

/// A MixMIM model: a Swin-style encoder without shifted windows, per-stage windows.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct MixMimSpec {
    pub image: ImageSpec,
    /// Patch-embed stride (official 4).
    pub patch: usize,
    pub stages: Stages,
    pub mlp_ratio: f64,
    pub decoder: VitSpec,
    /// Share of last-grid tokens taken from the partner image (official 1/2, the default).
    #[cfg_attr(feature = "serde", serde(default = "half"))]
    pub ratio: Ratio,
    pub target: Target,
    #[cfg_attr(feature = "serde", serde(default = "eps_1e5"))]
    pub layer_norm_eps: f64,
}

/// The official mixing ratio.
pub const MIXMIM_RATIO: Ratio = Ratio { num: 1, den: 2 };

#[cfg(feature = "serde")]
fn half() -> Ratio {
    MIXMIM_RATIO
}

#[cfg(feature = "serde")]
fn eps_1e5() -> f64 {
    1e-5
}

/// Every size derived from a [`MixMimSpec`]; per-stage arrays hold `num_stages` entries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixMimDims {
    pub spec: MixMimSpec,
    pub image: usize,
    pub num_stages: usize,
    pub stage_grids: [usize; MAX_STAGES],
    pub stage_dims: [usize; MAX_STAGES],
    pub stage_head_dims: [usize; MAX_STAGES],
    pub stage_mlp_hidden: [usize; MAX_STAGES],
    /// Effective window per stage, `min(window, grid)`.
    pub windows: [usize; MAX_STAGES],
    /// Windows per image per stage.
    pub window_counts: [usize; MAX_STAGES],
    /// Nearest-upsampling factor of the mask to each stage's grid.
    pub mask_upsample: [usize; MAX_STAGES],
    /// Side of the mask grid (the last stage's grid).
    pub mask_grid: usize,
    /// `L4 = mask_grid^2`; also the decoder's sequence length (no class token).
    pub mask_tokens: usize,
    /// `floor(L4 * r)` tokens from the partner image.
    pub masked: usize,
    pub visible: usize,
    /// Pixels per side of one last-stage token, `patch * 2^(stages-1)`.
    pub pred_patch: usize,
    /// `pred_patch^2 * channels` (3072 for MixMIM-B).
    pub pred_dim: usize,
    pub decoder: VitDims,
    pub decoder_seq: usize,
}

impl MixMimSpec {
    /// Checks every MixMIM rule (docs/shape-rules.md) and derives every size.
    pub const fn validate(&self) -> Result<MixMimDims, ShapeError> {
        let image = tri!(self.image.validate(F));
        tri!(size(F, "patch", self.patch));
        tri!(layer_norm_eps(F, self.layer_norm_eps));
        let grid = tri!(patch_grid(F, image, self.patch));
        if self.stages.len != MIXMIM_STAGES {
            return Err(ShapeError::new(F, Rule::StageCount)
                .n(self.stages.len)
                .s(" stages given; MixMIM has 4: its mixing mask lives on the last grid and is ")
                .s("upsampled x8, x4, x2 to the other stages")
                .done());
        }
        let num_stages = MIXMIM_STAGES;
        let stages = self.stages.as_slice();
        let stage_head_dims = tri!(stage_heads(F, stages));
        tri!(merge_doubles(F, stages));
        // The absolute position embedding on stage 1 is a fixed 2-D sin-cos.
        tri!(pos_embed_width(
            F,
            "stage 1",
            stages[0].dim,
            PosEmbed::SinCos2d
        ));
        let merges = 1usize << (num_stages - 1);
        if !grid.is_multiple_of(merges) {
            return Err(ShapeError::new(F, Rule::StagesHalveToMaskGrid)
                .s("image ")
                .n(image)
                .s(" is not a multiple of ")
                .n(self.patch * merges)
                .s(", so ")
                .n(num_stages)
                .s(" stages cannot halve the ")
                .nxn(grid, grid)
                .s(" token grid down to the mask grid")
                .done());
        }
        let mut stage_grids = [0; MAX_STAGES];
        let mut stage_dims = [0; MAX_STAGES];
        let mut stage_mlp_hidden = [0; MAX_STAGES];
        let mut windows = [0; MAX_STAGES];
        let mut window_counts = [0; MAX_STAGES];
        let mut mask_upsample = [0; MAX_STAGES];
        let mut s = 0;
        while s < num_stages {
            let g = grid >> s;
            let w = tri!(stage_window(F, s, stages[s].window, g));
            stage_grids[s] = g;
            stage_dims[s] = stages[s].dim;
            let name = stage_name(s);
            stage_mlp_hidden[s] = tri!(mlp_hidden(F, name.as_str(), stages[s].dim, self.mlp_ratio));
            windows[s] = w;
            window_counts[s] = (g / w) * (g / w);
            mask_upsample[s] = 1 << (num_stages - 1 - s);
            s += 1;
        }
        let mask_grid = stage_grids[num_stages - 1];
        let mask_tokens = mask_grid * mask_grid;
        let ratio = tri!(ratio(F, "mixing", self.ratio));
        let masked = ratio.masked_of(mask_tokens);
        if masked == 0 {
            return Err(ShapeError::new(F, Rule::MaskAtLeastOne)
                .s("mixing ratio ")
                .ratio(ratio)
                .s(" takes 0 of the ")
                .n(mask_tokens)
                .s(" last-stage cells from the partner image; at least one must be, or ")
                .s("nothing is mixed")
                .done());
        }
        let decoder = tri!(self.decoder.validate(F, "decoder", PosEmbed::SinCos2d));
        let pred_patch = self.patch * merges;
        Ok(MixMimDims {
            spec: *self,
            image,
            num_stages,
            stage_grids,
            stage_dims,
            stage_head_dims,
            stage_mlp_hidden,
            windows,
            window_counts,
            mask_upsample,
            mask_grid,
            mask_tokens,
            masked,
            visible: mask_tokens - masked,
            pred_patch,
            pred_dim: pred_patch * pred_patch * self.image.channels,
            decoder,
            decoder_seq: mask_tokens,
        })
    }
}

impl Display for MixMimDims {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        let n = self.num_stages;
        let (depths, heads) = (s.stages.depths(), s.stages.heads());
        row(f, "family", "MixMIM")?;
        image_row(f, self.image, s.image.channels)?;
        row(f, "patch", s.patch)?;
        row(f, "stages", n)?;
        row(f, "stage grids", PerStageGrid(&self.stage_grids[..n]))?;
        row(f, "stage widths", PerStage(&self.stage_dims[..n]))?;
        row(f, "stage depths", PerStage(&depths[..n]))?;
        row(f, "stage heads", PerStage(&heads[..n]))?;
        row(f, "stage head dims", PerStage(&self.stage_head_dims[..n]))?;
        row(f, "stage mlp hidden", PerStage(&self.stage_mlp_hidden[..n]))?;
        row(f, "windows", PerStage(&self.windows[..n]))?;
        row(f, "windows per image", PerStage(&self.window_counts[..n]))?;
        row(f, "mask upsampling", PerStage(&self.mask_upsample[..n]))?;
        row(f, "mask grid", format_args!("{0}x{0}", self.mask_grid))?;
        row(
            f,
            "mask",
            format_args!("mixed {} (masks floor(L*r), shared by the batch)", s.ratio),
        )?;
        row(f, "mask tokens", self.mask_tokens)?;
        row(f, "from partner image", self.masked)?;
        row(f, "from own image", self.visible)?;
        decoder_rows(f, self.decoder, self.decoder_seq)?;
        row(f, "prediction patch", self.pred_patch)?;
        row(f, "prediction width", self.pred_dim)?;
        row(f, "target", s.target)?;
        eps_row(f, s.layer_norm_eps)
    }
}
