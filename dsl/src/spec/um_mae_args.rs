//! The official constructor's view of UM-MAE on a plain ViT (implus/UM-MAE `models_mae.py`):
//! `MaskedAutoencoderViT(img_size, patch_size, in_chans, embed_dim, depth, num_heads,
//! decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio, norm_layer, norm_pix_loss,
//! asymmetric_decoder, mask_ratio, vis_mask_ratio)` — MAE's arguments plus the masking ones.
//! The masks themselves come from the data loader (uniform sampling at `mask_ratio` 0.75); a
//! positive `vis_mask_ratio` adds the `vis_mask_token` of secondary masking.
//!
//! A model read from these arguments reproduces the official code, quirk included: its
//! secondary masking follows [`SecondaryRule::OfficialVit`].
use super::error::{Family, Rule, ShapeError};
use super::mae::MaeSpec;
use super::mae_args::MaeArgs;
use super::mask::MaskSpec;
use crate::mask::uniform::SecondaryRule;
use crate::Ratio;

/// The official UM-MAE ViT constructor's arguments; absent ones take its defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct UmMaeArgs {
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
    /// Accepted and unused by the official model.
    pub asymmetric_decoder: bool,
    /// The loader's masking ratio; uniform sampling (`--mask_regular`) requires 0.75.
    pub mask_ratio: f64,
    /// Share of the visible tokens replaced by `vis_mask_token`; 0 = no secondary masking.
    pub vis_mask_ratio: f64,
}

impl Default for UmMaeArgs {
    fn default() -> Self {
        UmMaeArgs::from_mae(MaeArgs::default(), 0.0)
    }
}

impl UmMaeArgs {
    /// UM-MAE's constructor arguments: MAE's `mae`, the symmetric decoder and 3/4 uniform
    /// sampling UM-MAE always uses, and `vis_mask_ratio` of the visible tokens replaced.
    const fn from_mae(mae: MaeArgs, vis_mask_ratio: f64) -> UmMaeArgs {
        UmMaeArgs {
            img_size: mae.img_size,
            patch_size: mae.patch_size,
            in_chans: mae.in_chans,
            embed_dim: mae.embed_dim,
            depth: mae.depth,
            num_heads: mae.num_heads,
            decoder_embed_dim: mae.decoder_embed_dim,
            decoder_depth: mae.decoder_depth,
            decoder_num_heads: mae.decoder_num_heads,
            mlp_ratio: mae.mlp_ratio,
            norm_pix_loss: mae.norm_pix_loss,
            asymmetric_decoder: false,
            mask_ratio: 0.75,
            vis_mask_ratio,
        }
    }

    /// The architecture arguments MAE's constructor shares.
    pub fn mae(&self) -> MaeArgs {
        MaeArgs {
            img_size: self.img_size,
            patch_size: self.patch_size,
            in_chans: self.in_chans,
            embed_dim: self.embed_dim,
            depth: self.depth,
            num_heads: self.num_heads,
            decoder_embed_dim: self.decoder_embed_dim,
            decoder_depth: self.decoder_depth,
            decoder_num_heads: self.decoder_num_heads,
            mlp_ratio: self.mlp_ratio,
            norm_pix_loss: self.norm_pix_loss,
        }
    }
}

fn unsupported(what: &str) -> ShapeError {
    ShapeError::new(Family::Mae, Rule::OfficialArgs)
        .s(what)
        .done()
}

/// A ratio given as a float (`0.25`) as the exact fraction it denotes.
fn exact_ratio(value: f64, name: &str) -> Result<Ratio, ShapeError> {
    let mut text = alloc::string::String::new();
    core::fmt::write(&mut text, format_args!("{value}")).expect("a float formats");
    Ratio::parse(&text).map_err(|_| {
        ShapeError::new(Family::Mae, Rule::OfficialArgs)
            .s(name)
            .s(" ")
            .s(&text)
            .s(" is not a ratio strictly between 0 and 1 with at most 9 decimals")
            .done()
    })
}

impl MaeSpec {
    /// The spec `MaskedAutoencoderViT(**args)` of UM-MAE builds with LayerNorm epsilon `eps`:
    /// uniform sampling (3/4), secondary masking at `vis_mask_ratio` with the official rule.
    pub fn from_um_official(args: &UmMaeArgs, layer_norm_eps: f64) -> Result<MaeSpec, ShapeError> {
        if args.mask_ratio != 0.75 {
            return Err(unsupported(
                "UM-MAE's loader masks uniformly only at mask_ratio 0.75; its other (random, \
                 non-regular) masking is not supported",
            ));
        }
        let secondary = if args.vis_mask_ratio == 0.0 {
            None
        } else {
            Some(exact_ratio(args.vis_mask_ratio, "vis_mask_ratio")?)
        };
        let mask = MaskSpec::Uniform {
            ratio: Ratio::of(3, 4),
            secondary,
        };
        Ok(MaeSpec {
            secondary_rule: SecondaryRule::OfficialVit,
            ..MaeSpec::from_official(&args.mae(), layer_norm_eps, mask)
        })
    }

    /// The official UM-MAE constructor's arguments of a uniformly masked plain ViT, or an
    /// error naming what that code cannot express.
    pub fn to_um_official(&self) -> Result<UmMaeArgs, ShapeError> {
        let MaskSpec::Uniform { secondary, .. } = self.mask else {
            return Err(unsupported(
                "the official UM-MAE ViT masks uniformly (uniform(3 / 4) [+ secondary(r)])",
            ));
        };
        let plain = MaeSpec {
            mask: MaskSpec::Uniform {
                ratio: Ratio::of(3, 4),
                secondary: None,
            },
            ..*self
        };
        Ok(UmMaeArgs::from_mae(
            plain.to_official()?,
            secondary.map_or(0.0, Ratio::to_f64),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::UmVitBase224;

    #[test]
    fn um_vit_round_trips_through_the_official_arguments_with_the_official_rule() {
        let spec = UmVitBase224::SPEC;
        assert_eq!(spec.secondary_rule, SecondaryRule::Smallest);
        let args = spec.to_um_official().unwrap();
        assert_eq!((args.vis_mask_ratio, args.mask_ratio), (0.25, 0.75));
        assert_eq!((args.decoder_depth, args.decoder_embed_dim), (2, 512));
        let back = MaeSpec::from_um_official(&args, 1e-6).unwrap();
        // Everything but the rule, which says the official code's quirk applies.
        assert_eq!(back.secondary_rule, SecondaryRule::OfficialVit);
        assert_eq!(
            MaeSpec {
                secondary_rule: SecondaryRule::Smallest,
                ..back
            },
            spec
        );
        let plain = UmMaeArgs {
            vis_mask_ratio: 0.0,
            ..args
        };
        let s = MaeSpec::from_um_official(&plain, 1e-6).unwrap();
        assert!(matches!(
            s.mask,
            MaskSpec::Uniform {
                secondary: None,
                ..
            }
        ));
        let random = UmMaeArgs {
            mask_ratio: 0.6,
            ..args
        };
        assert_eq!(
            MaeSpec::from_um_official(&random, 1e-6).unwrap_err().rule(),
            Rule::OfficialArgs
        );
        let odd = UmMaeArgs {
            vis_mask_ratio: 1.5,
            ..args
        };
        assert!(MaeSpec::from_um_official(&odd, 1e-6)
            .unwrap_err()
            .as_str()
            .contains("vis_mask_ratio 1.5"));
        let random_mae = MaeSpec {
            mask: MaskSpec::Random {
                ratio: Ratio::of(3, 4),
            },
            ..spec
        };
        assert!(random_mae.to_um_official().is_err());
    }
}
