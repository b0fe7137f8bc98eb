//! Softmax over the last dim (`Softmax`) and its gradient kernel (`SoftmaxGrad`).
use alloc::vec;

use crate::graph::autodiff::{every_input, VjpRule};
use crate::graph::shape::shape_err;
use crate::graph::{GResult, Graph, NodeId, Op};

impl Graph {
    /// Softmax over the last dim.
    pub fn softmax(&mut self, x: NodeId) -> GResult<NodeId> {
        let sx = self.data_shape("softmax", x)?;
        if sx.is_empty() {
            return Err(shape_err("softmax", &[&sx], "needs at least 1 dim".into()));
        }
        self.op(Op::Softmax, vec![x], sx)
    }
}

/// `Softmax`: `y · (dy − Σ dy·y)` from the forward's output, by one kernel.
pub(crate) const SOFTMAX_VJP: VjpRule = VjpRule {
    through: every_input,
    vjp: |g, v| {
        let d = g.op(Op::SoftmaxGrad, vec![v.id, v.dy], v.node.shape.clone())?;
        Ok(vec![(v.x(0), d)])
    },
};
