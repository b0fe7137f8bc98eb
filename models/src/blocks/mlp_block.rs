//! HiViT's MLP-only block (`BlockWithRPE` with no heads): `x + mlp(norm2(x))`. Stacked inside
//! each patch, these stages never mix patches, which is what lets HiViT drop masked patches
//! before its first layer.
use tessera_dsl::graph::{GResult, NodeId};

use super::{layer_norm, mlp, Mlp, Scope};

/// `x [.., C] → [.., C]`, declaring `norm2` and `mlp` in `s` (the official names).
pub fn mlp_block(s: &mut Scope, x: NodeId, m: Mlp, eps: f64) -> GResult<NodeId> {
    let h = layer_norm(&mut s.pp("norm2"), x, m.dim, eps)?;
    let h = mlp(&mut s.pp("mlp"), h, m)?;
    s.g().add(x, h)
}
