//! The M3AE graph (`m3ae/model.py: forward_encoder`, `forward_decoder`, and the loss of
//! `m3ae_main.py`'s training step) from the Flax modules of [`super::flax`]: parameters at
//! their Flax paths, the sin-cos tables as constants (the official model computes them, they
//! are not parameters), the images, captions, batch-shared masks and key-padding masks as
//! per-step inputs, and optionally the gradients and an AdamW step.
//!
//! Key padding: the official attention *replaces* the logit of a padding key by −1e7; here
//! −1e7 is *added* to it. Both give a probability of exactly 0 (exp underflows in f32 and f64)
//! as long as some key of the row is not padding, which always holds: the class token and the
//! image tokens are never padding. So a sample whose kept text tokens are all padding (masks
//! are shared by the batch, captions differ in length) attends to the rest, as officially.
use tessera_dsl::graph::{adamw_grouped, grad, GResult, NodeId, ParamGroup, PatchOrder, Role};
use tessera_dsl::spec::{M3aeDims, M3aeSpec};

use super::flax::{dense, transformer};
use crate::blocks::{Builder, Built, Scope};
use crate::model::{Extras, FeatureGraph, StepGraph, StepShape};
use crate::params::Init;
use crate::sincos::{sincos_1d, sincos_2d};

/// Names of the per-step inputs.
pub mod inputs {
    /// `[N, C, H, W]` f32 images (already normalized).
    pub const IMGS: &str = "imgs";
    /// `[N·T]` u32 token ids of the captions (padding holds `PAD`); the embedding's rows and
    /// the text loss's labels.
    pub const TEXT: &str = "text";
    /// `[N, L]` f32, 1 = image patch removed (the same row for every sample).
    pub const IMAGE_MASK: &str = "image_mask";
    /// `[1, K_img]` u32: the kept patches, in the order the encoder sees them (batch-shared).
    pub const IMAGE_IDS_KEEP: &str = "image_ids_keep";
    /// `[1, L]` u32: where each raster patch sits in the kept-then-removed order.
    pub const IMAGE_IDS_RESTORE: &str = "image_ids_restore";
    /// `[1, K_txt]` u32: the kept text positions, in shuffled order.
    pub const TEXT_IDS_KEEP: &str = "text_ids_keep";
    /// `[1, T]` u32: the text positions' unshuffle.
    pub const TEXT_IDS_RESTORE: &str = "text_ids_restore";
    /// `[N, 1, 1, 1 + K_img + K_txt]` f32: −1e7 on kept text tokens that are padding, else 0.
    pub const ENCODER_PADDING: &str = "encoder_padding";
    /// `[N, 1, 1, 1 + L + T]` f32: −1e7 on every padding text position, else 0.
    pub const DECODER_PADDING: &str = "decoder_padding";
    /// `[N·T]` f32: `1 / n_b` on the tokens the text loss counts (masked and not padding; `n_b`
    /// of them in sample `b`), else 0.
    pub const TEXT_WEIGHTS: &str = "text_weights";
    /// `[]` f32: the share of samples with a counted token, which turns the weighted
    /// cross-entropy's global mean into the official mean over samples of per-sample means.
    pub const TEXT_LOSS_SCALE: &str = "text_loss_scale";
}

/// The additive logit of a padding key (the official replacement value).
pub const PADDING_LOGIT: f32 = -1e7;

/// The nodes of a step beyond [`StepGraph`]'s: the text head and the two losses.
#[derive(Clone, Copy, Debug)]
pub struct TextNodes {
    /// `[N, T, V]` logits of every text position.
    pub logits: NodeId,
    pub image_loss: NodeId,
    pub text_loss: NodeId,
}

/// The model's own parameters (everything but the transformers and the Dense layers), in
/// the official `setup` order.
struct Own {
    text_embedding: NodeId,
    /// `(encoder_image, decoder_image, encoder_text, decoder_text)` type embeddings.
    types: Option<[NodeId; 4]>,
    cls: NodeId,
    /// `(image_mask_embedding, text_mask_embedding)`, when the graph has a decoder.
    masks: Option<(NodeId, NodeId)>,
}

fn own_params(s: &mut Scope, spec: &M3aeSpec, d: &M3aeDims, decoder: bool) -> GResult<Own> {
    let (dim, dec) = (d.encoder.dim, d.decoder.dim);
    let token = Init::Normal { std: 0.02 };
    let text_embedding =
        s.pp("text_embedding")
            .param("embedding", &[spec.vocab, dim], Init::Normal { std: 1.0 })?;
    let types = if spec.type_embedding {
        Some([
            s.param("encoder_image_type_embedding", &[1, 1, dim], token)?,
            s.param("decoder_image_type_embedding", &[1, 1, dec], token)?,
            s.param("encoder_text_type_embedding", &[1, 1, dim], token)?,
            s.param("decoder_text_type_embedding", &[1, 1, dec], token)?,
        ])
    } else {
        None
    };
    let cls = s.param("cls_token", &[1, 1, dim], token)?;
    let masks = if decoder {
        Some((
            s.param("image_mask_embedding", &[1, 1, dec], token)?,
            s.param("text_mask_embedding", &[1, 1, dec], token)?,
        ))
    } else {
        None
    };
    Ok(Own {
        text_embedding,
        types,
        cls,
        masks,
    })
}

/// A sin-cos table `[1, rows, dim]` as a constant, rounded to f32 as the official model's
/// float32 computation holds it.
fn table(s: &mut Scope, name: &str, rows: usize, dim: usize, values: Vec<f64>) -> GResult<NodeId> {
    let v = values.into_iter().map(|x| x as f32).collect();
    s.constant_f32(name, &[1, rows, dim], v)
}

/// The 2-D table of `get_2d_sincos_pos_embed(dim, L)` (no class row).
fn image_table(s: &mut Scope, name: &str, d: &M3aeDims, dim: usize) -> GResult<NodeId> {
    table(s, name, d.image_tokens, dim, sincos_2d(dim, d.grid, false))
}

/// The 1-D table of `get_1d_sincos_pos_embed(dim, T)`.
fn text_table(s: &mut Scope, name: &str, spec: &M3aeSpec, dim: usize) -> GResult<NodeId> {
    let pos: Vec<f64> = (0..spec.text_len).map(|t| t as f64).collect();
    table(s, name, spec.text_len, dim, sincos_1d(dim, &pos))
}

/// `x + table (+ type embedding)`.
fn embed(s: &mut Scope, x: NodeId, table: NodeId, ty: Option<NodeId>) -> GResult<NodeId> {
    let g = s.g();
    let x = g.add(x, table)?;
    match ty {
        Some(t) => g.add(x, t),
        None => Ok(x),
    }
}

/// Image tokens `[N, L, D]`: `image_embedding(patches)` + 2-D sin-cos + type embedding.
fn image_tokens(s: &mut Scope, d: &M3aeDims, own: &Own, patches: NodeId) -> GResult<NodeId> {
    let dim = d.encoder.dim;
    let x = dense(&mut s.pp("image_embedding"), patches, d.patch_dim, dim)?;
    let pos = image_table(s, "encoder_image_pos", d, dim)?;
    embed(s, x, pos, own.types.map(|t| t[0]))
}

/// Builds the step graph for `shape` (`shape.keep` is the kept image count).
pub fn build(
    spec: &M3aeSpec,
    d: &M3aeDims,
    shape: StepShape,
    extras: &Extras,
) -> GResult<(StepGraph, TextNodes, Built)> {
    let mut b = Builder::new();
    let mut s = b.root();
    let (n, l, t) = (shape.batch, d.image_tokens, spec.text_len);
    let (ki, kt) = (shape.keep, d.text_keep);
    let (dim, dec, v) = (d.encoder.dim, d.decoder.dim, spec.vocab);
    let eps = spec.layer_norm_eps;
    let own = own_params(&mut s, spec, d, true)?;
    let (image_mask_embedding, text_mask_embedding) = own.masks.expect("declared with the decoder");
    let img = spec.image;
    let g = s.g();
    let imgs = g.input(inputs::IMGS, &[n, img.channels, img.height, img.width])?;
    let text = g.index_input(inputs::TEXT, &[n * t])?;
    let image_mask = g.input(inputs::IMAGE_MASK, &[n, l])?;
    let image_keep = g.index_input(inputs::IMAGE_IDS_KEEP, &[1, ki])?;
    let image_restore = g.index_input(inputs::IMAGE_IDS_RESTORE, &[1, l])?;
    let text_keep = g.index_input(inputs::TEXT_IDS_KEEP, &[1, kt])?;
    let text_restore = g.index_input(inputs::TEXT_IDS_RESTORE, &[1, t])?;
    let enc_pad = g.input(inputs::ENCODER_PADDING, &[n, 1, 1, 1 + ki + kt])?;
    let dec_pad = g.input(inputs::DECODER_PADDING, &[n, 1, 1, 1 + l + t])?;
    let text_weights = g.input(inputs::TEXT_WEIGHTS, &[n * t])?;
    let text_scale = g.input(inputs::TEXT_LOSS_SCALE, &[])?;

    // Encoder: [cls | kept image | kept text].
    let patches = s.g().patchify(imgs, spec.patch, PatchOrder::Pqc)?; // extract_patches
    let x_img = image_tokens(&mut s, d, &own, patches)?;
    let g = s.g();
    let x_img = g.gather_rows(x_img, image_keep)?;
    let words = g.gather_rows(own.text_embedding, text)?; // [N·T, D]
    let words = g.reshape(words, &[n, t, dim])?;
    let pos = text_table(&mut s, "encoder_text_pos", spec, dim)?;
    let x_txt = embed(&mut s, words, pos, own.types.map(|t| t[2]))?;
    let g = s.g();
    let x_txt = g.gather_rows(x_txt, text_keep)?;
    let cls = g.expand(own.cls, &[n, 1, dim])?;
    let x = g.concat(&[cls, x_img, x_txt], 1)?;
    let x = transformer(&mut s.pp("encoder"), x, &d.encoder, eps, Some(enc_pad))?;

    // Decoder: one projection for every token, mask embeddings appended per modality and
    // unshuffled, positions and types added; [cls | L image | T text].
    let y = dense(&mut s.pp("decoder_input_projection"), x, dim, dec)?;
    let g = s.g();
    let y_cls = g.slice(y, 1, 0, 1)?;
    let y_img = g.slice(y, 1, 1, ki)?;
    let y_txt = g.slice(y, 1, 1 + ki, kt)?;
    let fill_img = g.expand(image_mask_embedding, &[n, l - ki, dec])?;
    let y_img = g.concat(&[y_img, fill_img], 1)?;
    let y_img = g.gather_rows(y_img, image_restore)?;
    let fill_txt = g.expand(text_mask_embedding, &[n, t - kt, dec])?;
    let y_txt = g.concat(&[y_txt, fill_txt], 1)?;
    let y_txt = g.gather_rows(y_txt, text_restore)?;
    let pos = image_table(&mut s, "decoder_image_pos", d, dec)?;
    let y_img = embed(&mut s, y_img, pos, own.types.map(|t| t[1]))?;
    let pos = text_table(&mut s, "decoder_text_pos", spec, dec)?;
    let y_txt = embed(&mut s, y_txt, pos, own.types.map(|t| t[3]))?;
    let y = s.g().concat(&[y_cls, y_img, y_txt], 1)?;
    let y = transformer(&mut s.pp("decoder"), y, &d.decoder, eps, Some(dec_pad))?;
    let g = s.g();
    let y_img = g.slice(y, 1, 1, l)?;
    let y_txt = g.slice(y, 1, 1 + l, t)?;
    // `output_head_depth` 0: each head is a single Dense named `Dense_0` inside its MLP.
    let pred = dense(
        &mut s.pp("decoder_image_output").pp("Dense_0"),
        y_img,
        dec,
        d.patch_dim,
    )?;
    let logits = dense(
        &mut s.pp("decoder_text_output").pp("Dense_0"),
        y_txt,
        dec,
        v,
    )?;

    // Loss: the per-sample mean over removed patches equals the mean over every removed patch
    // of the batch, as every sample removes the same number; the text loss's per-sample means
    // come from the weights and the scale (see `inputs`).
    let g = s.g();
    let image_loss = g.masked_mse(pred, patches, image_mask)?;
    let flat = g.reshape(logits, &[n * t, v])?;
    let ce = g.cross_entropy(flat, text, text_weights)?;
    let text_loss = g.mul(ce, text_scale)?;
    let weighted_image = g.scale(image_loss, spec.image_loss_weight)?;
    let weighted_text = g.scale(text_loss, spec.text_loss_weight)?;
    let loss = g.add(weighted_image, weighted_text)?;
    let built = b.finish();
    let mut step = StepGraph::from_built(&built, shape, loss, pred, &Extras::None)?;
    add_extras(&mut step, extras)?;
    let text = TextNodes {
        logits,
        image_loss,
        text_loss,
    };
    Ok((step, text, built))
}

/// M3AE's decay mask (`m3ae_main.py: get_weight_decay_mask`): no decay for a parameter any of
/// whose path components is in the model's `no_decay_list`; LayerNorm `scale` does decay
/// (unlike MAE's timm rule, which spares every 1-D tensor).
pub fn decays(name: &str) -> bool {
    const NO_DECAY: [&str; 10] = [
        "cls_token",
        "encoder_image_type_embedding",
        "encoder_text_type_embedding",
        "decoder_image_type_embedding",
        "decoder_text_type_embedding",
        "image_mask_embedding",
        "text_mask_embedding",
        "text_embedding",
        "bias",
        "embedding",
    ];
    !name.split('.').any(|part| NO_DECAY.contains(&part))
}

/// The backward pass (and AdamW with M3AE's decay mask) that `extras` asks for.
fn add_extras(step: &mut StepGraph, extras: &Extras) -> GResult<()> {
    let Extras::TrainStep(adam) = extras else {
        return step.add_extras(extras);
    };
    let params = step.graph.trainable_params();
    let grads = grad(&mut step.graph, step.loss, &params)?;
    for &pid in &params {
        if let (Role::Param { name, .. }, Some(gid)) = (&step.graph.node(pid).role, grads.get(pid))
        {
            step.grads.push((name.clone(), gid));
        }
    }
    let group = |name: &str, _: &[usize]| ParamGroup {
        weight_decay: if decays(name) { adam.weight_decay } else { 0.0 },
        lr_scale: 1.0,
    };
    step.optimizer = Some(adamw_grouped(&mut step.graph, &grads, adam, &group)?);
    Ok(())
}

/// The encoder over the class token and every patch of `batch` images, without text (the
/// official `forward_representation(image, None, None)` the linear probe uses): the class row
/// and the mean of the patch rows of its final norm.
pub fn features(spec: &M3aeSpec, d: &M3aeDims, batch: usize) -> GResult<FeatureGraph> {
    let mut b = Builder::new();
    let mut s = b.root();
    let own = own_params(&mut s, spec, d, false)?;
    let (dim, l) = (d.encoder.dim, d.image_tokens);
    let img = spec.image;
    let g = s.g();
    let imgs = g.input(inputs::IMGS, &[batch, img.channels, img.height, img.width])?;
    let patches = g.patchify(imgs, spec.patch, PatchOrder::Pqc)?;
    let x_img = image_tokens(&mut s, d, &own, patches)?;
    let g = s.g();
    let cls = g.expand(own.cls, &[batch, 1, dim])?;
    let x = g.concat(&[cls, x_img], 1)?;
    let eps = spec.layer_norm_eps;
    let x = transformer(&mut s.pp("encoder"), x, &d.encoder, eps, None)?;
    let g = s.g();
    let c = g.slice(x, 1, 0, 1)?;
    let cls = g.reshape(c, &[batch, dim])?;
    let patches = g.slice(x, 1, 1, l)?;
    let mean = g.mean(patches, 1, false)?;
    let built = b.finish();
    Ok(FeatureGraph {
        graph: built.graph,
        input: inputs::IMGS.to_string(),
        dim,
        cls: Some(cls),
        mean,
        constants: built.constants,
    })
}

#[cfg(test)]
mod tests {
    use super::decays;

    #[test]
    fn the_decay_mask_is_the_official_one() {
        for (name, decay) in [
            ("encoder.Block_0.LayerNorm_0.scale", true),
            ("encoder.Block_0.Attention_0.Dense_0.kernel", true),
            ("encoder.Block_0.Attention_0.Dense_0.bias", false),
            ("text_embedding.embedding", false),
            ("cls_token", false),
            ("decoder_text_type_embedding", false),
            ("image_mask_embedding", false),
            ("image_embedding.kernel", true),
        ] {
            assert_eq!(decays(name), decay, "{name}");
        }
    }
}
