//! The MixMIM graph (Sense-X/MixMIM `models_mixmim.py: forward_encoder`, `forward_decoder`,
//! `forward_loss`): patch embedding with its norm, the two images of a pair mixed token by
//! token, the fixed sin-cos position table, four Swin stages without shifted windows whose
//! window attention is kept inside each token's source image, timm patch merging between
//! stages, the final norm; the decoder embeds the last-stage tokens, fills two branches with
//! the mask token (branch 1 where the token came from the partner, branch 2 where it is the
//! sample's own), runs ViT blocks and predicts every last-stage cell; the loss un-mixes the
//! branches so each image is reconstructed once over all its cells.
//!
//! The mixing, the branches and the un-mixing are row gathers by host-made index tables
//! (`batch.rs`): each output row is one source row copied, which is exactly what the
//! official `x·(1 − m) + x.flip(0)·m` computes for a 0/1 mask, and the gathers' gradients
//! scatter back the same way.
use tessera_dsl::graph::{GResult, NodeId};
use tessera_dsl::spec::{MixMimDims, MixMimSpec};

use crate::blocks::{
    layer_norm, linear, patch_embed_2d, patch_merging, pixel_target, sincos_table, swin_block,
    vit_stack, Activation, Builder, Built, Linear, LinearInit, Mlp, PatchInit, RelPos, Scope,
    SwinBlock, VitBlock, WindowAttention,
};
use crate::model::{Extras, FeatureGraph, StepGraph, StepShape};
use crate::params::Init;

/// What the official code subtracts from the attention logits of a pair of tokens that come
/// from different images (`attn - 1e30 * mask_new` in fp32). In f32 `s - 1e30` is `-1e30` for
/// any finite score, `exp(-1e30 - max)` is exactly 0 on both backends, and the value stays far
/// from overflow when the relative position bias is added to it; every row keeps at least its
/// own token, so no row is masked entirely.
pub const CROSS_IMAGE_LOGIT: f64 = -1e30;

/// Names of the per-step inputs.
pub mod inputs {
    /// `[N, C, H, W]` f32 images (already normalized).
    pub const IMGS: &str = "imgs";
    /// `[N·L1]` u32: the embedded token (row of `[N·L1, C0]`) each mixed token copies.
    pub const MIX_ROWS: &str = "mix_rows";
    /// `[2N·L4]` u32: the row of `[decoder_embed(tokens) (N·L4 rows); mask_token]` each
    /// decoder input row copies (branch 1 for samples `0..N`, branch 2 for `N..2N`).
    pub const DECODER_ROWS: &str = "decoder_rows";
    /// `[N·L4]` u32: the prediction row (of `[2N·L4, P]`) that reconstructs each cell of each
    /// image.
    pub const UNMIX_ROWS: &str = "unmix_rows";

    /// `[windows, w²]` f32 at `stage`: 1 where the token of a window comes from the partner
    /// image, in window-partition order (the mask is shared by the batch).
    pub fn sources(stage: usize) -> String {
        format!("sources.{stage}")
    }
}

/// Name of the all-ones loss weights (every cell of every image is reconstructed once).
const LOSS_WEIGHTS: &str = "loss_weights";

/// The model's own parameters, declared first as PyTorch lists them.
struct Own {
    abs_pos: NodeId,
    /// `(mask_token, decoder_pos_embed)`, when the graph has a decoder.
    decoder: Option<(NodeId, NodeId)>,
}

fn own_params(s: &mut Scope, d: &MixMimDims, decoder: bool) -> GResult<Own> {
    let (c0, dec) = (d.stage_dims[0], d.decoder.dim);
    // timm's trunc_normal_(std=.02) cuts at ±2 (absolute), far outside the normal's reach.
    let token = Init::TruncNormal {
        std: 0.02,
        bound: 2.0,
    };
    let mask_token = if decoder {
        Some(s.param("mask_token", &[1, 1, dec], token)?)
    } else {
        None
    };
    let abs_pos = sincos_table(s, "absolute_pos_embed", c0, d.stage_grids[0], false)?;
    let decoder = match mask_token {
        Some(tok) => Some((
            tok,
            sincos_table(s, "decoder_pos_embed", dec, d.mask_grid, false)?,
        )),
        None => None,
    };
    Ok(Own { abs_pos, decoder })
}

/// `[N, L1, C0]`: the patch embedding (conv + `patch_embed.norm`) in raster order.
fn embed(s: &mut Scope, spec: &MixMimSpec, d: &MixMimDims, imgs: NodeId) -> GResult<NodeId> {
    let c0 = d.stage_dims[0];
    let mut pe = s.pp("patch_embed");
    // timm's PatchEmbed conv keeps PyTorch's default init (the official `_init_weights`
    // touches Linear and LayerNorm only).
    let x = patch_embed_2d(
        &mut pe,
        imgs,
        spec.image.channels,
        spec.patch,
        c0,
        PatchInit::Torch,
    )?;
    layer_norm(&mut pe.pp("norm"), x, c0, spec.layer_norm_eps)
}

/// The additive attention mask `[windows, 1, w², w²]` of a stage from its per-window sources:
/// `CROSS_IMAGE_LOGIT · (a_i − a_j)²`, i.e. the official `1 − (m_i m_j + (1 − m_i)(1 − m_j))`
/// scaled, for sources `a` in {0, 1}.
fn cross_image_mask(s: &mut Scope, sources: NodeId) -> GResult<NodeId> {
    let g = s.g();
    let shape = g.shape(sources).to_vec();
    let (windows, len) = (shape[0], shape[1]);
    let rows = g.reshape(sources, &[windows, 1, len, 1])?;
    let cols = g.reshape(sources, &[windows, 1, 1, len])?;
    let differ = g.sub(rows, cols)?;
    let differ = g.square(differ)?;
    g.scale(differ, CROSS_IMAGE_LOGIT)
}

/// The four stages over `x [N, G, G, C0]` and the final norm: `[N, L4, C_last]`. `masks[s]`
/// is stage `s`'s cross-image attention mask (none when features are computed on unmixed
/// images).
fn stages(
    s: &mut Scope,
    spec: &MixMimSpec,
    d: &MixMimDims,
    mut x: NodeId,
    masks: &[Option<NodeId>],
) -> GResult<NodeId> {
    let n = s.g().shape(x)[0];
    let eps = spec.layer_norm_eps;
    let mut layers = s.pp("layers");
    for (st, stage) in spec.stages.as_slice().iter().enumerate() {
        let mut layer = layers.pp(st);
        let c = stage.dim;
        let block = SwinBlock {
            attn: WindowAttention {
                dim: c,
                heads: stage.heads,
                window: d.windows[st],
                shift: 0,
                rel_pos: RelPos::Table,
                init: LinearInit::Xavier,
            },
            mlp: Mlp {
                dim: c,
                hidden: d.stage_mlp_hidden[st],
                act: Activation::GeluErf,
                init: LinearInit::Xavier,
            },
            eps,
        };
        let mut blocks = layer.pp("blocks");
        for b in 0..stage.depth {
            x = swin_block(&mut blocks.pp(b), x, &block, masks[st])?;
        }
        drop(blocks);
        if st + 1 < d.num_stages {
            x = patch_merging(&mut layer.pp("downsample"), x, eps, LinearInit::Xavier)?;
        }
    }
    drop(layers);
    let last = d.num_stages - 1;
    let (g4, c4) = (d.stage_grids[last], d.stage_dims[last]);
    let x = s.g().reshape(x, &[n, g4 * g4, c4])?;
    layer_norm(&mut s.pp("norm"), x, c4, eps)
}

/// Builds the pre-training step graph for `shape` (`shape.batch` even).
pub fn build(
    spec: &MixMimSpec,
    d: &MixMimDims,
    shape: StepShape,
    extras: &Extras,
) -> GResult<(StepGraph, Built)> {
    let mut b = Builder::new();
    let mut s = b.root();
    let n = shape.batch;
    let (g0, c0) = (d.stage_grids[0], d.stage_dims[0]);
    let (l1, l4, dec) = (g0 * g0, d.mask_tokens, d.decoder.dim);
    let own = own_params(&mut s, d, true)?;
    let (mask_token, dec_pos) = own.decoder.expect("declared with a decoder");
    let img = spec.image;
    let g = s.g();
    let imgs = g.input(inputs::IMGS, &[n, img.channels, img.height, img.width])?;
    let mix_rows = g.index_input(inputs::MIX_ROWS, &[n * l1])?;
    let dec_rows = g.index_input(inputs::DECODER_ROWS, &[2 * n * l4])?;
    let unmix_rows = g.index_input(inputs::UNMIX_ROWS, &[n * l4])?;
    let mut sources = Vec::with_capacity(d.num_stages);
    for st in 0..d.num_stages {
        let w = d.windows[st];
        sources.push(g.input(&inputs::sources(st), &[d.window_counts[st], w * w])?);
    }
    let masks = sources
        .into_iter()
        .map(|src| cross_image_mask(&mut s, src).map(Some))
        .collect::<GResult<Vec<_>>>()?;

    // Encoder: embed, mix the pair token by token, add the fixed positions.
    let x = embed(&mut s, spec, d, imgs)?;
    let g = s.g();
    let x = g.reshape(x, &[n * l1, c0])?;
    let x = g.gather_rows(x, mix_rows)?;
    let x = g.reshape(x, &[n, l1, c0])?;
    let x = g.add(x, own.abs_pos)?;
    let x = g.reshape(x, &[n, g0, g0, c0])?;
    let z = stages(&mut s, spec, d, x, &masks)?;

    // Decoder: two branches per mixed sample, each with the mask token where the other image
    // is.
    let c4 = d.stage_dims[d.num_stages - 1];
    let y = linear(
        &mut s.pp("decoder_embed"),
        z,
        Linear::new(c4, dec, LinearInit::Xavier),
    )?;
    let g = s.g();
    let y = g.reshape(y, &[n * l4, dec])?;
    let tok = g.reshape(mask_token, &[1, dec])?;
    let table = g.concat(&[y, tok], 0)?;
    let y = g.gather_rows(table, dec_rows)?;
    let y = g.reshape(y, &[2 * n, l4, dec])?;
    let y = g.add(y, dec_pos)?;
    let block = VitBlock::of(&d.decoder, spec.layer_norm_eps, LinearInit::Xavier);
    let y = vit_stack(&mut s.pp("decoder_blocks"), y, d.decoder.depth, &block)?;
    let y = layer_norm(&mut s.pp("decoder_norm"), y, dec, spec.layer_norm_eps)?;
    let pred = linear(
        &mut s.pp("decoder_pred"),
        y,
        Linear::new(dec, d.pred_dim, LinearInit::Xavier),
    )?;

    // Loss: each image's cells from the branch that predicted them, against its own pixels,
    // averaged over every cell of every image.
    let ones = s.constant_f32(LOSS_WEIGHTS, &[n, l4], vec![1.0; n * l4])?;
    let g = s.g();
    let rec = g.reshape(pred, &[2 * n * l4, d.pred_dim])?;
    let rec = g.gather_rows(rec, unmix_rows)?;
    let rec = g.reshape(rec, &[n, l4, d.pred_dim])?;
    let target = pixel_target(g, imgs, d.pred_patch, spec.target)?;
    let loss = g.masked_mse(rec, target, ones)?;
    let built = b.finish();
    let step = StepGraph::from_built(&built, shape, loss, pred, extras)?;
    Ok((step, built))
}

/// The encoder over unmixed images (every token, no cross-image mask, as the official
/// fine-tuning model runs it); features = the mean of the final-norm last-stage tokens.
pub fn features(spec: &MixMimSpec, d: &MixMimDims, batch: usize) -> GResult<FeatureGraph> {
    let mut b = Builder::new();
    let mut s = b.root();
    let own = own_params(&mut s, d, false)?;
    let img = spec.image;
    let imgs = s
        .g()
        .input(inputs::IMGS, &[batch, img.channels, img.height, img.width])?;
    let (g0, c0) = (d.stage_grids[0], d.stage_dims[0]);
    let x = embed(&mut s, spec, d, imgs)?;
    let g = s.g();
    let x = g.add(x, own.abs_pos)?;
    let x = g.reshape(x, &[batch, g0, g0, c0])?;
    let x = stages(&mut s, spec, d, x, &[None; 4])?;
    let mean = s.g().mean(x, 1, false)?;
    let built = b.finish();
    Ok(FeatureGraph {
        graph: built.graph,
        input: inputs::IMGS.to_string(),
        dim: d.stage_dims[d.num_stages - 1],
        cls: None,
        mean,
        constants: built.constants,
    })
}
