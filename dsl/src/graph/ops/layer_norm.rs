//! Layer norm over the last dim (`LayerNorm`) and the two kernels of its gradient:
//! `LayerNormGradX` (dx, row statistics recomputed) and `LayerNormGradW` (dw); the bias
//! gradient is a plain `sum_to`.
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::autodiff::{every_input, Contributions, Vjp, VjpRule};
use crate::graph::shape::shape_err;
use crate::graph::{misrouted, GResult, Graph, NodeId, Op};

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
}

/// `LayerNorm`: dx and dw by their own kernels, db as the sum of dy over the rows.
pub(crate) const LAYER_NORM_VJP: VjpRule = VjpRule {
    through: every_input,
    vjp: layer_norm_vjp,
};

fn layer_norm_vjp(g: &mut Graph, v: &Vjp<'_>) -> GResult<Contributions> {
    let Op::LayerNorm { eps } = v.node.op else {
        misrouted(&v.node.op)
    };
    let (x, w, dy) = (v.x(0), v.x(1), v.dy);
    let mut out = Vec::new();
    if v.need(0) {
        let shape = v.node.shape.clone();
        out.push((x, g.op(Op::LayerNormGradX { eps }, vec![x, w, dy], shape)?));
    }
    let dsh = v.shape(g, 1);
    if v.need(1) {
        let d = g.op(Op::LayerNormGradW { eps }, vec![x, dy], dsh.clone())?;
        out.push((w, d));
    }
    if v.need(2) {
        out.push((v.x(2), g.sum_to(dy, &dsh)?));
    }
    Ok(out)
}
