//! Normalizations over the last dim.
use alloc::vec;

use crate::graph::shape::shape_err;
use crate::graph::{GResult, Graph, NodeId, Op};

impl Graph {
    /// LayerNorm over the last dim with affine `w`, `b` (both `[D]`).
    pub fn layer_norm(&mut self, x: NodeId, w: NodeId, b: NodeId, eps: f64) -> GResult<NodeId> {
        let sx = self.data_shape("layer_norm", x)?;
        let sw = self.data_shape("layer_norm", w)?;
        let sb = self.data_shape("layer_norm", b)?;
        let d = sx.last().copied().unwrap_or(0);
        if sx.is_empty() || sw != [d] || sb != [d] {
            return Err(shape_err(
                "layer_norm",
                &[&sx, &sw, &sb],
                "weight and bias must be [D] with D the last dim of x".into(),
            ));
        }
        self.op(Op::LayerNorm { eps }, vec![x, w, b], sx)
    }

    /// Softmax over the last dim.
    pub fn softmax(&mut self, x: NodeId) -> GResult<NodeId> {
        let sx = self.data_shape("softmax", x)?;
        if sx.is_empty() {
            return Err(shape_err("softmax", &[&sx], "needs at least 1 dim".into()));
        }
        self.op(Op::Softmax, vec![x], sx)
    }

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
