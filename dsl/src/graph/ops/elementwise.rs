//! Elementwise ops: unary functions and their gradients, binary ops with NumPy
//! broadcasting, broadcast copies (`Expand`) and the programs elementwise fusion makes of
//! them (`Fused`).
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::autodiff::{every_input, first_input, Contributions, Vjp, VjpRule};
use crate::graph::shape::{broadcast, broadcasts_to, shape_err};
use crate::graph::{misrouted, BinaryOp, GResult, Graph, NodeId, Op, UnaryOp};

impl Graph {
    /// `a ∘ b` with NumPy broadcasting of both operands.
    pub fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> GResult<NodeId> {
        let name = Op::Binary(op).name();
        let sa = self.data_shape(name, a)?;
        let sb = self.data_shape(name, b)?;
        let out = broadcast(&sa, &sb).ok_or_else(|| {
            shape_err(
                name,
                &[&sa, &sb],
                format!("{op:?}: shapes must broadcast (NumPy rules)"),
            )
        })?;
        self.op(Op::Binary(op), alloc::vec![a, b], out)
    }

    pub fn add(&mut self, a: NodeId, b: NodeId) -> GResult<NodeId> {
        self.binary(BinaryOp::Add, a, b)
    }

    pub fn sub(&mut self, a: NodeId, b: NodeId) -> GResult<NodeId> {
        self.binary(BinaryOp::Sub, a, b)
    }

    pub fn mul(&mut self, a: NodeId, b: NodeId) -> GResult<NodeId> {
        self.binary(BinaryOp::Mul, a, b)
    }

    pub fn div(&mut self, a: NodeId, b: NodeId) -> GResult<NodeId> {
        self.binary(BinaryOp::Div, a, b)
    }

    /// `f(x)` elementwise.
    pub fn unary(&mut self, op: UnaryOp, x: NodeId) -> GResult<NodeId> {
        let s = self.data_shape("unary", x)?;
        self.op(Op::Unary(op), alloc::vec![x], s)
    }

    /// `x * c`.
    pub fn scale(&mut self, x: NodeId, c: f64) -> GResult<NodeId> {
        self.affine(x, c, 0.0)
    }

    /// `x * mul + add`.
    pub fn affine(&mut self, x: NodeId, mul: f64, add: f64) -> GResult<NodeId> {
        self.unary(UnaryOp::Affine { mul, add }, x)
    }

    pub fn neg(&mut self, x: NodeId) -> GResult<NodeId> {
        self.affine(x, -1.0, 0.0)
    }

    /// GELU, exact erf form (PyTorch `nn.GELU()`).
    pub fn gelu_erf(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::GeluErf, x)
    }

    /// GELU, tanh approximation (Flax `nn.gelu`).
    pub fn gelu_tanh(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::GeluTanh, x)
    }

    pub fn relu(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Relu, x)
    }

    pub fn exp(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Exp, x)
    }

    pub fn log(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Log, x)
    }

    pub fn sqrt(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Sqrt, x)
    }

    pub fn recip(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Recip, x)
    }

    pub fn square(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Square, x)
    }

    pub fn tanh(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Tanh, x)
    }

    /// Broadcast copy of `x` to `shape` (MAE's `mask_token.repeat(N, L + 1 − T, 1)`).
    pub fn expand(&mut self, x: NodeId, shape: &[usize]) -> GResult<NodeId> {
        let sx = self.data_shape("expand", x)?;
        if !broadcasts_to(&sx, shape) {
            return Err(shape_err(
                "expand",
                &[&sx, shape],
                "x must broadcast to the target shape".into(),
            ));
        }
        self.op(Op::Expand, vec![x], shape.to_vec())
    }
}

/// `Unary`: an affine map scales `dy`; every other function multiplies by its derivative.
pub(crate) const UNARY_VJP: VjpRule = VjpRule {
    through: every_input,
    vjp: |g, v| {
        let Op::Unary(u) = v.node.op else {
            misrouted(&v.node.op)
        };
        let d = match u {
            UnaryOp::Affine { mul, .. } => g.scale(v.dy, mul)?,
            u => g.op(Op::UnaryGrad(u), vec![v.x(0), v.dy], v.node.shape.clone())?,
        };
        Ok(vec![(v.x(0), d)])
    },
};

/// `Binary`: the product and quotient rules, each contribution summed back to its operand's
/// (broadcast) shape.
pub(crate) const BINARY_VJP: VjpRule = VjpRule {
    through: every_input,
    vjp: binary_vjp,
};

fn binary_vjp(g: &mut Graph, v: &Vjp<'_>) -> GResult<Contributions> {
    let Op::Binary(b) = v.node.op else {
        misrouted(&v.node.op)
    };
    let (x, dy) = ([v.x(0), v.x(1)], v.dy);
    let (da, db) = match b {
        BinaryOp::Add => (Some(dy), Some(dy)),
        BinaryOp::Sub => (Some(dy), Some(g.neg(dy)?)),
        BinaryOp::Mul => (
            if v.need(0) {
                Some(g.mul(dy, x[1])?)
            } else {
                None
            },
            if v.need(1) {
                Some(g.mul(dy, x[0])?)
            } else {
                None
            },
        ),
        BinaryOp::Div => {
            let da = g.div(dy, x[1])?;
            let db = if v.need(1) {
                // d(a/b)/db = −(a/b)/b = −y/b.
                let t = g.mul(da, v.id)?;
                Some(g.neg(t)?)
            } else {
                None
            };
            (Some(da), db)
        }
    };
    let mut out = Vec::new();
    for (j, d) in [da, db].into_iter().enumerate() {
        if let (true, Some(d)) = (v.need(j), d) {
            let shape = v.shape(g, j);
            out.push((x[j], g.sum_to(d, &shape)?));
        }
    }
    Ok(out)
}

/// `Expand`: the copies' gradients summed back to the source shape.
pub(crate) const EXPAND_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let shape = v.shape(g, 0);
        Ok(vec![(v.x(0), g.sum_to(v.dy, &shape)?)])
    },
};
