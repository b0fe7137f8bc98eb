//! VideoMAE (MCG-NJU/VideoMAE `modeling_pretrain.py`). Tube
//! masking masks `floor(r * H'W')` tokens of each temporal slice (not MAE's keep count: at
//! 9/10 of 196 it keeps 20, MAE would keep 19) and repeats that pattern over every slice.
//! The official code hard-codes tubelet 2; any tubelet that divides the frames is sound
//! geometry (the target layout and the tube mask follow it), so any is accepted.
use super::error::{Family, Rule, ShapeError};
use super::image::ImageSpec;
#[cfg(feature = "serde")]
use super::mae::eps_1e6;
use super::rules::{layer_norm_eps, masked_within, patch_grid, size, tri, PosEmbed};
use super::table::{decoder_rows, eps_row, row};
use super::target::Target;
use super::vit::{VitDims, VitSpec};
use crate::Ratio;
use core::fmt::{self, Display, Formatter};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

const F: Family = Family::VideoMae;

/// A VideoMAE: clips of `frames` frames, tubelets of `tubelet x patch x patch`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct VideoMaeSpec {
    pub frames: usize,
    pub image: ImageSpec,
    pub patch: usize,
    pub tubelet: usize,
    pub encoder: VitSpec,
    pub decoder: VitSpec,
    /// Tube-mask ratio (official 9/10).
    pub ratio: Ratio,
    /// `norm_pix`: per-patch, per-channel normalised target (official default, effectively
    /// always on).
    pub target: Target,
    #[cfg_attr(feature = "serde", serde(default = "eps_1e6"))]
    pub layer_norm_eps: f64,
}

/// Every size derived from a [`VideoMaeSpec`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoMaeDims {
    pub spec: VideoMaeSpec,
    pub image: usize,
    /// Spatial tokens per side.
    pub grid: usize,
    /// Temporal slices `frames / tubelet`.
    pub slices: usize,
    /// Tokens per slice `grid^2`.
    pub slice_tokens: usize,
    /// Tokens in a clip (= the sinusoid table's rows, 1568 for 16x224x224).
    pub tokens: usize,
    pub masked_per_slice: usize,
    pub visible_per_slice: usize,
    pub masked: usize,
    /// Tokens the encoder sees (160 for ViT-B at 9/10).
    pub visible: usize,
    pub encoder: VitDims,
    pub decoder: VitDims,
    /// Decoder sequence: visible then masked tokens, no class token.
    pub decoder_seq: usize,
    /// `tubelet * patch^2 * channels` (1536).
    pub pred_dim: usize,
}

impl VideoMaeSpec {
    /// Checks every VideoMAE rule (docs/shape-rules.md) and derives every size.
    pub const fn validate(&self) -> Result<VideoMaeDims, ShapeError> {
        tri!(size(F, "frames", self.frames));
        let image = tri!(self.image.validate(F));
        tri!(size(F, "patch", self.patch));
        tri!(layer_norm_eps(F, self.layer_norm_eps));
        tri!(size(F, "tubelet", self.tubelet));
        if !self.frames.is_multiple_of(self.tubelet) {
            return Err(ShapeError::new(F, Rule::TubeletDividesFrames)
                .s("tubelet ")
                .n(self.tubelet)
                .s(" does not divide ")
                .n(self.frames)
                .s(" frames")
                .done());
        }
        if self.image.channels != 3 {
            return Err(ShapeError::new(F, Rule::ThreeChannels)
                .n(self.image.channels)
                .s(" channels given; the official head asserts 3 * tubelet * patch^2 outputs,")
                .s(" so VideoMAE takes 3")
                .done());
        }
        let grid = tri!(patch_grid(F, image, self.patch));
        let encoder = tri!(self.encoder.validate(F, "encoder", PosEmbed::SinCos1d));
        let decoder = tri!(self.decoder.validate(F, "decoder", PosEmbed::SinCos1d));
        let slice_tokens = grid * grid;
        let masked_per_slice = tri!(masked_within(F, "tube mask", self.ratio, slice_tokens));
        let slices = self.frames / self.tubelet;
        let tokens = slices * slice_tokens;
        let visible = slices * (slice_tokens - masked_per_slice);
        Ok(VideoMaeDims {
            spec: *self,
            image,
            grid,
            slices,
            slice_tokens,
            tokens,
            masked_per_slice,
            visible_per_slice: slice_tokens - masked_per_slice,
            masked: tokens - visible,
            visible,
            encoder,
            decoder,
            decoder_seq: tokens,
            pred_dim: self.tubelet * self.patch * self.patch * self.image.channels,
        })
    }
}

impl Display for VideoMaeDims {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        row(f, "family", "VideoMAE")?;
        row(
            f,
            "video",
            format_args!("{}x{1}x{1}x{2}", s.frames, self.image, s.image.channels),
        )?;
        row(f, "patch", s.patch)?;
        row(f, "tubelet", s.tubelet)?;
        row(
            f,
            "grid",
            format_args!("{0}x{1}x{1}", self.slices, self.grid),
        )?;
        row(f, "tokens", self.tokens)?;
        row(f, "tokens per slice", self.slice_tokens)?;
        row(
            f,
            "mask",
            format_args!("tube {} (masks floor(r*L) per slice)", s.ratio),
        )?;
        row(f, "masked per slice", self.masked_per_slice)?;
        row(f, "visible per slice", self.visible_per_slice)?;
        row(f, "visible tokens", self.visible)?;
        row(f, "masked tokens", self.masked)?;
        row(f, "encoder", self.encoder)?;
        row(f, "encoder sequence", self.visible)?;
        decoder_rows(f, self.decoder, self.decoder_seq)?;
        row(f, "prediction width", self.pred_dim)?;
        row(f, "target", s.target)?;
        eps_row(f, s.layer_norm_eps)
    }
}
