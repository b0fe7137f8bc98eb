//! Swin/timm patch merging: each 2x2 neighbourhood `cat(x[0::2,0::2], x[1::2,0::2],
//! x[0::2,1::2], x[1::2,1::2])` → `LayerNorm(4C)` (`norm`) → `Linear(4C, 2C, no bias)`
//! (`reduction`), halving the map and doubling the width.
use tessera_dsl::graph::{GResult, NodeId};

use super::{layer_norm, linear, Linear, LinearInit, Scope};

/// `x [N, H, W, C] → [N, H/2, W/2, 2C]`, declaring `norm` and `reduction` in `s`.
pub fn patch_merging(s: &mut Scope, x: NodeId, eps: f64, init: LinearInit) -> GResult<NodeId> {
    let shape = s.g().shape(x).to_vec();
    let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3]);
    let x = s.g().patch_merge(x)?; // [N, (H/2)·(W/2), 4C]
    let x = layer_norm(&mut s.pp("norm"), x, 4 * c, eps)?;
    let x = linear(
        &mut s.pp("reduction"),
        x,
        Linear::new(4 * c, 2 * c, init).no_bias(),
    )?;
    s.g().reshape(x, &[n, h / 2, w / 2, 2 * c])
}
