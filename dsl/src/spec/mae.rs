//! Plain-ViT masked autoencoders: MAE (facebookresearch/mae `MaskedAutoencoderViT`) and every
//! variant composed from a ViT encoder, a masking strategy, a ViT decoder and a target
//! (block-wise masking, UM-MAE's uniform sampling on ViT, ...).
use super::error::{Family, ShapeError};
use super::image::ImageSpec;
use super::mask::MaskSpec;
use super::rules::{layer_norm_eps, patch_grid, size, tri, PosEmbed};
use super::table::{decoder_rows, eps_row, image_row, row};
use super::target::Target;
use super::vit::{VitDims, VitSpec};
use crate::mask::uniform::SecondaryRule;
use core::fmt::{self, Display, Formatter};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

const F: Family = Family::Mae;

/// A plain-ViT MIM model: encoder × masking × decoder × target.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct MaeSpec {
    pub image: ImageSpec,
    pub patch: usize,
    /// A learned class token in front of the encoder and decoder sequences (official: yes).
    #[cfg_attr(feature = "serde", serde(default = "yes"))]
    pub class_token: bool,
    pub encoder: VitSpec,
    pub decoder: VitSpec,
    pub mask: MaskSpec,
    pub target: Target,
    /// Epsilon of every LayerNorm (the official factories: 1e-6).
    #[cfg_attr(feature = "serde", serde(default = "eps_1e6"))]
    pub layer_norm_eps: f64,
    /// Which visible tokens secondary masking replaces: `smallest` noise (correct, the default)
    /// or `official_vit`, the index quirk of UM-MAE's ViT code, which models read from an
    /// official checkpoint use to reproduce it (docs/official-quirks.md).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "SecondaryRule::is_smallest")
    )]
    pub secondary_rule: SecondaryRule,
}

#[cfg(feature = "serde")]
fn yes() -> bool {
    true
}

#[cfg(feature = "serde")]
pub(crate) fn eps_1e6() -> f64 {
    1e-6
}

/// Every size derived from an [`MaeSpec`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaeDims {
    pub spec: MaeSpec,
    /// Square image side.
    pub image: usize,
    /// Tokens per side, `image / patch`.
    pub grid: usize,
    /// Patch tokens `L = grid^2`.
    pub tokens: usize,
    /// Tokens that enter the encoder (real or secondary-masked), without the class token.
    pub keep: usize,
    /// Tokens removed by the mask; the loss averages over these.
    pub masked: usize,
    /// Visible tokens replaced by the secondary mask token (UM-MAE), else 0.
    pub secondary_masked: usize,
    /// Encoder sequence length: `keep` plus the class token.
    pub encoder_seq: usize,
    /// Decoder sequence length: `L` plus the class token (= decoder pos-embed rows).
    pub decoder_seq: usize,
    /// Values in one patch, `patch^2 * channels` (patchify layout `(p, q, c)`); also the width
    /// of `decoder_pred`.
    pub patch_dim: usize,
    pub encoder: VitDims,
    pub decoder: VitDims,
}

impl MaeSpec {
    /// Checks every rule and derives every size.
    pub const fn validate(&self) -> Result<MaeDims, ShapeError> {
        let image = tri!(self.image.validate(F));
        tri!(size(F, "patch", self.patch));
        let grid = tri!(patch_grid(F, image, self.patch));
        let encoder = tri!(self.encoder.validate(F, "encoder", PosEmbed::SinCos2d));
        let decoder = tri!(self.decoder.validate(F, "decoder", PosEmbed::SinCos2d));
        tri!(layer_norm_eps(F, self.layer_norm_eps));
        let counts = tri!(self.mask.validate(F, grid));
        let cls = if self.class_token { 1 } else { 0 };
        let tokens = grid * grid;
        Ok(MaeDims {
            spec: *self,
            image,
            grid,
            tokens,
            keep: counts.keep,
            masked: counts.masked,
            secondary_masked: counts.secondary_masked,
            encoder_seq: counts.keep + cls,
            decoder_seq: tokens + cls,
            patch_dim: self.patch * self.patch * self.image.channels,
            encoder,
            decoder,
        })
    }
}

impl Display for MaeDims {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        let family = match s.mask {
            MaskSpec::Random { .. } => "MAE (plain ViT)",
            MaskSpec::Block { .. } => "plain-ViT MIM, block-wise masking",
            MaskSpec::Uniform { .. } => "UM-MAE on plain ViT",
            MaskSpec::Custom { .. } => "plain-ViT MIM, custom masking",
        };
        row(f, "family", family)?;
        image_row(f, self.image, s.image.channels)?;
        row(f, "patch", s.patch)?;
        row(f, "grid", format_args!("{0}x{0}", self.grid))?;
        row(f, "tokens", self.tokens)?;
        row(f, "mask", s.mask)?;
        row(f, "kept tokens", self.keep)?;
        row(f, "masked tokens", self.masked)?;
        if let MaskSpec::Uniform {
            secondary: Some(_), ..
        } = s.mask
        {
            row(f, "secondary masked", self.secondary_masked)?;
            row(f, "secondary rule", s.secondary_rule)?;
        }
        row(f, "class token", s.class_token)?;
        row(f, "encoder", self.encoder)?;
        row(f, "encoder sequence", self.encoder_seq)?;
        decoder_rows(f, self.decoder, self.decoder_seq)?;
        row(f, "prediction width", self.patch_dim)?;
        row(f, "target", s.target)?;
        eps_row(f, s.layer_norm_eps)
    }
}
