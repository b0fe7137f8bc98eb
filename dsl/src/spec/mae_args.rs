//! The official constructor's view of an MAE: `MaskedAutoencoderViT(img_size, patch_size,
//! in_chans, embed_dim, depth, num_heads, decoder_embed_dim, decoder_depth, decoder_num_heads,
//! mlp_ratio, norm_layer, norm_pix_loss)`. A checkpoint's `config` metadata holds these names,
//! so `MaskedAutoencoderViT(**config)` rebuilds the model in PyTorch; the LayerNorm epsilon
//! (the constructor takes a class, not a number) and the masking (a forward argument) travel
//! beside it.
use super::error::{Family, Rule, ShapeError};
use super::image::ImageSpec;
use super::mae::MaeSpec;
use super::mask::MaskSpec;
use super::target::Target;
use super::vit::VitSpec;
use crate::mask::uniform::SecondaryRule;

/// LayerNorm epsilon of `MaskedAutoencoderViT(**config)`: its `norm_layer` default is
/// `nn.LayerNorm`, whose eps is 1e-5.
pub const CONSTRUCTOR_LAYER_NORM_EPS: f64 = 1e-5;
/// LayerNorm epsilon of the official factories (`partial(nn.LayerNorm, eps=1e-6)`), which every
/// released checkpoint was trained with.
pub const FACTORY_LAYER_NORM_EPS: f64 = 1e-6;

/// The official constructor's arguments; absent ones take its defaults (`models_mae.py`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
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
}

impl Default for MaeArgs {
    fn default() -> Self {
        MaeArgs {
            img_size: 224,
            patch_size: 16,
            in_chans: 3,
            embed_dim: 1024,
            depth: 24,
            num_heads: 16,
            decoder_embed_dim: 512,
            decoder_depth: 8,
            decoder_num_heads: 16,
            mlp_ratio: 4.0,
            norm_pix_loss: false,
        }
    }
}

impl MaeSpec {
    /// The spec `MaskedAutoencoderViT(**args)` builds, with LayerNorm epsilon `eps` and the
    /// masking the forward pass is given.
    pub const fn from_official(args: &MaeArgs, layer_norm_eps: f64, mask: MaskSpec) -> MaeSpec {
        MaeSpec {
            image: ImageSpec::square(args.img_size, args.in_chans),
            patch: args.patch_size,
            class_token: true,
            encoder: VitSpec {
                dim: args.embed_dim,
                depth: args.depth,
                heads: args.num_heads,
                mlp_ratio: args.mlp_ratio,
            },
            decoder: VitSpec {
                dim: args.decoder_embed_dim,
                depth: args.decoder_depth,
                heads: args.decoder_num_heads,
                mlp_ratio: args.mlp_ratio,
            },
            mask,
            target: Target::from_norm_pix_loss(args.norm_pix_loss),
            layer_norm_eps,
            secondary_rule: SecondaryRule::Smallest,
        }
    }

    /// The official constructor's arguments for this architecture, or an error naming what
    /// the official model cannot express (one `mlp_ratio` for both stacks, a class token,
    /// square images; the masking and epsilon are not constructor arguments).
    pub fn to_official(&self) -> Result<MaeArgs, ShapeError> {
        let unsupported = |what: &str| {
            ShapeError::new(Family::Mae, Rule::OfficialArgs)
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
        if self.image.height != self.image.width {
            return Err(unsupported("a non-square image"));
        }
        if let MaskSpec::Uniform {
            secondary: Some(_), ..
        } = self.mask
        {
            return Err(unsupported(
                "secondary masking (UM-MAE's ViT adds a vis_mask_token)",
            ));
        }
        Ok(MaeArgs {
            img_size: self.image.height,
            patch_size: self.patch,
            in_chans: self.image.channels,
            embed_dim: self.encoder.dim,
            depth: self.encoder.depth,
            num_heads: self.encoder.heads,
            decoder_embed_dim: self.decoder.dim,
            decoder_depth: self.decoder.depth,
            decoder_num_heads: self.decoder.heads,
            mlp_ratio: self.encoder.mlp_ratio,
            norm_pix_loss: self.target.is_norm_pix(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::MaeVitBasePatch16;
    use crate::Ratio;

    #[test]
    fn presets_round_trip_through_the_official_arguments() {
        let spec = MaeVitBasePatch16::SPEC;
        let args = spec.to_official().unwrap();
        assert_eq!((args.embed_dim, args.decoder_depth), (768, 8));
        assert!(args.norm_pix_loss);
        let back = MaeSpec::from_official(&args, FACTORY_LAYER_NORM_EPS, spec.mask);
        assert_eq!(back, spec);
        let no_cls = MaeSpec {
            class_token: false,
            ..spec
        };
        assert!(no_cls.to_official().is_err());
        let frac = MaeArgs {
            mlp_ratio: 2.5,
            embed_dim: 24,
            num_heads: 2,
            ..MaeArgs::default()
        };
        let mask = MaskSpec::Random {
            ratio: Ratio::of(3, 4),
        };
        let d = MaeSpec::from_official(&frac, 1e-5, mask)
            .validate()
            .unwrap();
        assert_eq!(d.encoder.mlp_hidden, 60);
    }
}
