//! Token selection by u32 index: `GatherRows` (MAE's `ids_keep` selection and `ids_restore`
//! unshuffle) and its adjoint `ScatterRows`, each the other's gradient.
use alloc::vec;

use crate::graph::autodiff::{first_input, VjpRule};
use crate::graph::shape::{broadcasts_to, shape_err};
use crate::graph::{GResult, Graph, NodeId, Op};

impl Graph {
    /// `out[b, k] = x[b, idx[b, k]]` with `x [Bx, L, D]`, `idx [Bi, K]` (u32); Bx and Bi are each 1
    /// (shared) or the batch B. Also `x [L, D]`, `idx [K]` → `[K, D]`. MAE's `ids_keep` selection
    /// and `ids_restore` unshuffle are this op.
    pub fn gather_rows(&mut self, x: NodeId, idx: NodeId) -> GResult<NodeId> {
        let sx = self.data_shape("gather_rows", x)?;
        let si = self.index_shape("gather_rows", idx)?;
        let out =
            match (sx.len(), si.len()) {
                (2, 1) => vec![si[0], sx[1]],
                (3, 2) if sx[0] == si[0] || sx[0] == 1 || si[0] == 1 => {
                    vec![sx[0].max(si[0]), si[1], sx[2]]
                }
                _ => return Err(shape_err(
                    "gather_rows",
                    &[&sx, &si],
                    "x [B, L, D] with idx [B, K] (batches equal or 1), or x [L, D] with idx [K]"
                        .into(),
                )),
            };
        self.op(Op::GatherRows, vec![x, idx], out)
    }

    /// Adjoint of [`Graph::gather_rows`]: a zero `[B, len, D]` tensor with
    /// `out[b, idx[b, k]] += src[b, k]`. With `sum_batches` the result is `[1, len, D]`, summed
    /// over the batch (the gradient of a shared table).
    pub fn scatter_rows(
        &mut self,
        src: NodeId,
        idx: NodeId,
        len: usize,
        sum_batches: bool,
    ) -> GResult<NodeId> {
        let ss = self.data_shape("scatter_rows", src)?;
        let si = self.index_shape("scatter_rows", idx)?;
        let out = match (ss.len(), si.len()) {
            (2, 1) if ss[0] == si[0] => vec![len, ss[1]],
            (3, 2) if ss[1] == si[1] && (si[0] == ss[0] || si[0] == 1) => {
                vec![if sum_batches { 1 } else { ss[0] }, len, ss[2]]
            }
            _ => {
                return Err(shape_err(
                    "scatter_rows",
                    &[&ss, &si],
                    "src [B, K, D] with idx [B or 1, K], or src [K, D] with idx [K]".into(),
                ))
            }
        };
        self.op(Op::ScatterRows { len }, vec![src, idx], out)
    }
}

/// `GatherRows`: the rows' gradients scattered back (summed over the batch for a shared
/// table).
pub(crate) const GATHER_ROWS_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let sx = v.shape(g, 0);
        let d = if sx.len() == 3 {
            let sum_batches = sx[0] == 1 && v.node.shape[0] > 1;
            g.scatter_rows(v.dy, v.x(1), sx[1], sum_batches)?
        } else {
            g.scatter_rows(v.dy, v.x(1), sx[0], false)?
        };
        Ok(vec![(v.x(0), d)])
    },
};

/// `ScatterRows`: the gradient gathered at the same rows, brought to the source's shape.
pub(crate) const SCATTER_ROWS_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let d = g.gather_rows(v.dy, v.x(1))?;
        let src = v.shape(g, 0);
        let d = if broadcasts_to(g.shape(d), &src) {
            g.expand(d, &src)?
        } else {
            g.sum_to(d, &src)?
        };
        Ok(vec![(v.x(0), d)])
    },
};

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use rayon::prelude::*;

    use crate::graph::cpu::{check_indices, CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::{misrouted, Op};

    pub(crate) const GATHER_ROWS: CpuKernel =
        CpuKernel::new(gather_rows::<f32>, gather_rows::<f64>);
    pub(crate) const SCATTER_ROWS: CpuKernel =
        CpuKernel::new(scatter_rows::<f32>, scatter_rows::<f64>);

    /// `[B, L, D]` of a row tensor (batch 1 when 2-D) and the batch of its index `[Bi, K]`.
    fn rows_and_index_batch(a: &KernelArgs<'_, impl Element>) -> ((usize, usize, usize), usize) {
        match *a.in_shape(0) {
            [l, d] => ((1, l, d), 1),
            [b, l, d] => ((b, l, d), a.in_shape(1)[0]),
            _ => unreachable!("the builders make 2-D or 3-D row tensors"),
        }
    }

    /// `out[b, k] = x[b', idx[b'', k]]` (batch 1 operands broadcast); `x [bx, l, d]`,
    /// `idx [bi, kk]`.
    fn gather_rows<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let ((bx, l, d), bi) = rows_and_index_batch(&a);
        let ([x, ..], [out, ..], idx) = (a.ins, a.outs, a.idx[1]);
        let kk = idx.len() / bi.max(1);
        check_indices("gather_rows", idx, l)?;
        out.par_chunks_mut(kk * d).enumerate().for_each(|(b, ob)| {
            let xb = if bx == 1 { 0 } else { b };
            let ib = if bi == 1 { 0 } else { b };
            for (k, orow) in ob.chunks_mut(d).enumerate() {
                let r = idx[ib * kk + k] as usize;
                orow.copy_from_slice(&x[(xb * l + r) * d..(xb * l + r + 1) * d]);
            }
        });
        Ok(())
    }

    /// Zero `out [bo, len, d]`, then `out[b, idx[b, k]] += src[b, k]` (bo = 1 sums all
    /// batches); `src [bs, kk, d]`.
    fn scatter_rows<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::ScatterRows { len } = a.node.op else {
            misrouted(&a.node.op)
        };
        let ((bs, kk, d), bi) = rows_and_index_batch(&a);
        let ([src, ..], [out, ..], idx) = (a.ins, a.outs, a.idx[1]);
        check_indices("scatter_rows", idx, len)?;
        let bo = out.len() / (len * d).max(1);
        let add_batch = |ob: &mut [E], b: usize| {
            let ib = if bi == 1 { 0 } else { b };
            for k in 0..kk {
                let r = idx[ib * kk + k] as usize;
                let s = &src[(b * kk + k) * d..(b * kk + k + 1) * d];
                for (o, &v) in ob[r * d..(r + 1) * d].iter_mut().zip(s) {
                    *o = *o + v;
                }
            }
        };
        if bo == bs {
            out.par_chunks_mut(len * d).enumerate().for_each(|(b, ob)| {
                ob.fill(E::zero());
                add_batch(ob, b);
            });
        } else {
            out.fill(E::zero());
            for b in 0..bs {
                add_batch(out, b);
            }
        }
        Ok(())
    }
}
