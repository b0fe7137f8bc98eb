//! The VideoMAE graph (`modeling_pretrain.py: PretrainVisionTransformer.forward` and the loss
//! of `engine_for_pretraining.py`): tubelet embedding, the fixed sinusoid table, the encoder on
//! the visible tubes (raster order, `x[~mask]`), `encoder_to_decoder` without bias, the decoder
//! on the visible tokens followed by one mask token per masked tube (each with its gathered
//! position row, no unshuffle), the head on the masked rows only, and the MSE against the
//! engine's target: the clip un-normalised with ImageNet's statistics, normalised per tubelet
//! and per channel with the epsilon added to the standard deviation.
use tessera_dsl::graph::{AdamWConfig, GResult, NodeId, ParamGroup};
use tessera_dsl::spec::{VideoMaeDims, VideoMaeSpec};

use super::block::stack;
use super::sinusoid::sinusoid_table_f32;
use crate::blocks::{layer_norm, linear, patch_embed_3d, Builder, Built, Linear, LinearInit};
use crate::blocks::{PatchInit, Scope};
use crate::model::{Extras, FeatureGraph, StepGraph, StepShape};
use crate::params::Init;

/// Names of the per-step inputs.
pub mod inputs {
    /// `[N, C, T, H, W]` f32 clips, normalised with ImageNet's mean and std per channel.
    pub const VIDEOS: &str = "videos";
    /// `[N, K]` u32: the visible tokens in raster order.
    pub const IDS_KEEP: &str = "ids_keep";
    /// `[N, M]` u32: the masked tokens in raster order (the decoder's last `M` rows).
    pub const IDS_MASKED: &str = "ids_masked";
}

/// The per-channel statistics the official loader normalises clips with and the engine undoes
/// before it builds the target (`timm.data.constants`, float32 as `torch.as_tensor` makes them).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Epsilon added to the per-tubelet standard deviation of the normalised target.
pub const TARGET_EPS: f64 = 1e-6;

/// VideoMAE's AdamW groups (`optim_factory.get_parameter_groups` with the model's
/// `no_weight_decay()`): no decay for 1-D parameters, biases and `mask_token` (MAE decays its
/// mask token; VideoMAE lists it among the exempt).
pub fn param_group(name: &str, shape: &[usize], cfg: &AdamWConfig) -> ParamGroup {
    let exempt = shape.len() <= 1 || name.ends_with(".bias") || name == "mask_token";
    ParamGroup {
        weight_decay: if exempt { 0.0 } else { cfg.weight_decay },
        lr_scale: 1.0,
    }
}

/// Tubelet embedding plus the sinusoid rows: `[N, L, D]` over every token.
fn embed(s: &mut Scope, spec: &VideoMaeSpec, d: &VideoMaeDims, videos: NodeId) -> GResult<NodeId> {
    let dim = d.encoder.dim;
    let x = patch_embed_3d(
        &mut s.pp("patch_embed"),
        videos,
        spec.tubelet,
        spec.patch,
        dim,
        PatchInit::Torch,
    )?;
    let table = sinusoid_table_f32(d.tokens, dim);
    let pos = s.constant_f32("pos_embed", &[1, d.tokens, dim], table)?;
    s.g().add(x, pos)
}

/// The encoder's blocks and final norm over `x [N, K, D]`.
fn encode(s: &mut Scope, spec: &VideoMaeSpec, d: &VideoMaeDims, x: NodeId) -> GResult<NodeId> {
    let x = stack(&mut s.pp("blocks"), x, &d.encoder, spec.layer_norm_eps)?;
    layer_norm(&mut s.pp("norm"), x, d.encoder.dim, spec.layer_norm_eps)
}

/// The engine's labels for every token, `[N, L, t·p·p·C]` (channel fastest): the clip
/// un-normalised to [0, 1], then (for `norm_pix`) each tubelet normalised per channel over its
/// `t·p·p` pixels as `(x − mean) / (sqrt(unbiased var) + 1e-6)`.
fn target(s: &mut Scope, spec: &VideoMaeSpec, d: &VideoMaeDims, videos: NodeId) -> GResult<NodeId> {
    let (c, t, p) = (spec.image.channels, spec.tubelet, spec.patch);
    let n = s.g().shape(videos)[0];
    let mean = s.constant_f32("target.mean", &[1, c, 1, 1, 1], IMAGENET_MEAN.to_vec())?;
    let std = s.constant_f32("target.std", &[1, c, 1, 1, 1], IMAGENET_STD.to_vec())?;
    let g = s.g();
    let x = g.mul(videos, std)?;
    let x = g.add(x, mean)?;
    // [N·C, T', t, H', p, W', p] → [N·C, T', H', W', t, p, p] → [N, L, C, t·p·p].
    let (tt, gh) = (d.slices, d.grid);
    let x = g.reshape(x, &[n * c, tt, t, gh, p, gh, p])?;
    let x = g.permute(x, &[0, 1, 3, 5, 2, 4, 6])?;
    let x = g.reshape(x, &[n, c, d.tokens, t * p * p])?;
    let x = g.permute(x, &[0, 2, 1, 3])?;
    let x = if spec.target.is_norm_pix() {
        g.norm_pix_with(x, TARGET_EPS, true)?
    } else {
        x
    };
    let x = g.permute(x, &[0, 1, 3, 2])?;
    g.reshape(x, &[n, d.tokens, d.pred_dim])
}

/// Builds the step graph for `shape` (`keep` visible tokens per clip, the rest masked).
pub fn build(
    spec: &VideoMaeSpec,
    d: &VideoMaeDims,
    shape: StepShape,
    extras: &Extras,
) -> GResult<(StepGraph, Built)> {
    let mut b = Builder::new();
    let mut s = b.root();
    let (n, l, k) = (shape.batch, d.tokens, shape.keep);
    let (dec, eps) = (d.decoder.dim, spec.layer_norm_eps);
    if k == 0 || k >= l {
        return Err(tessera_dsl::graph::GraphError::Argument {
            op: "videomae",
            message: format!(
                "a clip needs visible and masked tokens; {k} of {l} are visible \
                 (the official decoder returns only masked rows)"
            ),
        });
    }
    let m = l - k;
    let mask_token = s.param(
        "mask_token",
        &[1, 1, dec],
        Init::TruncNormal {
            std: 0.02,
            bound: 0.02,
        },
    )?;
    let img = spec.image;
    let g = s.g();
    let videos = g.input(
        inputs::VIDEOS,
        &[n, img.channels, spec.frames, img.height, img.width],
    )?;
    let ids_keep = g.index_input(inputs::IDS_KEEP, &[n, k])?;
    let ids_masked = g.index_input(inputs::IDS_MASKED, &[n, m])?;

    let mut enc = s.pp("encoder");
    let x = embed(&mut enc, spec, d, videos)?;
    let x = enc.g().gather_rows(x, ids_keep)?;
    let x = encode(&mut enc, spec, d, x)?;

    let to_dec = Linear::new(d.encoder.dim, dec, LinearInit::Torch).no_bias();
    let x = linear(&mut s.pp("encoder_to_decoder"), x, to_dec)?;
    let table = sinusoid_table_f32(l, dec);
    let pos = s.constant_f32("pos_embed", &[1, l, dec], table)?;
    let g = s.g();
    let pos_vis = g.gather_rows(pos, ids_keep)?;
    let pos_mask = g.gather_rows(pos, ids_masked)?;
    let vis = g.add(x, pos_vis)?;
    let masked = g.add(mask_token, pos_mask)?;
    let y = g.concat(&[vis, masked], 1)?;
    let mut decoder = s.pp("decoder");
    let y = stack(&mut decoder.pp("blocks"), y, &d.decoder, eps)?;
    let y = decoder.g().slice(y, 1, k, m)?;
    let y = layer_norm(&mut decoder.pp("norm"), y, dec, eps)?;
    let head = Linear::new(dec, d.pred_dim, LinearInit::Xavier);
    let pred = linear(&mut decoder.pp("head"), y, head)?;

    // nn.MSELoss over the masked rows: the mean of every squared difference.
    let labels = target(&mut s, spec, d, videos)?;
    let g = s.g();
    let labels = g.gather_rows(labels, ids_masked)?;
    let diff = g.sub(pred, labels)?;
    let sq = g.square(diff)?;
    let loss = g.mean_all(sq)?;
    let built = b.finish();
    let mut step = StepGraph::from_built(&built, shape, loss, pred, &Extras::None)?;
    step.add_extras_grouped(extras, &param_group)?;
    Ok((step, built))
}

/// The encoder over every token of `batch` clips; `mean` is the average of its final-norm
/// tokens (VideoMAE has no class token).
pub fn features(spec: &VideoMaeSpec, d: &VideoMaeDims, batch: usize) -> GResult<FeatureGraph> {
    let mut b = Builder::new();
    let mut s = b.root();
    let img = spec.image;
    let videos = s.g().input(
        inputs::VIDEOS,
        &[batch, img.channels, spec.frames, img.height, img.width],
    )?;
    let mut enc = s.pp("encoder");
    let x = embed(&mut enc, spec, d, videos)?;
    let x = encode(&mut enc, spec, d, x)?;
    let mean = enc.g().mean(x, 1, false)?;
    let built = b.finish();
    Ok(FeatureGraph {
        graph: built.graph,
        input: inputs::VIDEOS.to_string(),
        dim: d.encoder.dim,
        cls: None,
        mean,
        constants: built.constants,
    })
}
