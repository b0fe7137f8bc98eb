//! The Swin block (pre-norm): `x + window_attention(norm1(x))`, then `x + mlp(norm2(x))`, on a
//! `[N, H, W, C]` map.
use tessera_dsl::graph::{GResult, NodeId};

use super::{layer_norm, mlp, window_attention, Mlp, Scope, WindowAttention};

/// One Swin block's sizes and choices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwinBlock {
    pub attn: WindowAttention,
    pub mlp: Mlp,
    pub eps: f64,
}

/// `x [N, H, W, C] → [N, H, W, C]`, declaring `norm1`, `attn`, `norm2`, `mlp` in `s`; `mask`
/// is an extra additive attention mask per window (see [`window_attention`]).
pub fn swin_block(
    s: &mut Scope,
    x: NodeId,
    b: &SwinBlock,
    mask: Option<NodeId>,
) -> GResult<NodeId> {
    let c = b.attn.dim;
    let h = layer_norm(&mut s.pp("norm1"), x, c, b.eps)?;
    let h = window_attention(&mut s.pp("attn"), h, b.attn, mask)?;
    let x = s.g().add(x, h)?;
    let h = layer_norm(&mut s.pp("norm2"), x, c, b.eps)?;
    let h = mlp(&mut s.pp("mlp"), h, b.mlp)?;
    s.g().add(x, h)
}
