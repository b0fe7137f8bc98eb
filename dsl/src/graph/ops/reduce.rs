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

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use rayon::prelude::*;

    use crate::graph::cpu::ordered_sum::sum_slice;
    use crate::graph::cpu::{CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::MAX_RANK;

    pub(crate) const SUM_TO: CpuKernel = CpuKernel::new(sum_to::<f32>, sum_to::<f64>);

    /// Sums `x [in_shape]` into `out [out_shape]` (out broadcasts to in), after collapsing
    /// the dims into runs of kept and reduced dims (aligned right).
    fn sum_to<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let (in_shape, out_shape) = (a.in_shape(0), a.out_shape());
        let ([x, ..], [out, ..]) = (a.ins, a.outs);
        let r = in_shape.len();
        let off = r - out_shape.len();
        let kept = |i: usize| i >= off && out_shape[i - off] == in_shape[i];
        let mut dims = [0usize; MAX_RANK];
        let mut keep = [false; MAX_RANK];
        let mut n = 0;
        for (i, &len) in in_shape.iter().enumerate() {
            if len == 1 {
                continue;
            }
            let k = kept(i);
            if n > 0 && keep[n - 1] == k {
                dims[n - 1] *= len;
            } else {
                dims[n] = len;
                keep[n] = k;
                n += 1;
            }
        }
        match (n, &keep[..n]) {
            (0, _) => out.copy_from_slice(&x[..out.len()]),
            (1, [false]) => out[0] = sum_slice(x),
            (1, [true]) => out.copy_from_slice(x),
            (2, [false, true]) => column_sums(x, dims[0], dims[1], out),
            (2, [true, false]) => {
                let c = dims[1];
                out.par_iter_mut()
                    .enumerate()
                    .for_each(|(i, o)| *o = x[i * c..(i + 1) * c].iter().copied().sum());
            }
            _ => general(x, &dims[..n], &keep[..n], out),
        }
        Ok(())
    }

    /// `out[c] = Σ_r x[r, c]`, parallel over column ranges.
    fn column_sums<E: Element>(x: &[E], rows: usize, cols: usize, out: &mut [E]) {
        let per = (cols / 4).max(64);
        out.par_chunks_mut(per).enumerate().for_each(|(t, o)| {
            let c0 = t * per;
            o.fill(E::zero());
            for r in 0..rows {
                let xr = &x[r * cols + c0..r * cols + c0 + o.len()];
                for (a, &v) in o.iter_mut().zip(xr) {
                    *a = *a + v;
                }
            }
        });
    }

    fn general<E: Element>(x: &[E], dims: &[usize], keep: &[bool], out: &mut [E]) {
        let n = dims.len();
        let mut ost = [0usize; MAX_RANK];
        let mut acc = 1;
        for i in (0..n).rev() {
            if keep[i] {
                ost[i] = acc;
                acc *= dims[i];
            }
        }
        out.fill(E::zero());
        for (flat, &v) in x.iter().enumerate() {
            let (mut rem, mut o) = (flat, 0);
            for i in (0..n).rev() {
                o += (rem % dims[i]) * ost[i];
                rem /= dims[i];
            }
            out[o] = out[o] + v;
        }
    }
}
