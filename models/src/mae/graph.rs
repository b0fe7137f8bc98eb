//! The MAE graph (`models_mae.py: forward_encoder`, `forward_decoder`, `forward_loss`) from the
//! block library: parameters declared in the official state-dict order, the sin-cos tables as
//! frozen parameters, the images and the host-made mask as per-step inputs, and optionally the
//! gradients and an AdamW step. Any token-dropping mask works: the encoder sees the kept tokens
//! in the order `ids_keep` lists them, the decoder restores raster order with `ids_restore`.
//!
//! Uniform masks follow UM-MAE's ViT code (implus/UM-MAE `models_mae.py`) instead: the encoder
//! sees the visible tokens in raster order, secondary masking replaces some of them by
//! `vis_mask_token` (+ their position), and the decoder keeps the visible-then-masked order
//! (`ids_shuffle`) with the positions gathered to it, so `pred` lists the visible patches first
//! and the masked ones after, both in raster order; the loss averages over the masked rows.
use tessera_dsl::graph::{GResult, NodeId};
use tessera_dsl::spec::{MaeDims, MaeSpec, MaskSpec};

use crate::blocks::{
    layer_norm, linear, patch_embed_2d, pixel_target, sincos_table, vit_stack, Builder, Built,
    Linear, LinearInit, PatchInit, Scope, VitBlock,
};
use crate::model::{Extras, FeatureGraph, StepGraph, StepShape};
use crate::params::Init;

/// Names of the per-step inputs.
pub mod inputs {
    /// `[N, C, H, W]` f32 images (already normalized).
    pub const IMGS: &str = "imgs";
    /// `[N, L]` f32, 1 = removed.
    pub const MASK: &str = "mask";
    /// `[N, K]` u32: the kept tokens in the order the encoder sees them.
    pub const IDS_KEEP: &str = "ids_keep";
    /// `[N, L]` u32: where each raster token sits in the kept-then-removed order.
    pub const IDS_RESTORE: &str = "ids_restore";
    /// `[N, L]` u32 (uniform masks): the visible tokens, then the masked ones, each in raster
    /// order — the row order of the decoder and of `pred`.
    pub const IDS_SHUFFLE: &str = "ids_shuffle";
    /// `[N, K, 1]` f32 (secondary masking): 1 where a visible token is replaced by
    /// `vis_mask_token`.
    pub const VIS_MASK: &str = "vis_mask";
}

/// The decoder's (and `pred`'s) row order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecoderOrder {
    /// Raster order, unshuffled with `ids_restore` (MAE).
    Raster,
    /// Visible tokens then masked ones, each in raster order (UM-MAE's ViT).
    VisibleFirst,
}

impl DecoderOrder {
    /// The order the official code of `spec`'s masking uses.
    pub fn of(spec: &MaeSpec) -> DecoderOrder {
        match spec.mask {
            MaskSpec::Uniform { .. } => DecoderOrder::VisibleFirst,
            MaskSpec::Random { .. } | MaskSpec::Block { .. } | MaskSpec::Custom { .. } => {
                DecoderOrder::Raster
            }
        }
    }
}

/// The index input that puts the decoder's rows in their [`DecoderOrder`].
#[derive(Clone, Copy)]
enum Order {
    /// `ids_restore`: kept-then-masked rows back to raster order.
    Restore(NodeId),
    /// `ids_shuffle`: the patch of each visible-first row (positions and targets are gathered
    /// to it).
    Shuffle(NodeId),
}

/// Does `spec` replace visible tokens by a learned token (UM-MAE's secondary masking)?
pub fn has_secondary(spec: &MaeSpec) -> bool {
    matches!(
        spec.mask,
        MaskSpec::Uniform {
            secondary: Some(_),
            ..
        }
    )
}

/// The model's own parameters, declared first as PyTorch lists them (the decoder's only when
/// the graph has a decoder).
struct Own {
    /// UM-MAE's secondary-masking token, when the mask has one.
    vis_mask_token: Option<NodeId>,
    cls: Option<NodeId>,
    pos: NodeId,
    /// `(mask_token, decoder_pos_embed)`.
    decoder: Option<(NodeId, NodeId)>,
}

fn own_params(s: &mut Scope, spec: &MaeSpec, d: &MaeDims, decoder: bool) -> GResult<Own> {
    let (dim, dec) = (d.encoder.dim, d.decoder.dim);
    let token = Init::Normal { std: 0.02 };
    // UM-MAE registers it first, so it leads the state dict.
    let vis_mask_token = if has_secondary(spec) {
        Some(s.param("vis_mask_token", &[1, 1, dim], token)?)
    } else {
        None
    };
    let cls = if spec.class_token {
        Some(s.param("cls_token", &[1, 1, dim], token)?)
    } else {
        None
    };
    let pos = sincos_table(s, "pos_embed", dim, d.grid, spec.class_token)?;
    let decoder = if decoder {
        let mask_token = s.param("mask_token", &[1, 1, dec], token)?;
        let dec_pos = sincos_table(s, "decoder_pos_embed", dec, d.grid, spec.class_token)?;
        Some((mask_token, dec_pos))
    } else {
        None
    };
    Ok(Own {
        vis_mask_token,
        cls,
        pos,
        decoder,
    })
}

/// Which patch tokens the encoder sees.
#[derive(Clone, Copy)]
enum Visible {
    /// Every token, in raster order (features for probing).
    All,
    /// The tokens `ids_keep` lists, in its order.
    Kept(NodeId),
    /// None (the official forward pass at mask ratio 1): the class token alone.
    Nothing,
}

/// Patch embedding, positions, the visible tokens (`vis_mask` [N, K, 1] replaces some by the
/// secondary token), the class token, the blocks and the final norm: `[N, (1 +) K, D]`.
#[allow(clippy::too_many_arguments)]
fn encoder(
    s: &mut Scope,
    spec: &MaeSpec,
    d: &MaeDims,
    own: &Own,
    imgs: NodeId,
    visible: Visible,
    vis_mask: Option<NodeId>,
    batch: usize,
) -> GResult<NodeId> {
    let (dim, l) = (d.encoder.dim, d.tokens);
    let c = spec.image.channels;
    let x = patch_embed_2d(
        &mut s.pp("patch_embed"),
        imgs,
        c,
        spec.patch,
        dim,
        PatchInit::XavierFlat,
    )?;
    let cls_rows = usize::from(spec.class_token);
    let g = s.g();
    let pos_patches = g.slice(own.pos, 1, cls_rows, l)?;
    let x = g.add(x, pos_patches)?;
    let kept = match visible {
        Visible::All => Some(x),
        Visible::Kept(ids) => {
            let x = g.gather_rows(x, ids)?;
            match (own.vis_mask_token, vis_mask) {
                // x·(1 − m) + (vis_mask_token + pos)·m, as UM-MAE writes it.
                (Some(token), Some(m)) => {
                    let token = g.add(token, pos_patches)?;
                    let token = g.gather_rows(token, ids)?;
                    let real = g.affine(m, -1.0, 1.0)?;
                    let x = g.mul(x, real)?;
                    let replaced = g.mul(token, m)?;
                    Some(g.add(x, replaced)?)
                }
                _ => Some(x),
            }
        }
        Visible::Nothing => None,
    };
    let x = match (own.cls, kept) {
        (Some(cls), kept) => {
            let pos_cls = g.slice(own.pos, 1, 0, 1)?;
            let cls = g.add(cls, pos_cls)?;
            let cls = g.expand(cls, &[batch, 1, dim])?;
            match kept {
                Some(k) => g.concat(&[cls, k], 1)?,
                None => cls,
            }
        }
        (None, Some(k)) => k,
        (None, None) => {
            return Err(tessera_dsl::graph::GraphError::Argument {
                op: "mae encoder",
                message: "a model without a class token must keep at least one token".into(),
            })
        }
    };
    let block = VitBlock::of(&d.encoder, spec.layer_norm_eps, LinearInit::Xavier);
    let x = vit_stack(&mut s.pp("blocks"), x, d.encoder.depth, &block)?;
    layer_norm(&mut s.pp("norm"), x, dim, spec.layer_norm_eps)
}

/// Builds the step graph for `shape`.
pub fn build(
    spec: &MaeSpec,
    d: &MaeDims,
    shape: StepShape,
    extras: &Extras,
) -> GResult<(StepGraph, Built)> {
    let mut b = Builder::new();
    let mut s = b.root();
    let (n, l, k) = (shape.batch, d.tokens, shape.keep);
    let (dec, cls_rows) = (d.decoder.dim, usize::from(spec.class_token));
    let eps = spec.layer_norm_eps;
    let own = own_params(&mut s, spec, d, true)?;
    let (mask_token, dec_pos) = own.decoder.expect("declared with the decoder");
    let img = spec.image;
    let g = s.g();
    let imgs = g.input(inputs::IMGS, &[n, img.channels, img.height, img.width])?;
    // With nothing kept (official mask_ratio 1) the encoder sees the class token alone; an
    // empty index input would have no storage, so there is none.
    let ids_keep = if k > 0 {
        Some(g.index_input(inputs::IDS_KEEP, &[n, k])?)
    } else {
        None
    };
    let order = match DecoderOrder::of(spec) {
        DecoderOrder::Raster => Order::Restore(g.index_input(inputs::IDS_RESTORE, &[n, l])?),
        DecoderOrder::VisibleFirst => Order::Shuffle(g.index_input(inputs::IDS_SHUFFLE, &[n, l])?),
    };
    let vis_mask = if has_secondary(spec) && k > 0 {
        Some(g.input(inputs::VIS_MASK, &[n, k, 1])?)
    } else {
        None
    };
    let visible = ids_keep.map_or(Visible::Nothing, Visible::Kept);
    let x = encoder(&mut s, spec, d, &own, imgs, visible, vis_mask, n)?;

    // Decoder: embed, append mask tokens, add positions in the decoder's row order.
    let dec_in = Linear::new(d.encoder.dim, dec, LinearInit::Xavier);
    let x = linear(&mut s.pp("decoder_embed"), x, dec_in)?; // [N, (1 +) K, Dd]
    let g = s.g();
    let mut parts = Vec::new();
    if k > 0 {
        parts.push(g.slice(x, 1, cls_rows, k)?);
    }
    if l > k {
        parts.push(g.expand(mask_token, &[n, l - k, dec])?);
    }
    let shuffled = if parts.len() == 1 {
        parts[0]
    } else {
        g.concat(&parts, 1)?
    };
    let pos_patches = g.slice(dec_pos, 1, cls_rows, l)?;
    let mut y = match order {
        Order::Restore(restore) => {
            let raster = g.gather_rows(shuffled, restore)?;
            g.add(raster, pos_patches)?
        }
        Order::Shuffle(shuffle) => {
            let pos = g.gather_rows(pos_patches, shuffle)?;
            g.add(shuffled, pos)?
        }
    };
    if spec.class_token {
        let dec_cls = g.slice(x, 1, 0, 1)?;
        let pos_cls = g.slice(dec_pos, 1, 0, 1)?;
        let dec_cls = g.add(dec_cls, pos_cls)?;
        y = g.concat(&[dec_cls, y], 1)?;
    }
    let block = VitBlock::of(&d.decoder, eps, LinearInit::Xavier);
    let y = vit_stack(&mut s.pp("decoder_blocks"), y, d.decoder.depth, &block)?;
    let y = layer_norm(&mut s.pp("decoder_norm"), y, dec, eps)?;
    let pred_layer = Linear::new(dec, d.patch_dim, LinearInit::Xavier);
    let y = linear(&mut s.pp("decoder_pred"), y, pred_layer)?;
    let g = s.g();
    let pred = g.slice(y, 1, cls_rows, l)?;

    // Loss: MSE against the (per-patch normalized) pixels, over the removed patches, with the
    // target in pred's row order (normalizing rows commutes with reordering them).
    let target = pixel_target(g, imgs, spec.patch, spec.target)?;
    let target = match order {
        Order::Shuffle(shuffle) => g.gather_rows(target, shuffle)?,
        Order::Restore(_) => target,
    };
    let loss_mask = match order {
        Order::Restore(_) => g.input(inputs::MASK, &[n, l])?,
        // The masked patches are the last L − K rows of every sample.
        Order::Shuffle(_) => {
            let rows = (0..n * l).map(|i| f32::from(u8::from(i % l >= k)));
            s.constant_f32("visible_first_loss_mask", &[n, l], rows.collect())?
        }
    };
    let g = s.g();
    let loss = g.masked_mse(pred, target, loss_mask)?;
    StepGraph::finish(b, shape, loss, pred, extras)
}

/// The encoder over every token of `batch` images, with the [CLS] row and the mean of the
/// patch rows of its final norm as outputs.
pub fn features(spec: &MaeSpec, d: &MaeDims, batch: usize) -> GResult<FeatureGraph> {
    let mut b = Builder::new();
    let mut s = b.root();
    let own = own_params(&mut s, spec, d, false)?;
    let img = spec.image;
    let imgs = s
        .g()
        .input(inputs::IMGS, &[batch, img.channels, img.height, img.width])?;
    let x = encoder(&mut s, spec, d, &own, imgs, Visible::All, None, batch)?;
    let (dim, l, cls_rows) = (d.encoder.dim, d.tokens, usize::from(spec.class_token));
    let g = s.g();
    let cls = if spec.class_token {
        let c = g.slice(x, 1, 0, 1)?;
        Some(g.reshape(c, &[batch, dim])?)
    } else {
        None
    };
    let patches = g.slice(x, 1, cls_rows, l)?;
    let mean = g.mean(patches, 1, false)?;
    let built = b.finish();
    Ok(FeatureGraph {
        graph: built.graph,
        input: inputs::IMGS.to_string(),
        dim,
        cls,
        mean,
        constants: built.constants,
    })
}
