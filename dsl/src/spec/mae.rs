//! Plain-ViT MAE (facebookresearch/mae `MaskedAutoencoderViT`), reference §1 and §8 "MAE".
//! Random masking keeps `floor(L * (1 - r))` tokens per sample. The UM-MAE ViT variant
//! (uniform sampling + secondary masking, reference §2.1-2.2) is the `Uniform` mask.
use super::common::{
    keep_at_least_one, patch_grid, ratio, size, square, tri, PosEmbed, VitDims, VitSpec,
};
use super::error::{Family, Rule, ShapeError};
use super::table::{row, target_name};
use crate::Ratio;
use core::fmt::{self, Display, Formatter};

const F: Family = Family::Mae;

/// How an MAE picks the tokens its encoder sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaeMask {
    /// Per-sample random masking; keeps `floor(L * (1 - ratio))`.
    Random(Ratio),
    /// UM-MAE uniform sampling: one visible token per 2x2 block (ratio exactly 3/4), then
    /// optional secondary masking that replaces `L/4 - floor(L/4 * (1 - secondary))` of the
    /// visible tokens by a learned token inside the encoder.
    Uniform {
        ratio: Ratio,
        secondary: Option<Ratio>,
    },
}

/// A plain-ViT MAE: everything the official constructor takes, plus the mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MaeSpec {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub patch: usize,
    /// A learned class token in front of the encoder and decoder sequences (official: yes).
    pub class_token: bool,
    pub encoder: VitSpec,
    pub decoder: VitSpec,
    pub mask: MaeMask,
    /// Per-patch normalised pixel target (`norm_pix_loss`).
    pub norm_pix_loss: bool,
}

/// Every size derived from an [`MaeSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MaeDims {
    /// The spec, with its ratios reduced.
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
    /// Values in one patch, `patch^2 * channels` (patchify layout `(p, q, c)`).
    pub patch_dim: usize,
    /// Width of `decoder_pred`, equal to `patch_dim`.
    pub pred_dim: usize,
    pub encoder: VitDims,
    pub decoder: VitDims,
}

impl MaeSpec {
    /// Checks every MAE rule of reference §8 and derives every size.
    pub const fn validate(&self) -> Result<MaeDims, ShapeError> {
        tri!(size(F, "image height", self.height));
        tri!(size(F, "image width", self.width));
        tri!(size(F, "channels", self.channels));
        tri!(size(F, "patch", self.patch));
        let image = tri!(square(F, self.height, self.width));
        let grid = tri!(patch_grid(F, image, self.patch));
        let encoder = tri!(self.encoder.validate(F, "encoder", PosEmbed::SinCos2d));
        let decoder = tri!(self.decoder.validate(F, "decoder", PosEmbed::SinCos2d));
        let tokens = grid * grid;
        let (mask, keep, secondary_masked) = match self.mask {
            MaeMask::Random(r) => {
                let r = tri!(ratio(F, "mask", r));
                let keep = tri!(keep_at_least_one(F, "mask", r, tokens));
                (MaeMask::Random(r), keep, 0)
            }
            MaeMask::Uniform {
                ratio: r,
                secondary,
            } => {
                let r = tri!(uniform_ratio(F, r));
                tri!(uniform_even_grid(F, "token", grid));
                let keep = tokens / 4;
                match secondary {
                    None => (
                        MaeMask::Uniform {
                            ratio: r,
                            secondary: None,
                        },
                        keep,
                        0,
                    ),
                    Some(s) => {
                        let s = tri!(ratio(F, "secondary mask", s));
                        let real = tri!(keep_at_least_one(F, "secondary mask", s, keep));
                        (
                            MaeMask::Uniform {
                                ratio: r,
                                secondary: Some(s),
                            },
                            keep,
                            keep - real,
                        )
                    }
                }
            }
        };
        let cls = if self.class_token { 1 } else { 0 };
        let patch_dim = self.patch * self.patch * self.channels;
        Ok(MaeDims {
            spec: MaeSpec { mask, ..*self },
            image,
            grid,
            tokens,
            keep,
            masked: tokens - keep,
            secondary_masked,
            encoder_seq: keep + cls,
            decoder_seq: tokens + cls,
            patch_dim,
            pred_dim: patch_dim,
            encoder,
            decoder,
        })
    }
}

/// Uniform sampling keeps exactly one token of every 2x2 block: the ratio must be 3/4.
pub const fn uniform_ratio(family: Family, r: Ratio) -> Result<Ratio, ShapeError> {
    let r = tri!(ratio(family, "uniform mask", r));
    if r.num != 3 || r.den != 4 {
        return Err(ShapeError::new(family, Rule::UniformRatioThreeQuarters)
            .s("uniform mask ratio ")
            .ratio(r)
            .s(" is not 3/4; uniform sampling keeps exactly one token of every 2x2 block")
            .done());
    }
    Ok(r)
}

/// Uniform sampling tiles the mask grid with 2x2 blocks: the grid side must be even.
pub const fn uniform_even_grid(family: Family, what: &str, grid: usize) -> Result<(), ShapeError> {
    if !grid.is_multiple_of(2) {
        return Err(ShapeError::new(family, Rule::UniformEvenGrid)
            .s("the ")
            .nxn(grid, grid)
            .s(" ")
            .s(what)
            .s(" grid is odd, so 2x2 uniform-sampling blocks cannot tile it")
            .done());
    }
    Ok(())
}

/// The official `MaskedAutoencoderViT(...)` arguments (names as in `models_mae.py`), plus the
/// `mask_ratio` that the official code passes to `forward`. Checkpoint `config` JSON uses these.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaeArgs {
    pub img_size: usize,
    pub patch_size: usize,
    pub in_chans: usize,
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
    pub decoder_embed_dim: usize,
    pub decoder_depth: usize,
    pub decoder_num_heads: usize,
    pub mlp_ratio: f64,
    pub norm_pix_loss: bool,
    pub mask_ratio: Ratio,
}

impl MaeSpec {
    /// The spec the official constructor builds from `args` (class token, random masking),
    /// validated.
    pub fn from_args(args: &MaeArgs) -> Result<MaeSpec, ShapeError> {
        let m = args.mlp_ratio;
        // Whole ratios from 1 up; the cast is exact for these.
        if !(m >= 1.0 && m <= super::MAX_SIZE as f64 && m == (m as usize) as f64) {
            let mut e = ShapeError::new(F, Rule::OfficialArgs);
            let _ = core::fmt::Write::write_fmt(
                &mut e,
                format_args!("mlp_ratio {m} is not a whole number from 1 up, as a spec needs"),
            );
            return Err(e.done());
        }
        let mlp_ratio = m as usize;
        let spec = MaeSpec {
            height: args.img_size,
            width: args.img_size,
            channels: args.in_chans,
            patch: args.patch_size,
            class_token: true,
            encoder: VitSpec {
                dim: args.embed_dim,
                depth: args.depth,
                heads: args.num_heads,
                mlp_ratio,
            },
            decoder: VitSpec {
                dim: args.decoder_embed_dim,
                depth: args.decoder_depth,
                heads: args.decoder_num_heads,
                mlp_ratio,
            },
            mask: MaeMask::Random(args.mask_ratio),
            norm_pix_loss: args.norm_pix_loss,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The official constructor's arguments for this spec; an error where the official model
    /// cannot express it (one `mlp_ratio` for both stacks, a class token, square images,
    /// random masking).
    pub fn to_args(&self) -> Result<MaeArgs, ShapeError> {
        let dims = self.validate()?;
        let unsupported = |what: &str| {
            ShapeError::new(F, Rule::OfficialArgs)
                .s("the official MaskedAutoencoderViT cannot express ")
                .s(what)
                .done()
        };
        if self.encoder.mlp_ratio != self.decoder.mlp_ratio {
            return Err(unsupported("different encoder and decoder mlp ratios"));
        }
        if !self.class_token {
            return Err(unsupported("a model without a class token"));
        }
        let mask_ratio = match dims.spec.mask {
            MaeMask::Random(r) => r,
            MaeMask::Uniform { .. } => return Err(unsupported("uniform masking")),
        };
        Ok(MaeArgs {
            img_size: dims.image,
            patch_size: self.patch,
            in_chans: self.channels,
            embed_dim: self.encoder.dim,
            depth: self.encoder.depth,
            num_heads: self.encoder.heads,
            decoder_embed_dim: self.decoder.dim,
            decoder_depth: self.decoder.depth,
            decoder_num_heads: self.decoder.heads,
            mlp_ratio: self.encoder.mlp_ratio as f64,
            norm_pix_loss: self.norm_pix_loss,
            mask_ratio,
        })
    }
}

impl Display for MaeMask {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MaeMask::Random(r) => write!(f, "random {r} (keeps floor(L*(1-r)) per sample)"),
            MaeMask::Uniform {
                ratio,
                secondary: None,
            } => write!(f, "uniform {ratio} (one visible token per 2x2 block)"),
            MaeMask::Uniform {
                ratio,
                secondary: Some(s),
            } => write!(
                f,
                "uniform {ratio} (one visible token per 2x2 block) + secondary {s}"
            ),
        }
    }
}

impl Display for MaeDims {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        row(f, "family", "MAE (plain ViT)")?;
        row(
            f,
            "image",
            format_args!("{0}x{0}x{1}", self.image, s.channels),
        )?;
        row(f, "patch", s.patch)?;
        row(f, "grid", format_args!("{0}x{0}", self.grid))?;
        row(f, "tokens", self.tokens)?;
        row(f, "mask", s.mask)?;
        row(f, "kept tokens", self.keep)?;
        row(f, "masked tokens", self.masked)?;
        if self.secondary_masked > 0 {
            row(f, "secondary masked", self.secondary_masked)?;
        }
        row(f, "class token", s.class_token)?;
        row(f, "encoder", self.encoder)?;
        row(f, "encoder sequence", self.encoder_seq)?;
        row(f, "decoder", self.decoder)?;
        row(f, "decoder sequence", self.decoder_seq)?;
        row(f, "patch dim", self.patch_dim)?;
        row(f, "prediction width", self.pred_dim)?;
        row(f, "target", target_name(s.norm_pix_loss))
    }
}
