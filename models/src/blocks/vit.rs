//! The timm ViT `Block` (pre-norm): `x + attn(norm1(x))`, then `x + mlp(norm2(x))`, and a
//! stack of them named `blocks.0`, `blocks.1`, ...
use tessera_dsl::graph::{GResult, NodeId};
use tessera_dsl::spec::VitDims;

use super::{layer_norm, mlp, self_attention, Activation, Attention, LinearInit, Mlp, Scope};

/// One block's sizes and choices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VitBlock {
    pub attn: Attention,
    pub mlp: Mlp,
    pub eps: f64,
}

impl VitBlock {
    /// The block of a ViT stack spec, with timm's choices (qkv bias, exact GELU).
    pub fn of(dims: &VitDims, eps: f64, init: LinearInit) -> VitBlock {
        VitBlock {
            attn: Attention {
                dim: dims.dim,
                heads: dims.heads,
                qkv_bias: true,
                init,
            },
            mlp: Mlp {
                dim: dims.dim,
                hidden: dims.mlp_hidden,
                act: Activation::GeluErf,
                init,
            },
            eps,
        }
    }
}

/// `x [B, L, D] → [B, L, D]`, declaring `norm1`, `attn`, `norm2`, `mlp` in `s`.
pub fn vit_block(s: &mut Scope, x: NodeId, b: &VitBlock, bias: Option<NodeId>) -> GResult<NodeId> {
    let d = b.attn.dim;
    let h = layer_norm(&mut s.pp("norm1"), x, d, b.eps)?;
    let h = self_attention(&mut s.pp("attn"), h, b.attn, bias)?;
    let x = s.g().add(x, h)?;
    let h = layer_norm(&mut s.pp("norm2"), x, d, b.eps)?;
    let h = mlp(&mut s.pp("mlp"), h, b.mlp)?;
    s.g().add(x, h)
}

/// `depth` blocks in sequence, named `0..depth` in `s` (call with `s.pp("blocks")`).
pub fn vit_stack(s: &mut Scope, x: NodeId, depth: usize, b: &VitBlock) -> GResult<NodeId> {
    let mut x = x;
    for i in 0..depth {
        x = vit_block(&mut s.pp(i), x, b, None)?;
    }
    Ok(x)
}
