//! VideoMAE (MCG-NJU/VideoMAE `modeling_pretrain.py`), reference §5 and §8 "VideoMAE". Tube
//! masking masks `floor(r * H'W')` tokens of each temporal slice (not MAE's keep count: at
//! 9/10 of 196 it keeps 20, MAE would keep 19) and repeats that pattern over every slice.
use super::common::{
    masked_within, patch_grid, ratio, size, square, tri, PosEmbed, VitDims, VitSpec,
};
use super::error::{Family, Rule, ShapeError};
use super::table::{row, target_name};
use crate::Ratio;
use core::fmt::{self, Display, Formatter};

const F: Family = Family::VideoMae;

/// A VideoMAE: clips of `frames` frames, tubelets of `tubelet x patch x patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VideoMaeSpec {
    pub frames: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub patch: usize,
    pub tubelet: usize,
    pub encoder: VitSpec,
    pub decoder: VitSpec,
    /// Tube-mask ratio (official 9/10).
    pub ratio: Ratio,
    /// Per-patch, per-channel normalised target (official default, effectively always on).
    pub norm_pix_loss: bool,
}

/// Every size derived from a [`VideoMaeSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Checks every VideoMAE rule of reference §8 and derives every size.
    pub const fn validate(&self) -> Result<VideoMaeDims, ShapeError> {
        tri!(size(F, "frames", self.frames));
        tri!(size(F, "image height", self.height));
        tri!(size(F, "image width", self.width));
        tri!(size(F, "channels", self.channels));
        tri!(size(F, "patch", self.patch));
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
        if self.tubelet != 2 {
            return Err(ShapeError::new(F, Rule::TubeletIsTwo)
                .s("tubelet ")
                .n(self.tubelet)
                .s(" is not 2; the official target layout and tube-mask size hard-code 2")
                .done());
        }
        if self.channels != 3 {
            return Err(ShapeError::new(F, Rule::ThreeChannels)
                .n(self.channels)
                .s(" channels given; the official head asserts 3 * tubelet * patch^2 outputs,")
                .s(" so VideoMAE takes 3")
                .done());
        }
        let image = tri!(square(F, self.height, self.width));
        let grid = tri!(patch_grid(F, image, self.patch));
        let encoder = tri!(self.encoder.validate(F, "encoder", PosEmbed::SinCos1d));
        let decoder = tri!(self.decoder.validate(F, "decoder", PosEmbed::SinCos1d));
        let r = tri!(ratio(F, "tube mask", self.ratio));
        let slice_tokens = grid * grid;
        let masked_per_slice = tri!(masked_within(F, "tube mask", r, slice_tokens));
        let slices = self.frames / self.tubelet;
        let tokens = slices * slice_tokens;
        let visible = slices * (slice_tokens - masked_per_slice);
        Ok(VideoMaeDims {
            spec: VideoMaeSpec { ratio: r, ..*self },
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
            pred_dim: self.tubelet * self.patch * self.patch * self.channels,
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
            format_args!("{}x{1}x{1}x{2}", s.frames, self.image, s.channels),
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
        row(f, "decoder", self.decoder)?;
        row(f, "decoder sequence", self.decoder_seq)?;
        row(f, "prediction width", self.pred_dim)?;
        row(f, "target", target_name(s.norm_pix_loss))
    }
}
