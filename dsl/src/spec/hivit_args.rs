//! The official constructor's view of a HiViT MAE: `HiViTMaskedAutoencoder(img_size,
//! patch_size, in_chans, embed_dim, depths, num_heads, stem_mlp_ratio, mlp_ratio, qkv_bias,
//! decoder_embed_dim, decoder_depth, decoder_num_heads, hifeat, rpe, ape, patch_norm, ...)`
//! (zhangxiaosong18/hivit `models_hivit_mae.py`). A checkpoint's `config` metadata holds these
//! names; the LayerNorm epsilon (the constructor takes a class) and the masking (a forward
//! argument) travel beside them.
use alloc::vec::Vec;

use super::error::{Family, Rule, ShapeError};
use super::hivit::HiVitSpec;
use super::image::ImageSpec;
use super::mask::MaskSpec;
use super::stages::SizeList;
use super::target::Target;
use super::vit::VitSpec;

/// Sub-tokens per patch side of the official patch embedding (`PatchEmbed(inner_patches=4)`,
/// which the MAE model does not pass on, so it is always 4).
pub const OFFICIAL_INNER_PATCHES: usize = 4;

/// The official constructor's arguments; absent ones take its defaults.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct HiVitArgs {
    pub img_size: usize,
    pub patch_size: usize,
    pub in_chans: usize,
    /// The main stage's width; stage s of the MLP stages is `embed_dim / 2^(stages - 1 - s)`.
    pub embed_dim: usize,
    /// `[MLP stage 1, MLP stage 2, main stage]` (each MLP stage runs twice its depth).
    pub depths: Vec<usize>,
    pub num_heads: usize,
    pub stem_mlp_ratio: f64,
    pub mlp_ratio: f64,
    pub qkv_bias: bool,
    pub decoder_embed_dim: usize,
    pub decoder_depth: usize,
    pub decoder_num_heads: usize,
    pub hifeat: bool,
    pub rpe: bool,
    pub ape: bool,
    pub patch_norm: bool,
}

impl Default for HiVitArgs {
    fn default() -> Self {
        HiVitArgs {
            img_size: 224,
            patch_size: 16,
            in_chans: 3,
            embed_dim: 512,
            depths: alloc::vec![2, 2, 20],
            num_heads: 8,
            stem_mlp_ratio: 3.0,
            mlp_ratio: 4.0,
            qkv_bias: true,
            decoder_embed_dim: 512,
            decoder_depth: 8,
            decoder_num_heads: 16,
            hifeat: false,
            rpe: true,
            ape: true,
            patch_norm: true,
        }
    }
}

fn unsupported(what: &str) -> ShapeError {
    ShapeError::new(Family::HiVit, Rule::OfficialArgs)
        .s("the official HiViTMaskedAutoencoder cannot express ")
        .s(what)
        .done()
}

impl HiVitSpec {
    /// The spec `HiViTMaskedAutoencoder(**args)` builds, with LayerNorm epsilon `eps` and the
    /// masking the forward pass is given. Its loss always uses norm-pix targets (hard-wired in
    /// the official code).
    pub fn from_official(
        args: &HiVitArgs,
        layer_norm_eps: f64,
        mask: MaskSpec,
    ) -> Result<HiVitSpec, ShapeError> {
        // The official patch embedding always splits a patch 4x4 and `hifeat` unpacks exactly
        // two MLP stages, so only three depths make a working model.
        let [d1, d2, main_depth] = args.depths[..] else {
            return Err(ShapeError::new(Family::HiVit, Rule::OfficialArgs)
                .s("depths lists ")
                .n(args.depths.len())
                .s(" stages; the official HiViT MAE works with exactly 3 (two MLP stages and ")
                .s("the main stage)")
                .done());
        };
        Ok(HiVitSpec {
            image: ImageSpec::square(args.img_size, args.in_chans),
            patch: args.patch_size,
            inner_patches: OFFICIAL_INNER_PATCHES,
            mlp_depths: SizeList::new(&[d1, d2]),
            stem_mlp_ratio: args.stem_mlp_ratio,
            main: VitSpec {
                dim: args.embed_dim,
                depth: main_depth,
                heads: args.num_heads,
                mlp_ratio: args.mlp_ratio,
            },
            hifeat: args.hifeat,
            decoder: VitSpec {
                dim: args.decoder_embed_dim,
                depth: args.decoder_depth,
                heads: args.decoder_num_heads,
                mlp_ratio: args.mlp_ratio,
            },
            mask,
            target: Target::NormPix,
            layer_norm_eps,
            qkv_bias: args.qkv_bias,
            ape: args.ape,
            rpe: args.rpe,
            patch_norm: args.patch_norm,
        })
    }

    /// The official constructor's arguments for this architecture, or an error naming what
    /// the official model cannot express.
    pub fn to_official(&self) -> Result<HiVitArgs, ShapeError> {
        if self.image.height != self.image.width {
            return Err(unsupported("a non-square image"));
        }
        if self.inner_patches != OFFICIAL_INNER_PATCHES || self.mlp_depths.len != 2 {
            return Err(unsupported(
                "other than two MLP stages over 4x4 sub-tokens (its patch embedding fixes 4)",
            ));
        }
        if !self.target.is_norm_pix() {
            return Err(unsupported(
                "pixel targets (its loss always normalizes each patch)",
            ));
        }
        if self.main.mlp_ratio != self.decoder.mlp_ratio {
            return Err(unsupported("different main-stage and decoder mlp ratios"));
        }
        let d = self.mlp_depths.as_slice();
        Ok(HiVitArgs {
            img_size: self.image.height,
            patch_size: self.patch,
            in_chans: self.image.channels,
            embed_dim: self.main.dim,
            depths: alloc::vec![d[0], d[1], self.main.depth],
            num_heads: self.main.heads,
            stem_mlp_ratio: self.stem_mlp_ratio,
            mlp_ratio: self.main.mlp_ratio,
            qkv_bias: self.qkv_bias,
            decoder_embed_dim: self.decoder.dim,
            decoder_depth: self.decoder.depth,
            decoder_num_heads: self.decoder.heads,
            hifeat: self.hifeat,
            rpe: self.rpe,
            ape: self.ape,
            patch_norm: self.patch_norm,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::HiVitBase;
    use crate::Ratio;

    #[test]
    fn the_published_preset_round_trips_through_the_official_arguments() {
        let spec = HiVitBase::SPEC;
        let args = spec.to_official().unwrap();
        assert_eq!(args.depths, [2, 2, 20]);
        assert_eq!((args.embed_dim, args.decoder_depth), (512, 6));
        assert!(args.hifeat && !args.rpe && args.ape);
        assert_eq!(HiVitSpec::from_official(&args, 1e-6, spec.mask), Ok(spec));
        // The constructor's defaults: rpe on, hifeat off.
        let d = HiVitArgs::default();
        let s = HiVitSpec::from_official(&d, 1e-5, spec.mask).unwrap();
        assert!(s.rpe && !s.hifeat);
        let two = HiVitArgs {
            depths: alloc::vec![2, 20],
            ..d
        };
        assert_eq!(
            HiVitSpec::from_official(&two, 1e-6, spec.mask)
                .unwrap_err()
                .rule(),
            Rule::OfficialArgs
        );
        let pix = HiVitSpec {
            target: Target::Pix,
            ..spec
        };
        assert_eq!(pix.to_official().unwrap_err().rule(), Rule::OfficialArgs);
        let uniform = HiVitSpec {
            mask: MaskSpec::Uniform {
                ratio: Ratio::of(3, 4),
                secondary: None,
            },
            ..spec
        };
        // The masking is not a constructor argument.
        assert_eq!(uniform.to_official().unwrap(), args);
    }
}
