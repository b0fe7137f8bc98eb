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

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use rayon::prelude::*;

    use crate::graph::cpu::{rows_per_task, CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::{misrouted, Op};

    pub(crate) const NORM_PIX: CpuKernel = CpuKernel::new(norm_pix::<f32>, norm_pix::<f64>);

    /// `(x − mean) / sqrt(var_unbiased + eps)` per row, or `/ (sqrt(var_unbiased) + eps)`.
    fn norm_pix<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::NormPix { eps, eps_on_std } = a.node.op else {
            misrouted(&a.node.op)
        };
        let d = a.row_len();
        let ([x, ..], [out, ..]) = (a.ins, a.outs);
        let eps = E::from_f64(eps);
        let rpt = rows_per_task(d);
        let n = E::from_f64(d as f64);
        let n1 = E::from_f64(d as f64 - 1.0);
        out.par_chunks_mut(rpt * d)
            .zip(x.par_chunks(rpt * d))
            .for_each(|(o, xs)| {
                for (orow, xrow) in o.chunks_mut(d).zip(xs.chunks(d)) {
                    let mean = xrow.iter().copied().sum::<E>() / n;
                    let var = xrow.iter().map(|&v| (v - mean) * (v - mean)).sum::<E>() / n1;
                    let inv = if eps_on_std {
                        (var.sqrt() + eps).recip()
                    } else {
                        (var + eps).sqrt().recip()
                    };
                    for j in 0..d {
                        orow[j] = (xrow[j] - mean) * inv;
                    }
                }
            });
        Ok(())
    }
}
