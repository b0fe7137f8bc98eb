//! MAE's per-patch target normalization (`NormPix`): a target, so it passes no gradient.
use alloc::vec;

use crate::graph::shape::shape_err;
use crate::graph::{GResult, Graph, NodeId, Op};

impl Graph {
    /// MAE's norm-pix target per row of the last dim: `(x − mean) / sqrt(var_unbiased + eps)`.
    /// The result carries no gradient.
    pub fn norm_pix(&mut self, x: NodeId, eps: f64) -> GResult<NodeId> {
        self.norm_pix_with(x, eps, false)
    }

    /// Norm-pix with the eps placement chosen: `eps_on_std` gives VideoMAE's
    /// `(x − mean) / (sqrt(var_unbiased) + eps)`.
    pub fn norm_pix_with(&mut self, x: NodeId, eps: f64, eps_on_std: bool) -> GResult<NodeId> {
        let sx = self.data_shape("norm_pix", x)?;
        if sx.last().copied().unwrap_or(0) < 2 {
            return Err(shape_err(
                "norm_pix",
                &[&sx],
                "the last dim needs at least 2 values (unbiased variance)".into(),
            ));
        }
        self.op(Op::NormPix { eps, eps_on_std }, vec![x], sx)
    }
}
