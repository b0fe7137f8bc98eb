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

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use rayon::prelude::*;

    use crate::graph::cpu::{rows_per_task, CpuKernel, Element, KernelArgs, KernelError};

    pub(crate) const SOFTMAX: CpuKernel = CpuKernel::new(softmax::<f32>, softmax::<f64>);
    pub(crate) const SOFTMAX_GRAD: CpuKernel =
        CpuKernel::new(softmax_grad::<f32>, softmax_grad::<f64>);

    fn softmax<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let d = a.row_len();
        let ([x, ..], [out, ..]) = (a.ins, a.outs);
        let rpt = rows_per_task(d);
        out.par_chunks_mut(rpt * d)
            .zip(x.par_chunks(rpt * d))
            .for_each(|(o, xs)| {
                for (orow, xrow) in o.chunks_mut(d).zip(xs.chunks(d)) {
                    let mx = xrow.iter().copied().fold(E::neg_infinity(), E::max);
                    let mut s = E::zero();
                    for (ov, &xv) in orow.iter_mut().zip(xrow) {
                        *ov = (xv - mx).exp();
                        s = s + *ov;
                    }
                    let inv = s.recip();
                    orow.iter_mut().for_each(|v| *v = *v * inv);
                }
            });
        Ok(())
    }

    /// `y · (dy − Σ dy·y)` per row.
    fn softmax_grad<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let d = a.row_len();
        let ([y, dy, ..], [out, ..]) = (a.ins, a.outs);
        let rpt = rows_per_task(d);
        out.par_chunks_mut(rpt * d)
            .zip(y.par_chunks(rpt * d).zip(dy.par_chunks(rpt * d)))
            .for_each(|(o, (ys, dys))| {
                for ((orow, yrow), dyrow) in o.chunks_mut(d).zip(ys.chunks(d)).zip(dys.chunks(d)) {
                    let s: E = yrow.iter().zip(dyrow).map(|(&a, &b)| a * b).sum();
                    for j in 0..d {
                        orow[j] = yrow[j] * (dyrow[j] - s);
                    }
                }
            });
        Ok(())
    }
}
