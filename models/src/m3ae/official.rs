//! The official configuration of an M3AE, as a checkpoint's `config` metadata carries it: the
//! resolved `MaskedMultimodalAutoencoder.get_default_config()` (`emb_dim`, `depth`, ...), the
//! module's arguments (`text_vocab_size`, `image_output_dim`) and the training flags that
//! decide its shapes and loss (`patch_size`, `image_size`, `text_length` — the tokenizer's
//! `tokenizer_max_length` —, `image_loss_weight`, `text_loss_weight`), with Flax's LayerNorm
//! epsilon beside them. Absent keys take the official defaults.
use serde::{Deserialize, Serialize};
use tessera_dsl::spec::{ImageSpec, M3aeSpec, VitSpec};
use tessera_dsl::Ratio;

/// The official configuration (unknown keys are refused, so another family's arguments do not
/// read as an M3AE).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct M3aeConfig {
    pub model_type: Option<String>,
    pub emb_dim: usize,
    pub dec_emb_dim: usize,
    pub depth: usize,
    pub dec_depth: usize,
    pub num_heads: usize,
    pub dec_num_heads: usize,
    pub mlp_ratio: f64,
    pub output_head_depth: usize,
    pub att_drop: f64,
    pub drop: f64,
    pub drop_path: f64,
    pub image_mask_ratio: f64,
    pub text_mask_ratio: f64,
    pub use_type_embedding: bool,
    /// Required: the official module asserts it is positive.
    pub text_vocab_size: i64,
    /// `patch_size² · 3` for pixel targets.
    pub image_output_dim: usize,
    pub patch_size: usize,
    pub image_size: usize,
    pub text_length: usize,
    /// The batch the configuration was exported with (informative; not part of the model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    pub layer_norm_eps: f64,
    pub image_loss_weight: f64,
    pub text_loss_weight: f64,
}

impl Default for M3aeConfig {
    fn default() -> Self {
        M3aeConfig {
            model_type: None,
            emb_dim: 1024,
            dec_emb_dim: 512,
            depth: 24,
            dec_depth: 8,
            num_heads: 16,
            dec_num_heads: 16,
            mlp_ratio: 4.0,
            output_head_depth: 0,
            att_drop: 0.0,
            drop: 0.0,
            drop_path: 0.0,
            image_mask_ratio: 0.75,
            text_mask_ratio: 0.75,
            use_type_embedding: true,
            text_vocab_size: -1,
            image_output_dim: 768,
            patch_size: 16,
            image_size: 256,
            text_length: 64,
            batch_size: None,
            layer_norm_eps: 1e-6,
            image_loss_weight: 1.0,
            text_loss_weight: 0.1,
        }
    }
}

/// `get_transformer_by_config(model_type)`: the sizes a named model type sets.
fn apply_model_type(c: &mut M3aeConfig, name: &str) -> Result<(), String> {
    let (emb, depth, heads) = match name {
        "small" => (384, 12, 6),
        "base" => (768, 12, 12),
        "large" => (1024, 24, 16),
        "huge" => (1280, 32, 16),
        "debug" => (1024, 2, 16),
        other => return Err(format!("unknown model_type {other:?}")),
    };
    let dec_depth = if name == "debug" { 2 } else { 8 };
    (c.emb_dim, c.depth, c.num_heads) = (emb, depth, heads);
    (c.dec_emb_dim, c.dec_depth, c.dec_num_heads, c.mlp_ratio) = (512, dec_depth, 16, 4.0);
    Ok(())
}

fn ratio(what: &str, r: f64) -> Result<Ratio, String> {
    Ratio::parse_any(&format!("{r}")).map_err(|_| format!("{what} {r} is not a ratio"))
}

impl M3aeConfig {
    /// The spec this configuration builds (its shape rules are checked when the model is
    /// built), or what tessera's M3AE does not implement.
    pub fn to_spec(&self) -> Result<M3aeSpec, String> {
        let mut c = self.clone();
        if let Some(name) = c.model_type.clone() {
            apply_model_type(&mut c, &name)?;
        }
        if c.output_head_depth != 0 {
            return Err(format!(
                "output_head_depth {} (MLP output heads) is not supported; the released models \
                 use 0, a single Dense per head",
                c.output_head_depth
            ));
        }
        if c.att_drop != 0.0 || c.drop != 0.0 || c.drop_path != 0.0 {
            return Err(
                "dropout and drop-path are not supported (att_drop, drop and drop_path must be \
                 0, the official pre-training default)"
                    .into(),
            );
        }
        if c.text_vocab_size <= 0 {
            return Err("text_vocab_size must be set to a positive vocabulary size".into());
        }
        let pq = c.patch_size * c.patch_size;
        if pq == 0 || !c.image_output_dim.is_multiple_of(pq) {
            return Err(format!(
                "image_output_dim {} is not patch_size² ({pq}) times a channel count; only \
                 pixel targets are supported (not discretized VQGAN tokens)",
                c.image_output_dim
            ));
        }
        let vit = |dim, depth, heads| VitSpec {
            dim,
            depth,
            heads,
            mlp_ratio: c.mlp_ratio,
        };
        Ok(M3aeSpec {
            image: ImageSpec {
                height: c.image_size,
                width: c.image_size,
                channels: c.image_output_dim / pq.max(1),
            },
            patch: c.patch_size,
            text_len: c.text_length,
            vocab: c.text_vocab_size as usize,
            encoder: vit(c.emb_dim, c.depth, c.num_heads),
            decoder: vit(c.dec_emb_dim, c.dec_depth, c.dec_num_heads),
            image_ratio: ratio("image_mask_ratio", c.image_mask_ratio)?,
            text_ratio: ratio("text_mask_ratio", c.text_mask_ratio)?,
            layer_norm_eps: c.layer_norm_eps,
            type_embedding: c.use_type_embedding,
            image_loss_weight: c.image_loss_weight,
            text_loss_weight: c.text_loss_weight,
        })
    }

    /// The official configuration of `spec`, when the official code can build it (one whole
    /// `mlp_ratio` for encoder and decoder).
    pub fn of(spec: &M3aeSpec) -> Option<M3aeConfig> {
        let p = spec.patch;
        let r = spec.encoder.mlp_ratio;
        if r != spec.decoder.mlp_ratio || r.fract() != 0.0 {
            return None;
        }
        Some(M3aeConfig {
            model_type: None,
            emb_dim: spec.encoder.dim,
            dec_emb_dim: spec.decoder.dim,
            depth: spec.encoder.depth,
            dec_depth: spec.decoder.depth,
            num_heads: spec.encoder.heads,
            dec_num_heads: spec.decoder.heads,
            mlp_ratio: spec.encoder.mlp_ratio,
            image_mask_ratio: spec.image_ratio.to_f64(),
            text_mask_ratio: spec.text_ratio.to_f64(),
            use_type_embedding: spec.type_embedding,
            text_vocab_size: spec.vocab as i64,
            image_output_dim: p * p * spec.image.channels,
            patch_size: p,
            image_size: spec.image.height,
            text_length: spec.text_len,
            layer_norm_eps: spec.layer_norm_eps,
            image_loss_weight: spec.image_loss_weight,
            text_loss_weight: spec.text_loss_weight,
            ..M3aeConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_dsl::presets::M3aeBase;

    /// The configuration the official fixture's checkpoint carries.
    const FIXTURE: &str = r#"{"att_drop": 0.0, "dec_depth": 1, "dec_emb_dim": 32,
        "dec_num_heads": 4, "depth": 2, "drop": 0.0, "drop_path": 0.0, "emb_dim": 48,
        "image_mask_ratio": 0.75, "mlp_ratio": 4, "model_type": null, "num_heads": 3,
        "output_head_depth": 0, "text_mask_ratio": 0.75, "use_type_embedding": true,
        "text_vocab_size": 100, "image_output_dim": 192, "patch_size": 8, "image_size": 32,
        "text_length": 12, "batch_size": 2, "layer_norm_eps": 1e-06, "image_loss_weight": 1.0,
        "text_loss_weight": 0.1}"#;

    #[test]
    fn the_fixture_config_reads_as_its_spec_and_back() {
        let c: M3aeConfig = serde_json::from_str(FIXTURE).unwrap();
        let s = c.to_spec().unwrap();
        let d = s.validate().unwrap();
        assert_eq!((d.image_tokens, d.image_keep, d.text_keep), (16, 4, 3));
        assert_eq!((s.image.channels, s.vocab, d.patch_dim), (3, 100, 192));
        assert_eq!((s.encoder.heads, s.decoder.dim), (3, 32));
        assert_eq!(s.text_loss_weight, 0.1);
        let back = M3aeConfig::of(&s).unwrap();
        assert_eq!(back.to_spec().unwrap(), s);
    }

    #[test]
    fn a_model_type_sets_the_released_sizes() {
        let c = M3aeConfig {
            model_type: Some("base".into()),
            text_vocab_size: 30522,
            ..M3aeConfig::default()
        };
        assert_eq!(c.to_spec().unwrap(), M3aeBase::SPEC);
    }

    #[test]
    fn what_is_not_built_is_refused_by_name() {
        for (c, word) in [
            (
                r#"{"text_vocab_size": 10, "output_head_depth": 1}"#,
                "output_head_depth",
            ),
            (r#"{"text_vocab_size": 10, "drop_path": 0.1}"#, "drop_path"),
            (r#"{}"#, "text_vocab_size"),
            (
                r#"{"text_vocab_size": 10, "image_output_dim": 1000}"#,
                "VQGAN",
            ),
        ] {
            let c: M3aeConfig = serde_json::from_str(c).unwrap();
            let e = c.to_spec().unwrap_err();
            assert!(e.contains(word), "{e}");
        }
        assert!(serde_json::from_str::<M3aeConfig>(r#"{"img_size": 224}"#).is_err());
    }
}
