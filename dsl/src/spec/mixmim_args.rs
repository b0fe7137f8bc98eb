//! The official constructor's view of a MixMIM: `MixMIM(decoder_dim, decoder_depth,
//! decoder_num_heads, mlp_ratio, norm_pix_loss, img_size, patch_size, in_chans, num_classes,
//! embed_dim, depths, num_heads, window_size, qkv_bias, qk_scale, patch_norm, drop_rate,
//! drop_path_rate, attn_drop_rate, norm_layer, use_checkpoint, range_mask_ratio)`
//! (Sense-X/MixMIM `models_mixmim.py`). A checkpoint's `config` metadata holds these names;
//! the mixing ratio (an argument of `forward`) and the LayerNorm epsilon (the constructor takes
//! a class) travel beside them as `mask_ratio` and `layer_norm_eps`.
use alloc::vec::Vec;

use super::error::{Family, Rule, ShapeError};
use super::image::ImageSpec;
use super::mixmim::MixMimSpec;
use super::stages::{Stage, Stages};
use super::target::Target;
use super::vit::VitSpec;
use crate::Ratio;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The official model hard-codes `encoder_stride = 32`: its mask grid is `img_size / 32` and
/// its prediction `32 · 32 · 3` values, which agree with its stages only for patch 4 and RGB.
const OFFICIAL_PATCH: usize = 4;
const OFFICIAL_CHANNELS: usize = 3;

/// The official constructor's arguments; absent ones take its defaults.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct MixMimArgs {
    pub img_size: usize,
    pub patch_size: usize,
    pub in_chans: usize,
    /// Unused by the pre-training model (no head).
    pub num_classes: usize,
    pub embed_dim: usize,
    pub depths: Vec<usize>,
    pub num_heads: Vec<usize>,
    pub window_size: Vec<usize>,
    pub mlp_ratio: f64,
    pub qkv_bias: bool,
    /// Accepted and never used by the official code (its attention always scales by
    /// `head_dim^-0.5`).
    pub qk_scale: Option<f64>,
    pub patch_norm: bool,
    pub drop_rate: f64,
    pub drop_path_rate: f64,
    pub attn_drop_rate: f64,
    /// Gradient checkpointing: memory only, the same numbers.
    pub use_checkpoint: bool,
    pub decoder_dim: usize,
    pub decoder_depth: usize,
    pub decoder_num_heads: usize,
    pub norm_pix_loss: bool,
    pub range_mask_ratio: f64,
    /// The `mask_ratio` given to `forward` (not a constructor argument; written beside them).
    pub mask_ratio: f64,
    /// The LayerNorm epsilon of `norm_layer` (not a constructor argument; written beside them).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub layer_norm_eps: Option<f64>,
}

impl Default for MixMimArgs {
    fn default() -> Self {
        MixMimArgs {
            img_size: 224,
            patch_size: 4,
            in_chans: 3,
            num_classes: 0,
            embed_dim: 96,
            depths: alloc::vec![2, 2, 18, 2],
            num_heads: alloc::vec![3, 6, 12, 24],
            window_size: alloc::vec![7, 7, 14, 7],
            mlp_ratio: 4.0,
            qkv_bias: true,
            qk_scale: None,
            patch_norm: true,
            drop_rate: 0.0,
            drop_path_rate: 0.0,
            attn_drop_rate: 0.0,
            use_checkpoint: false,
            decoder_dim: 512,
            decoder_depth: 8,
            decoder_num_heads: 16,
            norm_pix_loss: true,
            range_mask_ratio: 0.0,
            mask_ratio: 0.5,
            layer_norm_eps: None,
        }
    }
}

fn official(what: &str) -> ShapeError {
    ShapeError::new(Family::MixMim, Rule::OfficialArgs)
        .s(what)
        .done()
}

impl MixMimSpec {
    /// The spec `MixMIM(**args)` builds, mixing at `args.mask_ratio`. The LayerNorm epsilon is
    /// `args.layer_norm_eps`, else `nn.LayerNorm`'s 1e-5. Arguments that change what the
    /// official model computes and that tessera does not model (no qkv bias, no patch norm,
    /// dropout, stochastic depth, a random extra mixing ratio, another stride) are refused.
    pub fn from_official(args: &MixMimArgs) -> Result<MixMimSpec, ShapeError> {
        let n = args.depths.len();
        if args.num_heads.len() != n || args.window_size.len() != n {
            return Err(official(
                "depths, num_heads and window_size have different lengths",
            ));
        }
        if !args.qkv_bias {
            return Err(official(
                "qkv_bias false (tessera's window attention has a qkv bias)",
            ));
        }
        if !args.patch_norm {
            return Err(official(
                "patch_norm false (tessera's MixMIM normalizes its patch embedding)",
            ));
        }
        if args.drop_rate != 0.0 || args.drop_path_rate != 0.0 || args.attn_drop_rate != 0.0 {
            return Err(official(
                "dropout or stochastic depth (drop_rate, drop_path_rate, attn_drop_rate must be 0)",
            ));
        }
        if args.range_mask_ratio != 0.0 {
            return Err(official(
                "range_mask_ratio other than 0 (a random extra mixing ratio per step)",
            ));
        }
        if args.patch_size != OFFICIAL_PATCH || args.in_chans != OFFICIAL_CHANNELS {
            return Err(official(
                "patch_size other than 4 or in_chans other than 3: the official model's mask \
                 grid (img_size / 32) and prediction (32 x 32 x 3) assume both",
            ));
        }
        // As written (`0.5`), or a float32 ratio widened to a Python float
        // (`0.6000000238418579`), read as the decimal it was written as.
        let ratio = Ratio::parse_any(&alloc::format!("{}", args.mask_ratio))
            .or_else(|_| Ratio::parse_any(&alloc::format!("{}", args.mask_ratio as f32)))
            .map_err(|_| official("mask_ratio is not a ratio"))?;
        let stages: Vec<Stage> = (0..n)
            .map(|s| Stage {
                dim: args.embed_dim << s,
                depth: args.depths[s],
                heads: args.num_heads[s],
                window: args.window_size[s],
            })
            .collect();
        Ok(MixMimSpec {
            image: ImageSpec::square(args.img_size, args.in_chans),
            patch: args.patch_size,
            stages: Stages::new(&stages),
            mlp_ratio: args.mlp_ratio,
            decoder: VitSpec {
                dim: args.decoder_dim,
                depth: args.decoder_depth,
                heads: args.decoder_num_heads,
                mlp_ratio: args.mlp_ratio,
            },
            ratio,
            target: Target::from_norm_pix_loss(args.norm_pix_loss),
            layer_norm_eps: args.layer_norm_eps.unwrap_or(1e-5),
        })
    }

    /// The official constructor's arguments, or what the official model cannot express.
    pub fn to_official(&self) -> Result<MixMimArgs, ShapeError> {
        let stages = self.stages.as_slice();
        let first = stages
            .first()
            .ok_or_else(|| official("a spec without stages"))?;
        if self.decoder.mlp_ratio != self.mlp_ratio {
            return Err(official("a decoder mlp ratio other than the encoder's"));
        }
        if self.patch != OFFICIAL_PATCH || self.image.channels != OFFICIAL_CHANNELS {
            return Err(official(
                "patch other than 4 or channels other than 3 (the official model's stride 32 \
                 and RGB prediction)",
            ));
        }
        if self.image.height != self.image.width {
            return Err(official("a non-square image"));
        }
        Ok(MixMimArgs {
            img_size: self.image.height,
            patch_size: self.patch,
            in_chans: self.image.channels,
            embed_dim: first.dim,
            depths: stages.iter().map(|s| s.depth).collect(),
            num_heads: stages.iter().map(|s| s.heads).collect(),
            window_size: stages.iter().map(|s| s.window).collect(),
            mlp_ratio: self.mlp_ratio,
            decoder_dim: self.decoder.dim,
            decoder_depth: self.decoder.depth,
            decoder_num_heads: self.decoder.heads,
            norm_pix_loss: self.target.is_norm_pix(),
            mask_ratio: self.ratio.to_f64(),
            layer_norm_eps: Some(self.layer_norm_eps),
            ..MixMimArgs::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::MixMimBase;
    use crate::spec::MIXMIM_RATIO;

    #[test]
    fn mixmim_base_round_trips_through_the_official_arguments() {
        let args = MixMimBase::SPEC.to_official().unwrap();
        assert_eq!(args.embed_dim, 128);
        assert_eq!(args.depths, [2, 2, 18, 2]);
        assert_eq!(args.num_heads, [4, 8, 16, 32]);
        assert_eq!(args.window_size, [14, 14, 14, 7]);
        assert_eq!(args.mask_ratio, 0.5);
        assert_eq!(MixMimSpec::from_official(&args).unwrap(), MixMimBase::SPEC);
        // `forward(x, mask_ratio=0.5)` reads as the exact 1/2 of the spec, and a float32 0.6
        // widened to a Python float as 3/5.
        assert_eq!(Ratio::parse_any("0.5").unwrap(), MIXMIM_RATIO);
        let widened = MixMimArgs {
            mask_ratio: 0.6f32 as f64,
            ..args
        };
        assert_eq!(
            MixMimSpec::from_official(&widened).unwrap().ratio,
            Ratio::of(3, 5)
        );
    }

    #[test]
    fn what_the_official_model_computes_differently_is_refused() {
        let base = MixMimBase::SPEC.to_official().unwrap();
        for bad in [
            MixMimArgs {
                patch_size: 2,
                ..base.clone()
            },
            MixMimArgs {
                drop_path_rate: 0.1,
                ..base.clone()
            },
            MixMimArgs {
                range_mask_ratio: 0.1,
                ..base.clone()
            },
            MixMimArgs {
                window_size: alloc::vec![14, 14, 14],
                ..base.clone()
            },
        ] {
            let e = MixMimSpec::from_official(&bad).unwrap_err();
            assert_eq!(e.rule(), Rule::OfficialArgs, "{e}");
        }
    }
}
