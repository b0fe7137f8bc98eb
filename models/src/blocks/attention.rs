//! Multi-head self-attention on the packed `self_attention` op: `proj(attn(qkv(x)))` with the
//! timm layout (qkv channel `s·D + h·d + i`), scale `head_dim^-0.5`, and an optional additive
//! bias (a relative-position bias or a mask) broadcast to `[B, H, L, L]`.
use tessera_dsl::graph::{GResult, NodeId};

use super::{linear, Linear, LinearInit, Scope};

/// An attention layer's sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attention {
    pub dim: usize,
    pub heads: usize,
    /// A bias on the qkv projection (timm `qkv_bias=True`, every MAE-family PyTorch model).
    pub qkv_bias: bool,
    pub init: LinearInit,
}

impl Attention {
    pub fn scale(&self) -> f64 {
        ((self.dim / self.heads) as f64).powf(-0.5)
    }
}

/// `x [B, L, D] → [B, L, D]`, declaring `qkv` and `proj` in `s`.
pub fn self_attention(
    s: &mut Scope,
    x: NodeId,
    a: Attention,
    bias: Option<NodeId>,
) -> GResult<NodeId> {
    let mut qkv_layer = Linear::new(a.dim, 3 * a.dim, a.init);
    qkv_layer.bias = a.qkv_bias;
    let qkv = linear(&mut s.pp("qkv"), x, qkv_layer)?;
    let o = s.g().self_attention(qkv, a.heads, bias, a.scale())?;
    linear(&mut s.pp("proj"), o, Linear::new(a.dim, a.dim, a.init))
}
