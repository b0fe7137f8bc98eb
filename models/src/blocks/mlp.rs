//! timm's `Mlp`: `fc2(act(fc1(x)))`.
use tessera_dsl::graph::{GResult, NodeId};

use super::{linear, Linear, LinearInit, Scope};

/// The MLP's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `nn.GELU()`: the exact erf form (PyTorch families).
    GeluErf,
    /// Flax `nn.gelu`: the tanh approximation (M3AE).
    GeluTanh,
}

/// An MLP's sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mlp {
    pub dim: usize,
    pub hidden: usize,
    pub act: Activation,
    pub init: LinearInit,
}

/// `x [.., dim] → [.., dim]`, declaring `fc1` and `fc2` in `s`.
pub fn mlp(s: &mut Scope, x: NodeId, m: Mlp) -> GResult<NodeId> {
    let h = linear(&mut s.pp("fc1"), x, Linear::new(m.dim, m.hidden, m.init))?;
    let h = match m.act {
        Activation::GeluErf => s.g().gelu_erf(h)?,
        Activation::GeluTanh => s.g().gelu_tanh(h)?,
    };
    linear(&mut s.pp("fc2"), h, Linear::new(m.hidden, m.dim, m.init))
}
