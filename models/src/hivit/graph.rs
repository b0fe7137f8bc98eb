//! The HiViT MAE graph (zhangxiaosong18/hivit `models_hivit_mae.py` with `models_hivit.py`)
//! from the block library, parameters declared in the official state-dict order.
//!
//! Encoder: the inner-patch embedding `[N, L, 4, 4, D/4]`; the kept patches gathered right
//! away (no stage before the main one mixes patches); per MLP stage `2·depth` MLP-only blocks
//! and a patch merging inside each patch (`blocks.0`, `blocks.1`, ... numbered across stages
//! as in the official list); one token per patch plus the trainable `absolute_pos_embed`
//! (gathered by the same ids); the main stage of ViT blocks over the kept tokens. With
//! `hifeat` the decoder reads `norm(cat(stage features entering each merge, final token))`,
//! else the final token as it is (the official code then leaves `norm` unused). Decoder: MAE's
//! without a class token. Linear layers start trunc-normal(0.02), as HiViT's `_init_weights`.
use tessera_dsl::graph::{GResult, NodeId};
use tessera_dsl::spec::{HiVitDims, HiVitSpec};

use crate::blocks::{
    inner_patch_embed, layer_norm, linear, mlp_block, patch_merging, pixel_target, sincos_table,
    vit_block, Activation, Attention, Builder, Built, InnerPatchEmbed, Linear, LinearInit, Mlp,
    Scope, VitBlock,
};
use crate::mae::inputs;
use crate::model::{Extras, FeatureGraph, StepGraph, StepShape};
use crate::params::Init;

/// HiViT's `_init_weights` for every Linear layer.
const INIT: LinearInit = LinearInit::TruncNormal(0.02);

/// The model's own parameters, declared first as PyTorch lists them.
struct Own {
    /// `absolute_pos_embed` `[1, L, D]`, when `ape`.
    pos: Option<NodeId>,
    /// `(mask_token, decoder_pos_embed)`, when the graph has a decoder.
    decoder: Option<(NodeId, NodeId)>,
}

fn own_params(s: &mut Scope, spec: &HiVitSpec, d: &HiVitDims, decoder: bool) -> GResult<Own> {
    let sincos = Init::SinCos2d {
        dim: d.main.dim,
        grid: d.grid,
        cls: false,
    };
    let pos = if spec.ape {
        // Trainable in the official code (its `requires_grad=False` reaches `torch.zeros`, not
        // the Parameter), starting from the sin-cos table.
        Some(s.param("absolute_pos_embed", &[1, d.tokens, d.main.dim], sincos)?)
    } else {
        None
    };
    let decoder = if decoder {
        let mask_token = s.param(
            "mask_token",
            &[1, 1, d.decoder.dim],
            Init::Normal { std: 0.02 },
        )?;
        let dec_pos = sincos_table(s, "decoder_pos_embed", d.decoder.dim, d.grid, false)?;
        Some((mask_token, dec_pos))
    } else {
        None
    };
    Ok(Own { pos, decoder })
}

/// What the encoder produces for `K` patches.
struct Encoded {
    /// The main stage's output `[N, K, D]`.
    tokens: NodeId,
    /// Each MLP stage's tensor as it enters its merge, `[N, K, inner_s² · C_s]` flattened
    /// (row, column, channel).
    stages: Vec<NodeId>,
}

fn block(dim: usize, heads: usize, mlp_hidden: usize, spec: &HiVitSpec) -> VitBlock {
    VitBlock {
        attn: Attention {
            dim,
            heads,
            qkv_bias: spec.qkv_bias,
            init: INIT,
        },
        mlp: Mlp {
            dim,
            hidden: mlp_hidden,
            act: Activation::GeluErf,
            init: INIT,
        },
        eps: spec.layer_norm_eps,
    }
}

/// The encoder over the patches `ids_keep` lists (all of them, in raster order, without).
fn encoder(
    s: &mut Scope,
    spec: &HiVitSpec,
    d: &HiVitDims,
    own: &Own,
    imgs: NodeId,
    ids_keep: Option<NodeId>,
    n: usize,
) -> GResult<Encoded> {
    let eps = spec.layer_norm_eps;
    let inner = spec.inner_patches;
    let c0 = d.stage_dims[0];
    let embed = InnerPatchEmbed {
        channels: spec.image.channels,
        patch: spec.patch,
        inner,
        dim: c0,
        norm_eps: spec.patch_norm.then_some(eps),
    };
    let x = inner_patch_embed(&mut s.pp("patch_embed"), imgs, embed)?; // [N, L, in, in, C0]
    let g = s.g();
    let (x, k) = match ids_keep {
        Some(ids) => {
            let x = g.reshape(x, &[n, d.tokens, inner * inner * c0])?;
            let k = g.shape(ids)[1];
            (g.gather_rows(x, ids)?, k)
        }
        None => (x, d.tokens),
    };
    // The MLP stages work on every sub-token of every kept patch: [N·K, in, in, C].
    let mut x = g.reshape(x, &[n * k, inner, inner, c0])?;
    let mut stages = Vec::with_capacity(d.mlp_stages);
    let mut index = 0;
    let mut blocks = s.pp("blocks");
    for st in 0..d.mlp_stages {
        let (c, side) = (d.stage_dims[st], d.inner_grids[st]);
        let m = Mlp {
            dim: c,
            hidden: d.stage_mlp_hidden[st],
            act: Activation::GeluErf,
            init: INIT,
        };
        for _ in 0..d.stage_blocks[st] {
            x = mlp_block(&mut blocks.pp(index), x, m, eps)?;
            index += 1;
        }
        stages.push(blocks.g().reshape(x, &[n, k, side * side * c])?);
        x = patch_merging(&mut blocks.pp(index), x, eps, INIT)?;
        index += 1;
    }
    let dim = d.main.dim;
    let g = blocks.g();
    let mut x = g.reshape(x, &[n, k, dim])?;
    if let Some(pos) = own.pos {
        let pos = match ids_keep {
            Some(ids) => g.gather_rows(pos, ids)?,
            None => pos,
        };
        x = g.add(x, pos)?;
    }
    let main = block(dim, d.main.heads, d.main.mlp_hidden, spec);
    for _ in 0..d.main.depth {
        x = vit_block(&mut blocks.pp(index), x, &main, None)?;
        index += 1;
    }
    Ok(Encoded { tokens: x, stages })
}

/// Builds the step graph for `shape` (`shape.keep >= 1`).
pub fn build(
    spec: &HiVitSpec,
    d: &HiVitDims,
    shape: StepShape,
    extras: &Extras,
) -> GResult<(StepGraph, Built)> {
    let mut b = Builder::new();
    let mut s = b.root();
    let (n, l, k) = (shape.batch, d.tokens, shape.keep);
    let dec = d.decoder.dim;
    let eps = spec.layer_norm_eps;
    let own = own_params(&mut s, spec, d, true)?;
    let (mask_token, dec_pos) = own.decoder.expect("declared with the decoder");
    let img = spec.image;
    let g = s.g();
    let imgs = g.input(inputs::IMGS, &[n, img.channels, img.height, img.width])?;
    let mask = g.input(inputs::MASK, &[n, l])?;
    let ids_keep = g.index_input(inputs::IDS_KEEP, &[n, k])?;
    let ids_restore = g.index_input(inputs::IDS_RESTORE, &[n, l])?;
    let enc = encoder(&mut s, spec, d, &own, imgs, Some(ids_keep), n)?;
    // `norm` exists either way (the official model declares it); only hifeat reads it.
    // Without hifeat it gets no gradient, so nothing ever updates it: it is loaded and saved
    // like a frozen table.
    let x = if spec.hifeat {
        let mut parts = enc.stages.clone();
        parts.push(enc.tokens);
        let cat = s.g().concat(&parts, 2)?; // [N, K, hifeat_dim]
        layer_norm(&mut s.pp("norm"), cat, d.hifeat_dim, eps)?
    } else {
        let mut norm = s.pp("norm");
        norm.frozen("weight", &[d.main.dim], Init::Ones)?;
        norm.frozen("bias", &[d.main.dim], Init::Zeros)?;
        enc.tokens
    };

    // Decoder: MAE's without a class token.
    let dec_in = Linear::new(d.encoder_out_dim, dec, INIT);
    let x = linear(&mut s.pp("decoder_embed"), x, dec_in)?; // [N, K, Dd]
    let g = s.g();
    let shuffled = if l > k {
        let tokens = g.expand(mask_token, &[n, l - k, dec])?;
        g.concat(&[x, tokens], 1)?
    } else {
        x
    };
    let y = g.gather_rows(shuffled, ids_restore)?; // raster order
    let y = g.add(y, dec_pos)?;
    let blk = block(dec, d.decoder.heads, d.decoder.mlp_hidden, spec);
    let mut y = y;
    for i in 0..d.decoder.depth {
        y = vit_block(&mut s.pp("decoder_blocks").pp(i), y, &blk, None)?;
    }
    let y = layer_norm(&mut s.pp("decoder_norm"), y, dec, eps)?;
    let pred = linear(
        &mut s.pp("decoder_pred"),
        y,
        Linear::new(dec, d.pred_dim, INIT),
    )?;

    // Loss: MSE over the removed patches against the (per-patch normalized) pixels; the
    // official code always normalizes, a `pix` spec does not.
    let g = s.g();
    let target = pixel_target(g, imgs, spec.patch, spec.target)?;
    let loss = g.masked_mse(pred, target, mask)?;
    StepGraph::finish(b, shape, loss, pred, extras)
}

/// The encoder over every patch of `batch` images, with the mean of the main stage's tokens as
/// the feature (HiViT has no class token; its classifier pools the same way).
pub fn features(spec: &HiVitSpec, d: &HiVitDims, batch: usize) -> GResult<FeatureGraph> {
    let mut b = Builder::new();
    let mut s = b.root();
    let own = own_params(&mut s, spec, d, false)?;
    let img = spec.image;
    let imgs = s
        .g()
        .input(inputs::IMGS, &[batch, img.channels, img.height, img.width])?;
    let enc = encoder(&mut s, spec, d, &own, imgs, None, batch)?;
    let mean = s.g().mean(enc.tokens, 1, false)?;
    let built = b.finish();
    Ok(FeatureGraph {
        graph: built.graph,
        input: inputs::IMGS.to_string(),
        dim: d.main.dim,
        cls: None,
        mean,
        constants: built.constants,
    })
}
