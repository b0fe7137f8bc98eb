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

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use rayon::prelude::*;

    use crate::graph::cpu::ordered_sum::sum_in_order;
    use crate::graph::cpu::{check_indices, CpuKernel, Element, KernelArgs, KernelError};

    pub(crate) const MASKED_MSE: CpuKernel = CpuKernel::new(masked_mse::<f32>, masked_mse::<f64>);
    pub(crate) const MASKED_MSE_GRAD: CpuKernel =
        CpuKernel::new(masked_mse_grad::<f32>, masked_mse_grad::<f64>);
    pub(crate) const CROSS_ENTROPY: CpuKernel =
        CpuKernel::new(cross_entropy::<f32>, cross_entropy::<f64>);
    pub(crate) const CROSS_ENTROPY_GRAD: CpuKernel =
        CpuKernel::new(cross_entropy_grad::<f32>, cross_entropy_grad::<f64>);

    /// `Σ_r mask[r] · mean_p (pred − t)² / Σ mask` over rows of length `p`.
    fn masked_mse<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let p = *a.in_shape(0).last().unwrap_or(&1);
        let ([pred, t, mask, ..], [out, ..]) = (a.ins, a.outs);
        let num: E = sum_in_order(
            pred.par_chunks(p)
                .zip(t.par_chunks(p))
                .zip(mask.par_iter())
                .map(|((a, b), &m)| {
                    if m == E::zero() {
                        return E::zero();
                    }
                    let s: E = a.iter().zip(b).map(|(&x, &y)| (x - y) * (x - y)).sum();
                    m * s / E::from_f64(p as f64)
                }),
        );
        out[0] = num / mask.iter().copied().sum::<E>();
        Ok(())
    }

    /// d pred = dy · mask · 2 (pred − t) / (p · Σ mask).
    fn masked_mse_grad<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let p = *a.in_shape(0).last().unwrap_or(&1);
        let ([pred, t, mask, dy, ..], [out, ..]) = (a.ins, a.outs);
        let msum: E = mask.iter().copied().sum();
        let k = dy[0] * E::from_f64(2.0 / p as f64) / msum;
        out.par_chunks_mut(p)
            .zip(pred.par_chunks(p).zip(t.par_chunks(p)))
            .zip(mask.par_iter())
            .for_each(|((o, (a, b)), &m)| {
                for ((ov, &x), &y) in o.iter_mut().zip(a).zip(b) {
                    *ov = k * m * (x - y);
                }
            });
        Ok(())
    }

    fn lse<E: Element>(row: &[E]) -> E {
        let mx = row.iter().copied().fold(E::neg_infinity(), E::max);
        mx + row.iter().map(|&x| (x - mx).exp()).sum::<E>().ln()
    }

    /// `Σ w_i (lse_i − logit_i[label_i]) / Σ w`.
    fn cross_entropy<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let v = a.in_shape(0)[1];
        let ([logits, _, w, ..], [out, ..], labels) = (a.ins, a.outs, a.idx[1]);
        check_indices("cross_entropy", labels, v)?;
        let num: E = sum_in_order(
            logits
                .par_chunks(v)
                .zip(labels.par_iter().zip(w.par_iter()))
                .map(|(row, (&l, &wi))| wi * (lse(row) - row[l as usize])),
        );
        out[0] = num / w.iter().copied().sum::<E>();
        Ok(())
    }

    /// d logits = dy · w_i / Σ w · (softmax − onehot).
    fn cross_entropy_grad<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let v = a.in_shape(0)[1];
        let ([logits, _, w, dy, ..], [out, ..], labels) = (a.ins, a.outs, a.idx[1]);
        check_indices("cross_entropy", labels, v)?;
        let k = dy[0] / w.iter().copied().sum::<E>();
        out.par_chunks_mut(v)
            .zip(logits.par_chunks(v))
            .zip(labels.par_iter().zip(w.par_iter()))
            .for_each(|((o, row), (&l, &wi))| {
                let s = lse(row);
                for (j, (ov, &x)) in o.iter_mut().zip(row).enumerate() {
                    let onehot = if j == l as usize { E::one() } else { E::zero() };
                    *ov = k * wi * ((x - s).exp() - onehot);
                }
            });
        Ok(())
    }
}
