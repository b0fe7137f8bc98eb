//! `nn.LayerNorm(dim, eps)`: `weight` (ones) and `bias` (zeros) over the last dim.
use tessera_dsl::graph::{GResult, NodeId};

use super::Scope;
use crate::params::Init;

/// `x [.., dim]` normalized over `dim`, declaring `weight` and `bias` in `s`.
pub fn layer_norm(s: &mut Scope, x: NodeId, dim: usize, eps: f64) -> GResult<NodeId> {
    let w = s.param("weight", &[dim], Init::Ones)?;
    let b = s.param("bias", &[dim], Init::Zeros)?;
    s.g().layer_norm(x, w, b, eps)
}
