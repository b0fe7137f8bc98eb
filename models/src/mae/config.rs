//! The MAE architecture under the official constructor's argument names
//! (`MaskedAutoencoderViT(img_size, patch_size, in_chans, embed_dim, depth, num_heads,
//! decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio, norm_pix_loss)`), the official
//! factories by name, and the sizes derived from them.
use serde::{Deserialize, Serialize};
use tessera_dsl::spec::{MaeArgs, MaeSpec};
use tessera_dsl::{presets, ModelSpec, Ratio};

/// LayerNorm epsilon of `MaskedAutoencoderViT(**config)`: its `norm_layer` default is
/// `nn.LayerNorm`, whose eps is 1e-5.
pub const CONSTRUCTOR_LAYER_NORM_EPS: f64 = 1e-5;
/// LayerNorm epsilon of the official factories (`partial(nn.LayerNorm, eps=1e-6)`), which every
/// released checkpoint was trained with.
pub const FACTORY_LAYER_NORM_EPS: f64 = 1e-6;

/// An MAE (plain ViT) architecture. The serialized form is exactly the official constructor's
/// keyword arguments, so `MaskedAutoencoderViT(**json.loads(config))` builds it in PyTorch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaeConfig {
    #[serde(default = "d_img_size")]
    pub img_size: usize,
    #[serde(default = "d_patch_size")]
    pub patch_size: usize,
    #[serde(default = "d_in_chans")]
    pub in_chans: usize,
    #[serde(default = "d_embed_dim")]
    pub embed_dim: usize,
    #[serde(default = "d_depth")]
    pub depth: usize,
    #[serde(default = "d_num_heads")]
    pub num_heads: usize,
    #[serde(default = "d_decoder_embed_dim")]
    pub decoder_embed_dim: usize,
    #[serde(default = "d_decoder_depth")]
    pub decoder_depth: usize,
    #[serde(default = "d_decoder_num_heads")]
    pub decoder_num_heads: usize,
    #[serde(default = "d_mlp_ratio")]
    pub mlp_ratio: f64,
    #[serde(default)]
    pub norm_pix_loss: bool,
    /// Not a constructor argument (the constructor takes a `norm_layer` class): travels in the
    /// checkpoint metadata as `layer_norm_eps`, next to `config`.
    #[serde(skip, default = "d_eps")]
    pub layer_norm_eps: f64,
}

// The official constructor's defaults (models_mae.py l.24-27).
fn d_img_size() -> usize {
    224
}
fn d_patch_size() -> usize {
    16
}
fn d_in_chans() -> usize {
    3
}
fn d_embed_dim() -> usize {
    1024
}
fn d_depth() -> usize {
    24
}
fn d_num_heads() -> usize {
    16
}
fn d_decoder_embed_dim() -> usize {
    512
}
fn d_decoder_depth() -> usize {
    8
}
fn d_decoder_num_heads() -> usize {
    16
}
fn d_mlp_ratio() -> f64 {
    4.0
}
fn d_eps() -> f64 {
    CONSTRUCTOR_LAYER_NORM_EPS
}

/// A configuration that the model cannot be built from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("MAE config is not valid JSON with the official argument names: {0}")]
    Json(String),
    #[error("MAE config: {what} must be positive")]
    Zero { what: &'static str },
    #[error("MAE config: img_size {img_size} is not a multiple of patch_size {patch_size}")]
    Patch { img_size: usize, patch_size: usize },
    #[error("MAE config: {what} {dim} is not divisible by {heads} heads")]
    Heads {
        what: &'static str,
        dim: usize,
        heads: usize,
    },
    #[error("MAE config: {what} {dim} must be a multiple of 4 for the 2-D sin-cos table")]
    SinCos { what: &'static str, dim: usize },
    #[error("MAE config: mlp_ratio {0} gives an empty MLP")]
    Mlp(f64),
    #[error("MAE config: layer_norm_eps {0} must be a positive finite number")]
    Eps(f64),
    #[error("unknown MAE model `{name}`; known: {known}")]
    UnknownModel { name: String, known: String },
    #[error("MAE spec: {0}")]
    Spec(String),
}

/// Sizes that follow from a valid [`MaeConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaeDims {
    /// Patches per side, `img_size / patch_size`.
    pub grid: usize,
    /// Patch tokens `L = grid²`.
    pub num_patches: usize,
    /// Values per patch `p·p·C` (input of patch_embed, output of decoder_pred).
    pub patch_dim: usize,
    /// Hidden width of the encoder MLP, `int(embed_dim · mlp_ratio)` as timm computes it.
    pub mlp_hidden: usize,
    /// Hidden width of the decoder MLP.
    pub decoder_mlp_hidden: usize,
}

impl MaeConfig {
    /// A preset of `tessera_dsl::presets` by name: the official factories
    /// (`mae_vit_base_patch16`, `mae_vit_large_patch16`, `mae_vit_huge_patch14`, also with their
    /// `_dec512d8b` suffix) and tessera's small ones (`mae_tiny_32`, `mae_fmnist_small`). Their
    /// LayerNorms use eps 1e-6, as the official factories do.
    pub fn preset(name: &str) -> Result<MaeConfig, ConfigError> {
        let base = name.strip_suffix("_dec512d8b").unwrap_or(name);
        let unknown = || {
            let known: Vec<&str> = presets::ALL
                .iter()
                .filter(|(_, s)| matches!(s, ModelSpec::Mae(_)))
                .map(|(n, _)| *n)
                .collect();
            ConfigError::UnknownModel {
                name: name.to_string(),
                known: known.join(", "),
            }
        };
        let Some(ModelSpec::Mae(spec)) = presets::by_name(base) else {
            return Err(unknown());
        };
        let args = spec
            .to_args()
            .map_err(|e| ConfigError::Spec(e.to_string()))?;
        Ok(MaeConfig::from_args(&args, FACTORY_LAYER_NORM_EPS))
    }

    /// The model that `MaskedAutoencoderViT(**args)` builds with LayerNorm epsilon `eps` (the
    /// mask ratio is a forward argument, not part of the model).
    pub fn from_args(args: &MaeArgs, eps: f64) -> MaeConfig {
        MaeConfig {
            img_size: args.img_size,
            patch_size: args.patch_size,
            in_chans: args.in_chans,
            embed_dim: args.embed_dim,
            depth: args.depth,
            num_heads: args.num_heads,
            decoder_embed_dim: args.decoder_embed_dim,
            decoder_depth: args.decoder_depth,
            decoder_num_heads: args.decoder_num_heads,
            mlp_ratio: args.mlp_ratio,
            norm_pix_loss: args.norm_pix_loss,
            layer_norm_eps: eps,
        }
    }

    /// The DSL spec of this model with random masking at `mask_ratio`, checked by the spec's
    /// shape rules (which need a whole `mlp_ratio`; the official code also allows fractions).
    pub fn to_spec(&self, mask_ratio: Ratio) -> Result<MaeSpec, ConfigError> {
        let args = MaeArgs {
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
            mask_ratio,
        };
        MaeSpec::from_args(&args).map_err(|e| ConfigError::Spec(e.to_string()))
    }

    /// `MaskedAutoencoderViT()` with no arguments.
    pub fn constructor_defaults() -> MaeConfig {
        serde_json::from_str("{}").expect("every field has a default")
    }

    /// Parses the `config` metadata JSON; `layer_norm_eps` is the constructor's (1e-5) unless
    /// the caller sets it from the file's `layer_norm_eps` metadata.
    pub fn from_json(text: &str) -> Result<MaeConfig, ConfigError> {
        serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))
    }

    /// The `config` metadata JSON (constructor arguments only).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain struct serializes")
    }

    /// Checks the shape rules and returns the derived sizes.
    pub fn validate(&self) -> Result<MaeDims, ConfigError> {
        let positive = [
            ("img_size", self.img_size),
            ("patch_size", self.patch_size),
            ("in_chans", self.in_chans),
            ("embed_dim", self.embed_dim),
            ("num_heads", self.num_heads),
            ("decoder_embed_dim", self.decoder_embed_dim),
            ("decoder_num_heads", self.decoder_num_heads),
        ];
        for (what, v) in positive {
            if v == 0 {
                return Err(ConfigError::Zero { what });
            }
        }
        if !self.img_size.is_multiple_of(self.patch_size) {
            return Err(ConfigError::Patch {
                img_size: self.img_size,
                patch_size: self.patch_size,
            });
        }
        for (what, dim, heads) in [
            ("embed_dim", self.embed_dim, self.num_heads),
            (
                "decoder_embed_dim",
                self.decoder_embed_dim,
                self.decoder_num_heads,
            ),
        ] {
            if !dim.is_multiple_of(heads) {
                return Err(ConfigError::Heads { what, dim, heads });
            }
            if !dim.is_multiple_of(4) {
                return Err(ConfigError::SinCos { what, dim });
            }
        }
        let mlp_hidden = mlp_width(self.embed_dim, self.mlp_ratio);
        let decoder_mlp_hidden = mlp_width(self.decoder_embed_dim, self.mlp_ratio);
        if !self.mlp_ratio.is_finite() || mlp_hidden == 0 || decoder_mlp_hidden == 0 {
            return Err(ConfigError::Mlp(self.mlp_ratio));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(ConfigError::Eps(self.layer_norm_eps));
        }
        let grid = self.img_size / self.patch_size;
        Ok(MaeDims {
            grid,
            num_patches: grid * grid,
            patch_dim: self.patch_size * self.patch_size * self.in_chans,
            mlp_hidden,
            decoder_mlp_hidden,
        })
    }
}

/// timm's `Mlp` width: `int(dim * mlp_ratio)` (truncation toward zero).
fn mlp_width(dim: usize, ratio: f64) -> usize {
    let w = dim as f64 * ratio;
    if w.is_finite() && w > 0.0 {
        w as usize
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_the_official_names_and_defaults() {
        let text = r#"{"img_size": 32, "patch_size": 8, "in_chans": 3, "embed_dim": 48,
            "depth": 2, "num_heads": 3, "decoder_embed_dim": 32, "decoder_depth": 1,
            "decoder_num_heads": 2, "mlp_ratio": 4.0, "norm_pix_loss": true}"#;
        let c = MaeConfig::from_json(text).unwrap();
        assert_eq!(
            (c.embed_dim, c.decoder_num_heads, c.norm_pix_loss),
            (48, 2, true)
        );
        assert_eq!(c.layer_norm_eps, CONSTRUCTOR_LAYER_NORM_EPS);
        let d = c.validate().unwrap();
        assert_eq!(
            (d.grid, d.num_patches, d.patch_dim, d.mlp_hidden),
            (4, 16, 192, 192)
        );
        assert_eq!(MaeConfig::from_json(&c.to_json()).unwrap(), c);
        // Absent keys take the constructor's defaults.
        let partial = MaeConfig::from_json(r#"{"embed_dim": 64}"#).unwrap();
        assert_eq!(
            (partial.img_size, partial.depth, partial.embed_dim),
            (224, 24, 64)
        );
        let err = MaeConfig::from_json(r#"{"embed_dims": 64}"#).unwrap_err();
        assert!(err.to_string().contains("embed_dims"), "{err}");
    }

    #[test]
    fn presets_match_the_official_table() {
        let b = MaeConfig::preset("mae_vit_base_patch16").unwrap();
        let d = b.validate().unwrap();
        assert_eq!((d.num_patches, d.patch_dim, d.mlp_hidden), (196, 768, 3072));
        assert_eq!(b.layer_norm_eps, 1e-6);
        assert_eq!(
            MaeConfig::preset("mae_vit_base_patch16_dec512d8b").unwrap(),
            b
        );
        let spec = b.to_spec(Ratio::of(3, 4)).unwrap().validate().unwrap();
        assert_eq!((spec.keep, spec.pred_dim), (49, 768));
        let h = MaeConfig::preset("mae_vit_huge_patch14").unwrap();
        assert_eq!(
            (h.validate().unwrap().patch_dim, h.embed_dim, h.depth),
            (588, 1280, 32)
        );
        let t = MaeConfig::preset("mae_tiny_32")
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!((t.num_patches, t.patch_dim), (64, 48));
        let f = MaeConfig::preset("mae_fmnist_small")
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!((f.num_patches, f.patch_dim), (49, 16));
        let err = MaeConfig::preset("mae_vit_tiny").unwrap_err().to_string();
        assert!(
            err.contains("mae_vit_tiny") && err.contains("mae_tiny_32"),
            "{err}"
        );
    }

    #[test]
    fn shape_rules_are_checked() {
        let base = MaeConfig::preset("mae_tiny_32").unwrap();
        let bad = MaeConfig {
            img_size: 30,
            ..base.clone()
        };
        assert!(matches!(bad.validate(), Err(ConfigError::Patch { .. })));
        let bad = MaeConfig {
            num_heads: 5,
            ..base.clone()
        };
        assert!(matches!(bad.validate(), Err(ConfigError::Heads { .. })));
        let bad = MaeConfig {
            decoder_embed_dim: 6,
            decoder_num_heads: 2,
            ..base.clone()
        };
        assert!(matches!(bad.validate(), Err(ConfigError::SinCos { .. })));
        let odd = MaeConfig {
            mlp_ratio: 2.5,
            embed_dim: 24,
            num_heads: 2,
            ..base
        };
        assert_eq!(odd.validate().unwrap().mlp_hidden, 60);
    }
}
