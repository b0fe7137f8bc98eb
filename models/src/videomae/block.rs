//! VideoMAE's transformer block (`modeling_finetune.py: Block`, `Attention`): the timm pre-norm
//! block, but with BEiT-style attention — `qkv` has no bias of its own; the bias applied is
//! `cat(q_bias, zeros, v_bias)`, so the keys never get one (a key bias would shift every score
//! of a softmax row equally, which changes nothing). Pre-training uses no layer scale.
use tessera_dsl::graph::{GResult, NodeId};
use tessera_dsl::spec::VitDims;

use crate::blocks::{layer_norm, linear, mlp, Activation, Linear, LinearInit, Mlp, Scope};
use crate::params::Init;

/// `x [B, L, D] → [B, L, D]`, declaring `q_bias`, `v_bias`, `qkv` and `proj` in `s` (the order
/// of the official state dict: a module's own parameters before its children's).
pub fn beit_attention(s: &mut Scope, x: NodeId, dim: usize, heads: usize) -> GResult<NodeId> {
    let q_bias = s.param("q_bias", &[dim], Init::Zeros)?;
    let v_bias = s.param("v_bias", &[dim], Init::Zeros)?;
    let qkv_layer = Linear::new(dim, 3 * dim, LinearInit::Xavier).no_bias();
    let qkv = linear(&mut s.pp("qkv"), x, qkv_layer)?;
    let g = s.g();
    // [q_bias | 0 | v_bias]: v_bias padded with D zeros in front, after q_bias.
    let kv_bias = g.pad(v_bias, 0, dim, 2 * dim)?;
    let bias = g.concat(&[q_bias, kv_bias], 0)?;
    let qkv = g.add(qkv, bias)?;
    let scale = ((dim / heads) as f64).powf(-0.5);
    let o = g.self_attention(qkv, heads, None, scale)?;
    linear(
        &mut s.pp("proj"),
        o,
        Linear::new(dim, dim, LinearInit::Xavier),
    )
}

/// One block: `x + attn(norm1(x))`, then `x + mlp(norm2(x))` (exact GELU).
pub fn block(s: &mut Scope, x: NodeId, d: &VitDims, eps: f64) -> GResult<NodeId> {
    let h = layer_norm(&mut s.pp("norm1"), x, d.dim, eps)?;
    let h = beit_attention(&mut s.pp("attn"), h, d.dim, d.heads)?;
    let x = s.g().add(x, h)?;
    let h = layer_norm(&mut s.pp("norm2"), x, d.dim, eps)?;
    let m = Mlp {
        dim: d.dim,
        hidden: d.mlp_hidden,
        act: Activation::GeluErf,
        init: LinearInit::Xavier,
    };
    let h = mlp(&mut s.pp("mlp"), h, m)?;
    s.g().add(x, h)
}

/// `d.depth` blocks named `0..depth` in `s` (call with `s.pp("blocks")`).
pub fn stack(s: &mut Scope, x: NodeId, d: &VitDims, eps: f64) -> GResult<NodeId> {
    let mut x = x;
    for i in 0..d.depth {
        x = block(&mut s.pp(i), x, d, eps)?;
    }
    Ok(x)
}
