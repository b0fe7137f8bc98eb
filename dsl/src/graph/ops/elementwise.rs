//! Elementwise builders: binary ops with NumPy broadcasting, unary functions.
use alloc::format;

use crate::graph::shape::{broadcast, shape_err};
use crate::graph::{BinaryOp, GResult, Graph, NodeId, Op, UnaryOp};

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
}
