//! Reductions: `SumTo` (the sum over broadcast dims, adjoint of `expand`) and the sums and
//! means built on it.
use alloc::format;
use alloc::vec;

use crate::graph::autodiff::{first_input, VjpRule};
use crate::graph::shape::{broadcasts_to, numel, shape_err};
use crate::graph::{GResult, Graph, NodeId, Op};

impl Graph {
    /// Sums `x` over the dims in which `shape` broadcasts to it (the adjoint of `expand`).
    pub fn sum_to(&mut self, x: NodeId, shape: &[usize]) -> GResult<NodeId> {
        let sx = self.data_shape("sum_to", x)?;
        if !broadcasts_to(shape, &sx) {
            return Err(shape_err(
                "sum_to",
                &[&sx, shape],
                "the target shape must broadcast to x".into(),
            ));
        }
        if sx == shape {
            return Ok(x);
        }
        self.op(Op::SumTo, vec![x], shape.to_vec())
    }

    /// Sum over `axis`; keeps it as size 1 if `keepdim`.
    pub fn sum(&mut self, x: NodeId, axis: usize, keepdim: bool) -> GResult<NodeId> {
        let sx = self.data_shape("sum", x)?;
        if axis >= sx.len() {
            return Err(shape_err(
                "sum",
                &[&sx],
                format!("axis {axis} out of range"),
            ));
        }
        let mut kept = sx.clone();
        kept[axis] = 1;
        let s = self.op(Op::SumTo, vec![x], kept.clone())?;
        if keepdim {
            Ok(s)
        } else {
            kept.remove(axis);
            self.reshape(s, &kept)
        }
    }

    /// Mean over `axis`.
    pub fn mean(&mut self, x: NodeId, axis: usize, keepdim: bool) -> GResult<NodeId> {
        let n = self.data_shape("mean", x)?.get(axis).copied().unwrap_or(1);
        let s = self.sum(x, axis, keepdim)?;
        self.scale(s, 1.0 / n as f64)
    }

    /// Sum of all elements, shape `[]`.
    pub fn sum_all(&mut self, x: NodeId) -> GResult<NodeId> {
        let sx = self.data_shape("sum_all", x)?;
        let ones = vec![1; sx.len()];
        let s = self.op(Op::SumTo, vec![x], ones)?;
        self.reshape(s, &[])
    }

    /// Mean of all elements, shape `[]`.
    pub fn mean_all(&mut self, x: NodeId) -> GResult<NodeId> {
        let n = numel(&self.data_shape("mean_all", x)?);
        let s = self.sum_all(x)?;
        self.scale(s, 1.0 / n as f64)
    }
}

/// `SumTo`: the gradient broadcast back.
pub(crate) const SUM_TO_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let shape = v.shape(g, 0);
        Ok(vec![(v.x(0), g.expand(v.dy, &shape)?)])
    },
};
