//! HiViT (zhangxiaosong18/hivit `models_hivit_mae.py`). Each
//! patch keeps an `inner x inner` sub-token grid through MLP-only stages that never mix
//! patches (so masking happens right after patch embedding), each stage merging 2x2 inside
//! the patch, until one token per patch enters the plain-ViT main stage. Any masking that
//! keeps the same number of patches per sample works (official: random, as MAE).
use super::error::{Family, Rule, ShapeError};
use super::image::ImageSpec;
#[cfg(feature = "serde")]
use super::mae::eps_1e6;
use super::mask::MaskSpec;
use super::rules::{layer_norm_eps, mlp_hidden, patch_grid, size, tri, PosEmbed};
use super::stages::{SizeList, MAX_STAGES};
use super::table::{decoder_rows, eps_row, image_row, row, PerStage};
use super::target::Target;
use super::vit::{VitDims, VitSpec};
use core::fmt::{self, Display, Formatter};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

const F: Family = Family::HiVit;

/// A HiViT masked autoencoder.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct HiVitSpec {
    pub image: ImageSpec,
    pub patch: usize,
    /// Sub-tokens per patch side after patch embedding (official 4).
    pub inner_patches: usize,
    /// Official `depths[..-1]`: stage s runs `2 * mlp_depths[s]` MLP-only blocks.
    pub mlp_depths: SizeList,
    /// MLP ratio of the MLP-only stages (official 3).
    pub stem_mlp_ratio: f64,
    /// The main stage: width, depth (official `depths[-1]`), heads, MLP ratio.
    pub main: VitSpec,
    /// Encoder output = LayerNorm of every stage's features concatenated (official `hifeat`).
    pub hifeat: bool,
    pub decoder: VitSpec,
    pub mask: MaskSpec,
    pub target: Target,
    #[cfg_attr(feature = "serde", serde(default = "eps_1e6"))]
    pub layer_norm_eps: f64,
    /// A bias on every attention's qkv projection (official `qkv_bias`, default true).
    #[cfg_attr(feature = "serde", serde(default = "yes"))]
    pub qkv_bias: bool,
    /// The absolute position embedding added before the main stage (official `ape`, default
    /// true; trainable in the official code, initialised with the 2-D sin-cos table).
    #[cfg_attr(feature = "serde", serde(default = "yes"))]
    pub ape: bool,
    /// A relative position bias in the main stage's attention (official `rpe`; pre-training
    /// uses false).
    #[cfg_attr(feature = "serde", serde(default))]
    pub rpe: bool,
    /// A LayerNorm after the patch embedding (official `patch_norm`, default true).
    #[cfg_attr(feature = "serde", serde(default = "yes"))]
    pub patch_norm: bool,
}

#[cfg(feature = "serde")]
fn yes() -> bool {
    true
}

/// Every size derived from a [`HiVitSpec`]; per-stage arrays hold `mlp_stages` entries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HiVitDims {
    pub spec: HiVitSpec,
    pub image: usize,
    /// Patches per side.
    pub grid: usize,
    /// Patches `L = grid^2` (main-stage tokens, the masking unit).
    pub tokens: usize,
    pub keep: usize,
    pub masked: usize,
    /// Patch-embed conv kernel and stride, `patch / inner_patches`.
    pub embed_kernel: usize,
    pub mlp_stages: usize,
    /// Sub-token grid side inside a patch, per MLP stage (4, 2 for HiViT-B).
    pub inner_grids: [usize; MAX_STAGES],
    /// Width per MLP stage (D/4, D/2 for HiViT-B).
    pub stage_dims: [usize; MAX_STAGES],
    /// MLP-only blocks per stage, `2 * mlp_depths[s]`.
    pub stage_blocks: [usize; MAX_STAGES],
    pub stage_mlp_hidden: [usize; MAX_STAGES],
    /// Width of the concatenated multi-stage feature (`(2^S - 1) * D`, 7D for 3 stages).
    pub hifeat_dim: usize,
    /// What the decoder embedding reads: `hifeat_dim` or the main width.
    pub encoder_out_dim: usize,
    pub main: VitDims,
    pub decoder: VitDims,
    /// Decoder sequence: all patches, no class token.
    pub decoder_seq: usize,
    /// `patch^2 * channels`.
    pub pred_dim: usize,
}

impl HiVitSpec {
    /// Checks every HiViT rule (docs/shape-rules.md) and derives every size.
    pub const fn validate(&self) -> Result<HiVitDims, ShapeError> {
        let image = tri!(self.image.validate(F));
        tri!(size(F, "patch", self.patch));
        tri!(size(F, "inner patches", self.inner_patches));
        tri!(layer_norm_eps(F, self.layer_norm_eps));
        let grid = tri!(patch_grid(F, image, self.patch));
        let n = self.mlp_depths.len;
        if n < 1 || n >= MAX_STAGES {
            return Err(ShapeError::new(F, Rule::StageCount)
                .n(n)
                .s(" MLP stages given; a spec holds 1 to ")
                .n(MAX_STAGES - 1)
                .s(" (plus the main stage)")
                .done());
        }
        let depths = self.mlp_depths.as_slice();
        let mut s = 0;
        while s < n {
            tri!(size(F, "MLP stage depth", depths[s]));
            s += 1;
        }
        if !self.patch.is_multiple_of(self.inner_patches) {
            return Err(ShapeError::new(F, Rule::InnerPatchesDividePatch)
                .s("patch ")
                .n(self.patch)
                .s(" is not a multiple of inner_patches ")
                .n(self.inner_patches)
                .s(" (the patch-embed kernel is patch / inner_patches)")
                .done());
        }
        let split = 1usize << n;
        if self.inner_patches != split {
            return Err(ShapeError::new(F, Rule::InnerPatchesCollapse)
                .s("inner_patches ")
                .n(self.inner_patches)
                .s(" is not 2^")
                .n(n)
                .s(" = ")
                .n(split)
                .s(", so ")
                .n(n)
                .s(" MLP stages do not merge each patch down to 1x1")
                .done());
        }
        let main = tri!(self.main.validate(F, "main stage", PosEmbed::SinCos2d));
        if !main.dim.is_multiple_of(split) {
            return Err(ShapeError::new(F, Rule::WidthSplitsAcrossStages)
                .s("main width ")
                .n(main.dim)
                .s(" is not divisible by ")
                .n(split)
                .s(", the factor between the stage-1 width and the main width")
                .done());
        }
        let decoder = tri!(self.decoder.validate(F, "decoder", PosEmbed::SinCos2d));
        let tokens = grid * grid;
        let counts = tri!(self.mask.validate(F, grid));
        let mut inner_grids = [0; MAX_STAGES];
        let mut stage_dims = [0; MAX_STAGES];
        let mut stage_blocks = [0; MAX_STAGES];
        let mut stage_mlp_hidden = [0; MAX_STAGES];
        let mut hifeat_dim = main.dim;
        let mut s = 0;
        while s < n {
            inner_grids[s] = self.inner_patches >> s;
            stage_dims[s] = main.dim >> (n - s);
            stage_blocks[s] = 2 * depths[s];
            stage_mlp_hidden[s] = tri!(mlp_hidden(
                F,
                "MLP stage",
                stage_dims[s],
                self.stem_mlp_ratio
            ));
            hifeat_dim += inner_grids[s] * inner_grids[s] * stage_dims[s];
            s += 1;
        }
        Ok(HiVitDims {
            spec: *self,
            image,
            grid,
            tokens,
            keep: counts.keep,
            masked: counts.masked,
            embed_kernel: self.patch / self.inner_patches,
            mlp_stages: n,
            inner_grids,
            stage_dims,
            stage_blocks,
            stage_mlp_hidden,
            hifeat_dim,
            encoder_out_dim: if self.hifeat { hifeat_dim } else { main.dim },
            main,
            decoder,
            decoder_seq: tokens,
            pred_dim: self.patch * self.patch * self.image.channels,
        })
    }
}

impl Display for HiVitDims {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        let n = self.mlp_stages;
        row(f, "family", "HiViT")?;
        image_row(f, self.image, s.image.channels)?;
        row(f, "patch", s.patch)?;
        row(f, "inner patches", s.inner_patches)?;
        row(f, "patch-embed kernel", self.embed_kernel)?;
        row(f, "grid", format_args!("{0}x{0}", self.grid))?;
        row(f, "tokens", self.tokens)?;
        row(f, "mask", s.mask)?;
        row(f, "kept tokens", self.keep)?;
        row(f, "masked tokens", self.masked)?;
        row(f, "MLP stages", n)?;
        row(f, "inner grids", PerStage(&self.inner_grids[..n]))?;
        row(f, "stage widths", PerStage(&self.stage_dims[..n]))?;
        row(f, "stage MLP blocks", PerStage(&self.stage_blocks[..n]))?;
        row(f, "stage mlp hidden", PerStage(&self.stage_mlp_hidden[..n]))?;
        row(f, "main stage", self.main)?;
        row(f, "hifeat width", self.hifeat_dim)?;
        row(f, "encoder output", self.encoder_out_dim)?;
        decoder_rows(f, self.decoder, self.decoder_seq)?;
        row(f, "prediction width", self.pred_dim)?;
        row(f, "target", s.target)?;
        row(
            f,
            "flags",
            format_args!(
                "qkv_bias {}, ape {}, rpe {}, patch_norm {}",
                s.qkv_bias, s.ape, s.rpe, s.patch_norm
            ),
        )?;
        eps_row(f, s.layer_norm_eps)
    }
}
