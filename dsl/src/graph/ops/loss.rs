//! Losses: MAE's masked MSE (`MaskedMse`) and the weighted cross-entropy (`CrossEntropy`),
//! each with its gradient kernel. Only the prediction (logits) gets a gradient.
use alloc::vec;

use crate::graph::autodiff::{first_input, VjpRule};
use crate::graph::shape::shape_err;
use crate::graph::{GResult, Graph, NodeId, Op};

impl Graph {
    /// `Σ_l mask[b,l] · mean_P (pred − target)² / Σ mask` over `pred, target [B, L, P]` and
    /// `mask [B, L]` (1 = removed, counted). Shape `[]`. The target gets no gradient.
    pub fn masked_mse(&mut self, pred: NodeId, target: NodeId, mask: NodeId) -> GResult<NodeId> {
        let sp = self.data_shape("masked_mse", pred)?;
        let st = self.data_shape("masked_mse", target)?;
        let sm = self.data_shape("masked_mse", mask)?;
        if sp.is_empty() || sp != st || sm[..] != sp[..sp.len() - 1] {
            return Err(shape_err(
                "masked_mse",
                &[&sp, &st, &sm],
                "pred and target [.., P] equal, mask [..] without the last dim".into(),
            ));
        }
        self.op(Op::MaskedMse, vec![pred, target, mask], vec![])
    }

    /// `Σ_i w_i · (−log softmax(logits_i)[label_i]) / Σ w` over `logits [N, V]`, `labels [N]`
    /// (u32) and `weights [N]` (e.g. 1 for masked non-padding text tokens). Shape `[]`.
    pub fn cross_entropy(
        &mut self,
        logits: NodeId,
        labels: NodeId,
        weights: NodeId,
    ) -> GResult<NodeId> {
        let sl = self.data_shape("cross_entropy", logits)?;
        let si = self.index_shape("cross_entropy", labels)?;
        let sw = self.data_shape("cross_entropy", weights)?;
        if sl.len() != 2 || si != [sl[0]] || sw != [sl[0]] {
            return Err(shape_err(
                "cross_entropy",
                &[&sl, &si, &sw],
                "logits [N, V], labels [N], weights [N]".into(),
            ));
        }
        self.op(Op::CrossEntropy, vec![logits, labels, weights], vec![])
    }
}

/// `MaskedMse`: d pred by its own kernel.
pub(crate) const MASKED_MSE_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let ins = vec![v.x(0), v.x(1), v.x(2), v.dy];
        let d = g.op(Op::MaskedMseGrad, ins, v.shape(g, 0))?;
        Ok(vec![(v.x(0), d)])
    },
};

/// `CrossEntropy`: d logits by its own kernel.
pub(crate) const CROSS_ENTROPY_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let ins = vec![v.x(0), v.x(1), v.x(2), v.dy];
        let d = g.op(Op::CrossEntropyGrad, ins, v.shape(g, 0))?;
        Ok(vec![(v.x(0), d)])
    },
};
