//! The MAE graph (`models_mae.py: forward_encoder`, `forward_decoder`, `forward_loss`) built on
//! tessera's graph IR: parameters under their official names, the sin-cos tables as frozen
//! leaves, the images and the host-made mask as per-step inputs, and optionally the gradient
//! of every trainable parameter and an AdamW step.
use tessera_dsl::graph::{
    adamw, grad, AdamWConfig, GResult, Graph, NodeId, Optimizer, PatchOrder, Role,
};

use super::config::{MaeConfig, MaeDims};
use super::params::param_specs;

/// Names of the per-step inputs.
pub mod inputs {
    /// `[N, C, H, W]` f32 images (already normalized).
    pub const IMGS: &str = "imgs";
    /// `[N, L]` f32, 1 = removed.
    pub const MASK: &str = "mask";
    /// `[N, len_keep]` u32: `ids_shuffle[:, :len_keep]`.
    pub const IDS_KEEP: &str = "ids_keep";
    /// `[N, L]` u32: `argsort(ids_shuffle)`.
    pub const IDS_RESTORE: &str = "ids_restore";
}

/// What to build besides the forward pass and loss.
#[derive(Clone, Debug, PartialEq)]
pub enum Extras {
    /// Forward and loss only.
    None,
    /// Plus the gradient of every trainable parameter.
    Grads,
    /// Plus gradients and an AdamW update of every trainable parameter.
    TrainStep(AdamWConfig),
}

/// A built MAE graph and the nodes a caller reads.
#[derive(Clone, Debug)]
pub struct MaeGraph {
    pub graph: Graph,
    pub batch: usize,
    pub len_keep: usize,
    /// Scalar loss (shape `[]`).
    pub loss: NodeId,
    /// `[N, L, p·p·C]`, the decoder's prediction without the class token.
    pub pred: NodeId,
    /// `(official name, gradient node)` of every trainable parameter, in state-dict order.
    pub grads: Vec<(String, NodeId)>,
    /// The AdamW step, when built.
    pub optimizer: Option<Optimizer>,
}

impl MaeGraph {
    /// The nodes to keep readable after a run: loss, pred and the gradients.
    pub fn outputs(&self) -> Vec<NodeId> {
        let mut out = vec![self.loss, self.pred];
        out.extend(self.grads.iter().map(|(_, g)| *g));
        if let Some(opt) = &self.optimizer {
            out.extend(&opt.updates);
        }
        out
    }
}

/// Builds MAE for a batch of `batch` images keeping `len_keep` of the `L` patch tokens.
pub fn build(
    cfg: &MaeConfig,
    dims: &MaeDims,
    batch: usize,
    len_keep: usize,
    extras: &Extras,
) -> GResult<MaeGraph> {
    let mut g = Graph::new();
    let (n, l, k) = (batch, dims.num_patches, len_keep);
    let (d, dd, p) = (cfg.embed_dim, cfg.decoder_embed_dim, cfg.patch_size);
    let eps = cfg.layer_norm_eps;

    let imgs = g.input(inputs::IMGS, &[n, cfg.in_chans, cfg.img_size, cfg.img_size])?;
    let mask = g.input(inputs::MASK, &[n, l])?;
    // With nothing kept (mask_ratio 1) the encoder sees the class token alone; an empty index
    // input would have no storage, so there is none.
    let ids_keep = if k > 0 {
        Some(g.index_input(inputs::IDS_KEEP, &[n, k])?)
    } else {
        None
    };
    let ids_restore = g.index_input(inputs::IDS_RESTORE, &[n, l])?;

    // Every state-dict entry becomes a leaf, in state-dict order (so gradients list that way).
    for spec in param_specs(cfg, dims) {
        if spec.trainable {
            g.param(&spec.name, &spec.shape, true)?;
        } else {
            g.frozen(&spec.name, &spec.shape)?;
        }
    }
    let leaf = |g: &Graph, name: &str| g.by_name(name).expect("declared above");

    // --- encoder ---
    // Conv2d(k = s = p) is a Linear over (c, pi, pj)-ordered patches with the weight viewed
    // as [D, C·p·p].
    let patches = g.patchify(imgs, p, PatchOrder::Cpq)?;
    let w = g.reshape(leaf(&g, "patch_embed.proj.weight"), &[d, dims.patch_dim])?;
    let x = g.linear(patches, w, Some(leaf(&g, "patch_embed.proj.bias")))?;
    let pos = leaf(&g, "pos_embed");
    let pos_patches = g.slice(pos, 1, 1, l)?;
    let x = g.add(x, pos_patches)?;
    let pos_cls = g.slice(pos, 1, 0, 1)?;
    let cls = g.add(leaf(&g, "cls_token"), pos_cls)?;
    let cls = g.expand(cls, &[n, 1, d])?;
    let mut x = match ids_keep {
        Some(ids) => {
            let kept = g.gather_rows(x, ids)?; // [N, K, D], shuffled order
            g.concat(&[cls, kept], 1)?
        }
        None => cls,
    };
    for i in 0..cfg.depth {
        x = block(&mut g, &format!("blocks.{i}"), x, cfg.num_heads, eps)?;
    }
    let x = layer_norm(&mut g, "norm", x, eps)?;

    // --- decoder ---
    let x = linear(&mut g, "decoder_embed", x)?; // [N, 1+K, Dd]
    let mut parts = Vec::new();
    if k > 0 {
        parts.push(g.slice(x, 1, 1, k)?);
    }
    if l > k {
        parts.push(g.expand(leaf(&g, "mask_token"), &[n, l - k, dd])?);
    }
    let shuffled = if parts.len() == 1 {
        parts[0]
    } else {
        g.concat(&parts, 1)?
    };
    let unshuffled = g.gather_rows(shuffled, ids_restore)?; // raster order
    let dec_cls = g.slice(x, 1, 0, 1)?;
    let x = g.concat(&[dec_cls, unshuffled], 1)?;
    let mut x = g.add(x, leaf(&g, "decoder_pos_embed"))?;
    for i in 0..cfg.decoder_depth {
        x = block(
            &mut g,
            &format!("decoder_blocks.{i}"),
            x,
            cfg.decoder_num_heads,
            eps,
        )?;
    }
    let x = layer_norm(&mut g, "decoder_norm", x, eps)?;
    let x = linear(&mut g, "decoder_pred", x)?;
    let pred = g.slice(x, 1, 1, l)?;

    // --- loss ---
    let target = g.patchify(imgs, p, PatchOrder::Pqc)?;
    let target = if cfg.norm_pix_loss {
        g.norm_pix(target, 1e-6)?
    } else {
        target
    };
    let loss = g.masked_mse(pred, target, mask)?;

    let mut out = MaeGraph {
        graph: g,
        batch,
        len_keep,
        loss,
        pred,
        grads: Vec::new(),
        optimizer: None,
    };
    if matches!(extras, Extras::None) {
        return Ok(out);
    }
    let params = out.graph.trainable_params();
    let grads = grad(&mut out.graph, loss, &params)?;
    for &pid in &params {
        let Role::Param { name, .. } = &out.graph.node(pid).role else {
            continue;
        };
        if let Some(gid) = grads.get(pid) {
            out.grads.push((name.clone(), gid));
        }
    }
    if let Extras::TrainStep(adam) = extras {
        out.optimizer = Some(adamw(&mut out.graph, &grads, adam)?);
    }
    Ok(out)
}

pub(super) fn param(g: &Graph, name: &str) -> NodeId {
    g.by_name(name)
        .unwrap_or_else(|| panic!("parameter {name} is declared before the layers use it"))
}

pub(super) fn linear(g: &mut Graph, name: &str, x: NodeId) -> GResult<NodeId> {
    let w = param(g, &format!("{name}.weight"));
    let b = param(g, &format!("{name}.bias"));
    g.linear(x, w, Some(b))
}

pub(super) fn layer_norm(g: &mut Graph, name: &str, x: NodeId, eps: f64) -> GResult<NodeId> {
    let w = param(g, &format!("{name}.weight"));
    let b = param(g, &format!("{name}.bias"));
    g.layer_norm(x, w, b, eps)
}

/// A timm `Block`: `x + proj(attn(norm1(x)))`, then `x + fc2(gelu(fc1(norm2(x))))`.
pub(super) fn block(
    g: &mut Graph,
    prefix: &str,
    x: NodeId,
    heads: usize,
    eps: f64,
) -> GResult<NodeId> {
    let dim = *g.shape(x).last().expect("tokens are [N, T, D]");
    let h = layer_norm(g, &format!("{prefix}.norm1"), x, eps)?;
    let qkv = linear(g, &format!("{prefix}.attn.qkv"), h)?;
    let (q, k, v) = g.split_qkv(qkv, heads)?;
    let scale = ((dim / heads) as f64).powf(-0.5);
    let o = g.attention(q, k, v, None, scale)?;
    let o = g.merge_heads(o)?;
    let o = linear(g, &format!("{prefix}.attn.proj"), o)?;
    let x = g.add(x, o)?;
    let h = layer_norm(g, &format!("{prefix}.norm2"), x, eps)?;
    let h = linear(g, &format!("{prefix}.mlp.fc1"), h)?;
    let h = g.gelu_erf(h)?;
    let h = linear(g, &format!("{prefix}.mlp.fc2"), h)?;
    g.add(x, h)
}
