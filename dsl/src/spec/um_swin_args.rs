//! The official constructor's view of a UM-MAE Swin: `MaskedAutoencoderSwin(img_size,
//! patch_size, in_chans, stride, embed_dim, depths, num_heads, mlp_ratio, window_size,
//! posmlp_dim, decoder_embed_dim, decoder_depth, decoder_num_heads, norm_layer, norm_pix_loss,
//! vis_mask_ratio)` (implus/UM-MAE `models_mae_swin.py`). A checkpoint's `config` metadata
//! holds these names (and, from the official arch functions, `layer_norm_eps`).
use alloc::vec::Vec;

use super::error::{Family, Rule, ShapeError};
use super::image::ImageSpec;
use super::mask::MaskSpec;
use super::stages::{Stage, Stages};
use super::target::Target;
use super::um_swin::{DecoderPositions, UmSwinSpec};
use super::vit::VitSpec;
use crate::Ratio;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The official constructor's arguments; absent ones take its defaults.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct UmSwinArgs {
    pub img_size: usize,
    pub patch_size: usize,
    pub in_chans: usize,
    pub stride: usize,
    pub embed_dim: usize,
    pub depths: Vec<usize>,
    pub num_heads: Vec<usize>,
    pub mlp_ratio: f64,
    pub window_size: usize,
    pub posmlp_dim: usize,
    pub decoder_embed_dim: usize,
    pub decoder_depth: usize,
    pub decoder_num_heads: usize,
    pub norm_pix_loss: bool,
    pub vis_mask_ratio: f64,
    /// The LayerNorm epsilon of `norm_layer` (not a constructor argument; written beside them).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub layer_norm_eps: Option<f64>,
}

impl Default for UmSwinArgs {
    fn default() -> Self {
        UmSwinArgs {
            img_size: 256,
            patch_size: 4,
            in_chans: 3,
            stride: 16,
            embed_dim: 96,
            depths: alloc::vec![2, 2, 6, 2],
            num_heads: alloc::vec![3, 6, 12, 24],
            mlp_ratio: 4.0,
            window_size: 8,
            posmlp_dim: 32,
            decoder_embed_dim: 512,
            decoder_depth: 2,
            decoder_num_heads: 16,
            norm_pix_loss: false,
            vis_mask_ratio: 0.0,
            layer_norm_eps: None,
        }
    }
}

fn official(what: &str) -> ShapeError {
    ShapeError::new(Family::UmSwin, Rule::OfficialArgs)
        .s(what)
        .done()
}

impl UmSwinSpec {
    /// The spec `MaskedAutoencoderSwin(**args)` builds, trained with uniform sampling (3/4) and
    /// `vis_mask_ratio` secondary masking, reproducing the official decoder positions. The
    /// LayerNorm epsilon is `args.layer_norm_eps`, else nn.LayerNorm's 1e-5.
    pub fn from_official(args: &UmSwinArgs) -> Result<UmSwinSpec, ShapeError> {
        if args.depths.len() != args.num_heads.len() {
            return Err(official("depths and num_heads have different lengths"));
        }
        let stages: Vec<Stage> = args
            .depths
            .iter()
            .zip(&args.num_heads)
            .enumerate()
            .map(|(s, (&depth, &heads))| Stage {
                dim: args.embed_dim << s,
                depth,
                heads,
                window: args.window_size,
            })
            .collect();
        let secondary = if args.vis_mask_ratio > 0.0 {
            let text = alloc::format!("{}", args.vis_mask_ratio);
            Some(Ratio::parse_any(&text).map_err(|_| official("vis_mask_ratio is not a ratio"))?)
        } else {
            None
        };
        Ok(UmSwinSpec {
            image: ImageSpec::square(args.img_size, args.in_chans),
            patch: args.patch_size,
            mask_cell: args.stride,
            stages: Stages::new(&stages),
            mlp_ratio: args.mlp_ratio,
            posmlp_dim: args.posmlp_dim,
            mask: MaskSpec::Uniform {
                ratio: Ratio { num: 3, den: 4 },
                secondary,
            },
            decoder: VitSpec {
                dim: args.decoder_embed_dim,
                depth: args.decoder_depth,
                heads: args.decoder_num_heads,
                mlp_ratio: args.mlp_ratio,
            },
            decoder_positions: DecoderPositions::OfficialRaster,
            target: Target::from_norm_pix_loss(args.norm_pix_loss),
            layer_norm_eps: args.layer_norm_eps.unwrap_or(1e-5),
        })
    }

    /// The official constructor's arguments, or what the official model cannot express.
    pub fn to_official(&self) -> Result<UmSwinArgs, ShapeError> {
        let stages = self.stages.as_slice();
        let first = stages
            .first()
            .ok_or_else(|| official("a spec without stages"))?;
        if stages.iter().any(|s| s.window != first.window) {
            return Err(official("per-stage windows (the official model has one)"));
        }
        if self.decoder.mlp_ratio != self.mlp_ratio {
            return Err(official("a decoder mlp ratio other than the encoder's"));
        }
        let vis_mask_ratio = match self.mask {
            MaskSpec::Uniform {
                secondary: Some(r), ..
            } => r.to_f64(),
            _ => 0.0,
        };
        Ok(UmSwinArgs {
            img_size: self.image.height,
            patch_size: self.patch,
            in_chans: self.image.channels,
            stride: self.mask_cell,
            embed_dim: first.dim,
            depths: stages.iter().map(|s| s.depth).collect(),
            num_heads: stages.iter().map(|s| s.heads).collect(),
            mlp_ratio: self.mlp_ratio,
            window_size: first.window,
            posmlp_dim: self.posmlp_dim,
            decoder_embed_dim: self.decoder.dim,
            decoder_depth: self.decoder.depth,
            decoder_num_heads: self.decoder.heads,
            norm_pix_loss: self.target.is_norm_pix(),
            vis_mask_ratio,
            layer_norm_eps: Some(self.layer_norm_eps),
        })
    }
}
