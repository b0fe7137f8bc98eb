//! `nn.Linear`: `weight [out, in]`, optional `bias [out]`, as `x · Wᵀ + b`.
use tessera_dsl::graph::{GResult, NodeId};

use super::Scope;
use crate::params::Init;

/// How a family initialises its Linear layers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinearInit {
    /// timm/MAE `_init_weights`: xavier_uniform weight, zero bias.
    Xavier,
    /// timm's `trunc_normal_(std)` weight, zero bias (HiViT, Swin). timm cuts at ±2 in
    /// absolute terms (its `a=-2, b=2`), which at std 0.02 is effectively a normal.
    TruncNormal(f64),
    /// PyTorch's default: weight and bias `U(±1/sqrt(in))`.
    Torch,
}

impl LinearInit {
    /// The weight's and the bias's initialisation for a `[out, in]` layer.
    pub fn rules(self, fan_in: usize, fan_out: usize) -> (Init, Init) {
        match self {
            LinearInit::Xavier => (Init::XavierUniform { fan_in, fan_out }, Init::Zeros),
            LinearInit::TruncNormal(std) => (Init::TruncNormal { std, bound: 2.0 }, Init::Zeros),
            LinearInit::Torch => {
                let bound = 1.0 / (fan_in as f64).sqrt();
                (Init::Uniform { bound }, Init::Uniform { bound })
            }
        }
    }
}

/// A Linear layer's sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linear {
    pub fan_in: usize,
    pub fan_out: usize,
    pub bias: bool,
    pub init: LinearInit,
}

impl Linear {
    pub fn new(fan_in: usize, fan_out: usize, init: LinearInit) -> Linear {
        Linear {
            fan_in,
            fan_out,
            bias: true,
            init,
        }
    }

    pub fn no_bias(self) -> Linear {
        Linear {
            bias: false,
            ..self
        }
    }
}

/// `x [.., in] → [.., out]`, declaring `weight` and `bias` in `s`.
pub fn linear(s: &mut Scope, x: NodeId, l: Linear) -> GResult<NodeId> {
    let (w_init, b_init) = l.init.rules(l.fan_in, l.fan_out);
    let w = s.param("weight", &[l.fan_out, l.fan_in], w_init)?;
    let b = if l.bias {
        Some(s.param("bias", &[l.fan_out], b_init)?)
    } else {
        None
    };
    s.g().linear(x, w, b)
}
