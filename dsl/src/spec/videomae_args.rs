//! The official constructor's view of a VideoMAE: `PretrainVisionTransformer(img_size,
//! patch_size, encoder_in_chans, encoder_num_classes, encoder_embed_dim, encoder_depth,
//! encoder_num_heads, decoder_num_classes, decoder_embed_dim, decoder_depth, decoder_num_heads,
//! mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate, drop_path_rate, norm_layer,
//! init_values, use_learnable_pos_emb, use_checkpoint, tubelet_size, num_classes, in_chans)`
//! (MCG-NJU/VideoMAE `modeling_pretrain.py`). A checkpoint's `config` metadata holds these names
//! and, beside them, what the constructor does not take: the LayerNorm epsilon
//! (`layer_norm_eps`), the clip length (`num_frames`), the tube-mask ratio (`mask_ratio`) and
//! the engine's target switch (`normlize_target`, spelled as the official flag is).
use super::error::{Family, Rule, ShapeError};
use super::image::ImageSpec;
use super::target::Target;
use super::videomae::VideoMaeSpec;
use super::vit::VitSpec;
use crate::Ratio;

/// Frames of the official pre-training clips (the encoder's patch embedding and position
/// table are built for 16; the constructor has no frame-count argument).
pub const OFFICIAL_FRAMES: usize = 16;
/// Tube-mask ratio of the official recipe (`--mask_ratio 0.9` in every Kinetics/SSv2 script).
pub const OFFICIAL_MASK_RATIO: f64 = 0.9;

/// The official constructor's arguments, plus the four values written beside them; absent ones
/// take the constructor's (or the recipe's) defaults.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct VideoMaeArgs {
    pub img_size: usize,
    pub patch_size: usize,
    pub encoder_in_chans: usize,
    pub encoder_num_classes: usize,
    pub encoder_embed_dim: usize,
    pub encoder_depth: usize,
    pub encoder_num_heads: usize,
    pub decoder_num_classes: usize,
    pub decoder_embed_dim: usize,
    pub decoder_depth: usize,
    pub decoder_num_heads: usize,
    pub mlp_ratio: f64,
    pub qkv_bias: bool,
    pub qk_scale: Option<f64>,
    pub drop_rate: f64,
    pub attn_drop_rate: f64,
    pub drop_path_rate: f64,
    pub init_values: f64,
    pub use_learnable_pos_emb: bool,
    pub use_checkpoint: bool,
    pub tubelet_size: usize,
    /// Ignored by the constructor ("avoid the error from create_fn in timm").
    pub num_classes: usize,
    /// Ignored by the constructor (`encoder_in_chans` is the one used).
    pub in_chans: usize,
    /// The LayerNorm epsilon of `norm_layer` (not a constructor argument): absent, the
    /// constructor's `nn.LayerNorm` default 1e-5.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub layer_norm_eps: Option<f64>,
    /// Frames per clip (`--num_frames`; the official encoder assumes 16).
    pub num_frames: usize,
    /// Tube-mask ratio (`--mask_ratio`).
    pub mask_ratio: f64,
    /// Per-patch, per-channel normalised target (`--normlize_target`, effectively always on).
    pub normlize_target: bool,
}

impl Default for VideoMaeArgs {
    fn default() -> Self {
        VideoMaeArgs {
            img_size: 224,
            patch_size: 16,
            encoder_in_chans: 3,
            encoder_num_classes: 0,
            encoder_embed_dim: 768,
            encoder_depth: 12,
            encoder_num_heads: 12,
            decoder_num_classes: 1536,
            decoder_embed_dim: 512,
            decoder_depth: 8,
            decoder_num_heads: 8,
            mlp_ratio: 4.0,
            qkv_bias: false,
            qk_scale: None,
            drop_rate: 0.0,
            attn_drop_rate: 0.0,
            drop_path_rate: 0.0,
            init_values: 0.0,
            use_learnable_pos_emb: false,
            use_checkpoint: false,
            tubelet_size: 2,
            num_classes: 0,
            in_chans: 0,
            layer_norm_eps: None,
            num_frames: OFFICIAL_FRAMES,
            mask_ratio: OFFICIAL_MASK_RATIO,
            normlize_target: true,
        }
    }
}

fn official(what: &str) -> ShapeError {
    ShapeError::new(Family::VideoMae, Rule::OfficialArgs)
        .s(what)
        .done()
}

impl VideoMaeSpec {
    /// The spec `PretrainVisionTransformer(**args)` builds, trained on `num_frames`-frame clips
    /// with tube masking at `mask_ratio`. Arguments that change the architecture in ways tessera
    /// does not build (no q/v bias, layer scale, a learned position table, a classifier head,
    /// a scaled attention, dropout) are refused by name rather than silently ignored.
    pub fn from_official(args: &VideoMaeArgs) -> Result<VideoMaeSpec, ShapeError> {
        if !args.qkv_bias {
            return Err(official(
                "qkv_bias false (no q_bias / v_bias) is not built; every released VideoMAE \
                 uses qkv_bias true",
            ));
        }
        if args.init_values != 0.0 {
            return Err(official(
                "init_values > 0 (layer scale gamma_1 / gamma_2) is not built; pre-training \
                 uses 0",
            ));
        }
        if args.use_learnable_pos_emb {
            return Err(official(
                "use_learnable_pos_emb is not built; pre-training uses the fixed sinusoid table",
            ));
        }
        if args.encoder_num_classes != 0 {
            return Err(official(
                "encoder_num_classes > 0 (a classifier on the encoder) is not built",
            ));
        }
        if args.qk_scale.is_some() {
            return Err(official("qk_scale other than head_dim^-0.5 is not built"));
        }
        if args.drop_rate != 0.0 || args.attn_drop_rate != 0.0 || args.drop_path_rate != 0.0 {
            return Err(official(
                "dropout and drop path are not built; pre-training uses none",
            ));
        }
        let pred = 3 * args.tubelet_size * args.patch_size * args.patch_size;
        if args.decoder_num_classes != pred {
            return Err(official(
                "decoder_num_classes must be 3 * tubelet_size * patch_size^2, as the official \
                 decoder asserts",
            ));
        }
        let text = alloc::format!("{}", args.mask_ratio);
        let ratio =
            Ratio::parse_any(&text).map_err(|_| official("mask_ratio is not a decimal ratio"))?;
        Ok(VideoMaeSpec {
            frames: args.num_frames,
            image: ImageSpec::square(args.img_size, args.encoder_in_chans),
            patch: args.patch_size,
            tubelet: args.tubelet_size,
            encoder: VitSpec {
                dim: args.encoder_embed_dim,
                depth: args.encoder_depth,
                heads: args.encoder_num_heads,
                mlp_ratio: args.mlp_ratio,
            },
            decoder: VitSpec {
                dim: args.decoder_embed_dim,
                depth: args.decoder_depth,
                heads: args.decoder_num_heads,
                mlp_ratio: args.mlp_ratio,
            },
            ratio,
            target: Target::from_norm_pix_loss(args.normlize_target),
            layer_norm_eps: args.layer_norm_eps.unwrap_or(1e-5),
        })
    }

    /// The official constructor's arguments (with the frame count, mask ratio, target switch and
    /// epsilon beside them), or what the official model cannot express.
    pub fn to_official(&self) -> Result<VideoMaeArgs, ShapeError> {
        if self.encoder.mlp_ratio != self.decoder.mlp_ratio {
            return Err(official(
                "the official PretrainVisionTransformer has one mlp_ratio for both stacks",
            ));
        }
        if self.image.height != self.image.width {
            return Err(official("the official model takes square frames"));
        }
        Ok(VideoMaeArgs {
            img_size: self.image.height,
            patch_size: self.patch,
            encoder_in_chans: self.image.channels,
            encoder_embed_dim: self.encoder.dim,
            encoder_depth: self.encoder.depth,
            encoder_num_heads: self.encoder.heads,
            decoder_num_classes: self.tubelet * self.patch * self.patch * self.image.channels,
            decoder_embed_dim: self.decoder.dim,
            decoder_depth: self.decoder.depth,
            decoder_num_heads: self.decoder.heads,
            mlp_ratio: self.encoder.mlp_ratio,
            qkv_bias: true,
            tubelet_size: self.tubelet,
            layer_norm_eps: Some(self.layer_norm_eps),
            num_frames: self.frames,
            mask_ratio: self.ratio.to_f64(),
            normlize_target: self.target.is_norm_pix(),
            ..VideoMaeArgs::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::VideoMaeBase;

    #[test]
    fn the_released_preset_round_trips_through_the_official_arguments() {
        let spec = VideoMaeBase::SPEC;
        let args = spec.to_official().unwrap();
        // pretrain_videomae_base_patch16_224 with the scripts' --decoder_depth 4.
        assert_eq!(
            (
                args.encoder_embed_dim,
                args.decoder_embed_dim,
                args.decoder_depth
            ),
            (768, 384, 4)
        );
        assert_eq!((args.decoder_num_classes, args.num_frames), (1536, 16));
        assert!(args.qkv_bias && args.normlize_target);
        assert_eq!(VideoMaeSpec::from_official(&args).unwrap(), spec);
    }

    #[test]
    fn what_is_not_built_is_refused_by_name() {
        let ok = VideoMaeBase::SPEC.to_official().unwrap();
        let cases = [
            (
                VideoMaeArgs {
                    qkv_bias: false,
                    ..ok.clone()
                },
                "qkv_bias",
            ),
            (
                VideoMaeArgs {
                    init_values: 0.1,
                    ..ok.clone()
                },
                "init_values",
            ),
            (
                VideoMaeArgs {
                    decoder_num_classes: 768,
                    ..ok.clone()
                },
                "decoder_num_classes",
            ),
            (
                VideoMaeArgs {
                    drop_path_rate: 0.1,
                    ..ok.clone()
                },
                "drop path",
            ),
        ];
        for (args, word) in cases {
            let e = VideoMaeSpec::from_official(&args).unwrap_err();
            assert_eq!(e.rule(), Rule::OfficialArgs);
            assert!(e.as_str().contains(word), "{e}");
        }
        // A mask ratio is read exactly: 0.75 is 3/4, not a float's neighbour.
        let r = VideoMaeSpec::from_official(&VideoMaeArgs {
            mask_ratio: 0.75,
            ..ok
        })
        .unwrap()
        .ratio;
        assert!(r.same_value(Ratio::of(3, 4)));
    }
}
