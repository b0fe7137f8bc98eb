//! A checkpoint's `config` metadata — the official constructor's arguments as JSON — read as
//! the spec of the family whose constructor takes them. The family is told by the argument
//! names only that constructor has:
//!
//! - HiViT (`HiViTMaskedAutoencoder`): `stem_mlp_ratio`, `hifeat` or `rpe`;
//! - MixMIM (`MixMIM`): `decoder_dim` or `range_mask_ratio`, or `window_size` as a per-stage
//!   list;
//! - UM-MAE on Swin (`MaskedAutoencoderSwin`): `stride`, `posmlp_dim` or `window_size`;
//! - UM-MAE on ViT (UM-MAE's `MaskedAutoencoderViT`): `vis_mask_ratio` or `asymmetric_decoder`
//!   with MAE's `depth`;
//! - VideoMAE (`PretrainVisionTransformer`): `encoder_embed_dim`, `tubelet_size` or
//!   `decoder_num_classes` (with `num_frames`, `mask_ratio` and `normlize_target` beside them);
//! - M3AE (the Flax `MaskedMultimodalAutoencoder`'s resolved config): `text_vocab_size`;
//! - MAE (`MaskedAutoencoderViT`): everything else.
//!
//! Two keys that are not constructor arguments may travel inside the JSON and are taken out
//! first: `layer_norm_eps` (the constructors take a LayerNorm class) and, for MAE and HiViT,
//! `mask_ratio` (an argument of their forward pass, read as the spec's random-mask ratio;
//! MixMIM's arguments hold it as its mixing ratio).
use serde_json::{Map, Value};
use tessera_dsl::spec::{
    DecoderPositions, HiVitArgs, HiVitSpec, MaeArgs, MaeSpec, MaskSpec, MixMimArgs, MixMimSpec,
    ModelSpec, SecondaryRule, UmMaeArgs, UmSwinArgs, UmSwinSpec, VideoMaeArgs, VideoMaeSpec,
    CONSTRUCTOR_LAYER_NORM_EPS,
};
use tessera_dsl::Ratio;

/// Why a `config` could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// What the JSON was read as (`set of HiViTMaskedAutoencoder arguments`).
    pub what: &'static str,
    pub reason: String,
}

fn error(what: &'static str, reason: impl ToString) -> ConfigError {
    ConfigError {
        what,
        reason: reason.to_string(),
    }
}

/// The spec of the model `config` describes. `eps` (a `layer_norm_eps` metadata entry) wins
/// over one inside the JSON; without either, the constructors' `nn.LayerNorm` default 1e-5.
pub fn spec_from_config(json: &str, eps: Option<f64>) -> Result<ModelSpec, ConfigError> {
    const OBJECT: &str = "JSON object of constructor arguments";
    let value: Value = serde_json::from_str(json).map_err(|e| error(OBJECT, e))?;
    let Value::Object(mut args) = value else {
        return Err(error(OBJECT, "not an object"));
    };
    let eps_inside = match args.remove("layer_norm_eps") {
        None => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|e| e.is_finite() && *e > 0.0)
                .ok_or_else(|| error(OBJECT, format!("layer_norm_eps {v} is not positive")))?,
        ),
    };
    // M3AE (the Flax `MaskedMultimodalAutoencoder`): its resolved config names
    // `text_vocab_size`; Flax's LayerNorm epsilon is 1e-6.
    if args.contains_key("text_vocab_size") {
        const WHAT: &str = "M3AE configuration (MaskedMultimodalAutoencoder)";
        let mut config: crate::m3ae::M3aeConfig =
            serde_json::from_value(Value::Object(args)).map_err(|e| error(WHAT, e))?;
        config.layer_norm_eps = eps.or(eps_inside).unwrap_or(1e-6);
        return config
            .to_spec()
            .map(ModelSpec::M3ae)
            .map_err(|e| error(WHAT, e));
    }
    let eps = eps.or(eps_inside).unwrap_or(CONSTRUCTOR_LAYER_NORM_EPS);
    let has = |keys: &[&str]| keys.iter().any(|k| args.contains_key(*k));
    if has(&["stem_mlp_ratio", "hifeat", "rpe"]) {
        const WHAT: &str = "set of HiViTMaskedAutoencoder arguments";
        let mask = forward_mask_ratio(&mut args, WHAT)?;
        let args: HiVitArgs =
            serde_json::from_value(Value::Object(args)).map_err(|e| error(WHAT, e))?;
        let spec = HiVitSpec::from_official(&args, eps, mask).map_err(|e| error(WHAT, e))?;
        return Ok(ModelSpec::HiVit(spec));
    }
    if has(&["decoder_dim", "range_mask_ratio"])
        || args.get("window_size").is_some_and(Value::is_array)
    {
        const WHAT: &str = "set of MixMIM arguments";
        let mut args: MixMimArgs =
            serde_json::from_value(Value::Object(args)).map_err(|e| error(WHAT, e))?;
        args.layer_norm_eps = Some(eps);
        let spec = MixMimSpec::from_official(&args).map_err(|e| error(WHAT, e))?;
        return Ok(ModelSpec::MixMim(spec));
    }
    if has(&["stride", "posmlp_dim", "window_size"]) {
        const WHAT: &str = "set of UM-MAE MaskedAutoencoderSwin arguments";
        let mut args: UmSwinArgs =
            serde_json::from_value(Value::Object(args)).map_err(|e| error(WHAT, e))?;
        args.layer_norm_eps = Some(eps);
        let spec = UmSwinSpec::from_official(&args).map_err(|e| error(WHAT, e))?;
        return Ok(ModelSpec::UmSwin(spec));
    }
    if has(&["encoder_embed_dim", "tubelet_size", "decoder_num_classes"]) {
        const WHAT: &str = "set of VideoMAE PretrainVisionTransformer arguments";
        let mut args: VideoMaeArgs =
            serde_json::from_value(Value::Object(args)).map_err(|e| error(WHAT, e))?;
        args.layer_norm_eps = Some(eps);
        let spec = VideoMaeSpec::from_official(&args).map_err(|e| error(WHAT, e))?;
        return Ok(ModelSpec::VideoMae(spec));
    }
    if has(&["depths"]) {
        return Err(error(
            OBJECT,
            "it names `depths` but none of HiViT's `stem_mlp_ratio`, `hifeat`, `rpe` or UM-MAE \
             Swin's `stride`, `posmlp_dim`, `window_size`; no official constructor tessera \
             reads takes these arguments",
        ));
    }
    if has(&["vis_mask_ratio", "asymmetric_decoder"]) {
        const WHAT: &str = "set of UM-MAE MaskedAutoencoderViT arguments";
        let args: UmMaeArgs =
            serde_json::from_value(Value::Object(args)).map_err(|e| error(WHAT, e))?;
        let spec = MaeSpec::from_um_official(&args, eps).map_err(|e| error(WHAT, e))?;
        return Ok(ModelSpec::Mae(spec));
    }
    const WHAT: &str = "set of MaskedAutoencoderViT arguments";
    let mask = forward_mask_ratio(&mut args, WHAT)?;
    let args: MaeArgs = serde_json::from_value(Value::Object(args)).map_err(|e| error(WHAT, e))?;
    Ok(ModelSpec::Mae(MaeSpec::from_official(&args, eps, mask)))
}

/// `spec` as the official code runs it, quirks included (docs/official-quirks.md): what a
/// checkpoint written by the official code gets, whether its architecture comes from its
/// `config` or is named.
pub fn with_official_quirks(spec: ModelSpec) -> ModelSpec {
    match spec {
        ModelSpec::Mae(s) if matches!(s.mask, MaskSpec::Uniform { .. }) => {
            ModelSpec::Mae(MaeSpec {
                secondary_rule: SecondaryRule::OfficialVit,
                ..s
            })
        }
        ModelSpec::UmSwin(s) => ModelSpec::UmSwin(UmSwinSpec {
            decoder_positions: DecoderPositions::OfficialRaster,
            ..s
        }),
        other => other,
    }
}

/// The random mask of the forward pass's `mask_ratio`, taken out of `args` (official default
/// 0.75).
fn forward_mask_ratio(
    args: &mut Map<String, Value>,
    what: &'static str,
) -> Result<MaskSpec, ConfigError> {
    let ratio = match args.remove("mask_ratio") {
        None => Ratio::of(3, 4),
        Some(v) => {
            let text = v.as_f64().map(|r| r.to_string()).unwrap_or_default();
            Ratio::parse(&text).map_err(|e| error(what, format!("mask_ratio {v}: {e}")))?
        }
    };
    Ok(MaskSpec::Random { ratio })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_constructor_is_read_as_its_family() {
        let mae = r#"{"img_size": 32, "patch_size": 8, "embed_dim": 48, "depth": 2,
            "num_heads": 3, "decoder_embed_dim": 32, "decoder_depth": 1,
            "decoder_num_heads": 2, "norm_pix_loss": true}"#;
        let ModelSpec::Mae(s) = spec_from_config(mae, None).unwrap() else {
            panic!("an MAE")
        };
        assert_eq!(s.layer_norm_eps, 1e-5);
        assert_eq!(
            s.mask,
            MaskSpec::Random {
                ratio: Ratio::of(3, 4)
            }
        );

        let um = r#"{"img_size": 48, "patch_size": 8, "embed_dim": 32, "depth": 2,
            "num_heads": 4, "decoder_embed_dim": 32, "decoder_depth": 1,
            "decoder_num_heads": 4, "mlp_ratio": 4.0, "norm_pix_loss": true,
            "mask_ratio": 0.75, "vis_mask_ratio": 0.25, "layer_norm_eps": 1e-06}"#;
        let ModelSpec::Mae(s) = spec_from_config(um, None).unwrap() else {
            panic!("UM-MAE is the mae family")
        };
        assert_eq!(s.layer_norm_eps, 1e-6);
        assert_eq!(s.secondary_rule, SecondaryRule::OfficialVit);
        assert_eq!(
            s.mask,
            MaskSpec::Uniform {
                ratio: Ratio::of(3, 4),
                secondary: Some(Ratio::of(1, 4))
            }
        );
        // The metadata entry wins over the one inside the JSON.
        let ModelSpec::Mae(s) = spec_from_config(um, Some(2e-6)).unwrap() else {
            panic!()
        };
        assert_eq!(s.layer_norm_eps, 2e-6);

        let hivit = r#"{"img_size": 32, "patch_size": 8, "in_chans": 3, "embed_dim": 64,
            "depths": [1, 1, 2], "num_heads": 4, "stem_mlp_ratio": 3.0, "mlp_ratio": 4.0,
            "qkv_bias": true, "decoder_embed_dim": 32, "decoder_depth": 1,
            "decoder_num_heads": 4, "hifeat": true, "rpe": false, "ape": true,
            "patch_norm": true, "mask_ratio": 0.6, "layer_norm_eps": 1e-06}"#;
        let ModelSpec::HiVit(s) = spec_from_config(hivit, None).unwrap() else {
            panic!("a HiViT")
        };
        assert_eq!(
            s.mask,
            MaskSpec::Random {
                ratio: Ratio::of(3, 5)
            }
        );
        assert_eq!((s.main.depth, s.mlp_depths.as_slice()), (2, &[1, 1][..]));
        assert!(s.hifeat && !s.rpe && s.ape && s.patch_norm);

        // Unknown names are refused by the family's reader, naming the key.
        let typo = hivit.replace("\"hifeat\"", "\"hi_feat\"");
        let e = spec_from_config(&typo, None).unwrap_err();
        assert!(e.reason.contains("hi_feat"), "{e:?}");
        let swin_like = r#"{"depths": [2, 2, 6, 2], "window_size": 8}"#;
        // UM-MAE Swin's constructor: every other argument takes its official default.
        let ModelSpec::UmSwin(s) = spec_from_config(swin_like, None).unwrap() else {
            panic!("a UM-MAE Swin")
        };
        assert_eq!(s.decoder_positions, DecoderPositions::OfficialRaster);
        assert_eq!((s.stages.items[2].depth, s.stages.items[0].window), (6, 8));
        assert!(spec_from_config(r#"{"depths": [2, 2]}"#, None).is_err());
        assert!(spec_from_config("[1, 2]", None).is_err());
    }

    #[test]
    fn mixmim_arguments_are_read_as_mixmim() {
        let mixmim = r#"{"img_size": 64, "patch_size": 4, "in_chans": 3, "embed_dim": 16,
            "depths": [1, 1, 2, 1], "num_heads": [1, 2, 2, 4], "window_size": [4, 4, 4, 2],
            "mlp_ratio": 4, "qkv_bias": true, "patch_norm": true, "decoder_dim": 32,
            "decoder_depth": 1, "decoder_num_heads": 4, "norm_pix_loss": true,
            "range_mask_ratio": 0.0, "mask_ratio": 0.5, "layer_norm_eps": 1e-05}"#;
        let ModelSpec::MixMim(s) = spec_from_config(mixmim, None).unwrap() else {
            panic!("a MixMIM")
        };
        assert_eq!((s.ratio, s.layer_norm_eps), (Ratio::of(1, 2), 1e-5));
        assert_eq!((s.stages.items[3].dim, s.stages.items[3].window), (128, 2));
        // Per-stage windows alone say MixMIM (UM-MAE's Swin has one window for all stages);
        // the rest are the constructor's defaults.
        let ModelSpec::MixMim(s) =
            spec_from_config(r#"{"window_size": [7, 7, 14, 7]}"#, None).unwrap()
        else {
            panic!("a MixMIM")
        };
        assert_eq!((s.stages.items[0].dim, s.decoder.dim), (96, 512));
    }
}
