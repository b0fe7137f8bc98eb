//! Layer norm over the last dim (`LayerNorm`) and the two kernels of its gradient:
//! `LayerNormGradX` (dx, row statistics recomputed) and `LayerNormGradW` (dw); the bias
//! gradient is a plain `sum_to`. The CPU backend fuses all three (with the residual add of dx
//! and its column sums) into `LayerNormGrad`: one pass over the rows, the weight gradients
//! reduced once (no gradient rule, no GPU kernel: made by CPU fusion after `grad`).
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

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use rayon::prelude::*;

    use crate::graph::cpu::simd::{lane_sum, lane_sum2, vectorized, SimdLoop};
    use crate::graph::cpu::{rows_per_task, CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::{misrouted, Graph, Node, Op};

    pub(crate) const LAYER_NORM: CpuKernel = CpuKernel::new(layer_norm::<f32>, layer_norm::<f64>);
    pub(crate) const LAYER_NORM_GRAD_X: CpuKernel =
        CpuKernel::new(layer_norm_grad_x::<f32>, layer_norm_grad_x::<f64>);
    /// Scratch: the row statistics (2 per row; sized by the elements, as a bound).
    pub(crate) const LAYER_NORM_GRAD_W: CpuKernel =
        CpuKernel::new(layer_norm_grad_w::<f32>, layer_norm_grad_w::<f64>)
            .with_scratch(|g, node| 2 * g.node(node.inputs[0]).numel());

    /// Scratch: per block of rows, partial sums of dw, db and (if summed) the output.
    pub(crate) const LAYER_NORM_GRAD: CpuKernel =
        CpuKernel::new(layer_norm_grad::<f32>, layer_norm_grad::<f64>).with_scratch(grad_partials);

    /// The eps of any op of the family.
    fn eps(op: &Op) -> f64 {
        match *op {
            Op::LayerNorm { eps }
            | Op::LayerNormGradX { eps }
            | Op::LayerNormGradW { eps }
            | Op::LayerNormGrad { eps, .. } => eps,
            ref op => misrouted(op),
        }
    }

    /// Mean and 1/sqrt(biased var + eps) of one row (two passes, stable).
    #[inline(always)]
    fn row_stats<E: Element>(x: &[E], eps: E) -> (E, E) {
        let n = E::from_f64(x.len() as f64);
        let mean = lane_sum(x) / n;
        let var = lane_sum2(x, x, |v, _| (v - mean) * (v - mean)) / n;
        (mean, (var + eps).sqrt().recip())
    }

    /// One row of dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)), g = dy·w, into `orow` (which
    /// holds g on the way). Shared by `LayerNormGradX` and the fused `LayerNormGrad`, so the
    /// two round alike (dx is all cancellation where the row has few values). Returns the
    /// row's statistics.
    #[inline(always)]
    fn dx_row<E: Element>(xrow: &[E], dyrow: &[E], w: &[E], orow: &mut [E], eps: E) -> (E, E) {
        let inv_d = E::from_f64(1.0 / w.len() as f64);
        let (mean, rstd) = row_stats(xrow, eps);
        for ((o, &dy), &wj) in orow.iter_mut().zip(dyrow).zip(w) {
            *o = dy * wj;
        }
        let sg = lane_sum(orow);
        let sgx = lane_sum2(orow, xrow, |g, x| g * (x - mean) * rstd);
        let (mg, mgx) = (sg * inv_d, sgx * inv_d);
        for (o, &x) in orow.iter_mut().zip(xrow) {
            let xh = (x - mean) * rstd;
            *o = rstd * (*o - mg - xh * mgx);
        }
        (mean, rstd)
    }

    fn layer_norm<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let eps = E::from_f64(eps(&a.node.op));
        let ([x, w, b, ..], [out, ..]) = (a.ins, a.outs);
        let d = w.len();
        let rpt = rows_per_task(d);
        struct Rows<'a, 'o, E> {
            x: &'a [E],
            w: &'a [E],
            b: &'a [E],
            out: &'o mut [E],
            eps: E,
        }
        impl<E: Element> SimdLoop for Rows<'_, '_, E> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                let d = self.w.len();
                for (orow, xrow) in self.out.chunks_mut(d).zip(self.x.chunks(d)) {
                    let (mean, rstd) = row_stats(xrow, self.eps);
                    for j in 0..d {
                        orow[j] = (xrow[j] - mean) * rstd * self.w[j] + self.b[j];
                    }
                }
            }
        }
        out.par_chunks_mut(rpt * d)
            .zip(x.par_chunks(rpt * d))
            .for_each(|(out, x)| vectorized(Rows { x, w, b, out, eps }));
        Ok(())
    }

    /// Partial-sum rows per block of `rows_per_task` rows: dw and db, and the output's
    /// column sums if asked for (the node's own shape says it all).
    fn grad_partials(_: &Graph, node: &Node) -> usize {
        let Op::LayerNormGrad { sum_out, .. } = node.op else {
            misrouted(&node.op)
        };
        let d = node.shape[node.shape.len() - 1];
        let blocks = (node.numel() / d.max(1)).div_ceil(rows_per_task(d));
        blocks * (2 + usize::from(sum_out)) * d
    }

    /// One block of rows of the fused LayerNorm backward: its dx (+ dres) rows, and its
    /// partial sums of dw = Σ dy·x̂, db = Σ dy and (if `sums.len()` is 3·d) of the output.
    struct GradRows<'a, 'o, E> {
        x: &'a [E],
        w: &'a [E],
        dy: &'a [E],
        dres: Option<&'a [E]>,
        out: &'o mut [E],
        sums: &'o mut [E],
        eps: E,
    }

    impl<E: Element> SimdLoop for GradRows<'_, '_, E> {
        type Output = ();

        #[inline(always)]
        fn run(self) {
            let d = self.w.len();
            let (dw, rest) = self.sums.split_at_mut(d);
            let (db, cs) = rest.split_at_mut(d);
            for (r, orow) in self.out.chunks_mut(d).enumerate() {
                let (xrow, dyrow) = (&self.x[r * d..][..d], &self.dy[r * d..][..d]);
                // dw as LayerNormGradW computes it, from the same row statistics.
                let (mean, rstd) = dx_row(xrow, dyrow, self.w, orow, self.eps);
                for (((dwj, dbj), &dy), &x) in dw.iter_mut().zip(&mut *db).zip(dyrow).zip(xrow) {
                    *dwj = *dwj + dy * (x - mean) * rstd;
                    *dbj = *dbj + dy;
                }
                if let Some(dres) = self.dres {
                    for (o, &v) in orow.iter_mut().zip(&dres[r * d..][..d]) {
                        *o = *o + v;
                    }
                }
                if !cs.is_empty() {
                    for (c, &o) in cs.iter_mut().zip(orow.iter()) {
                        *c = *c + o;
                    }
                }
            }
        }
    }

    /// `LayerNormGrad`: dx (+ dres) per block of rows in parallel with each block's partial
    /// sums of dw, db (and of the output), then the partial sums added in block order.
    fn layer_norm_grad<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::LayerNormGrad {
            eps,
            residual,
            sum_out,
        } = a.node.op
        else {
            misrouted(&a.node.op)
        };
        let eps = E::from_f64(eps);
        let [x, w, dy, dres, ..] = a.ins;
        let dres = residual.then_some(dres);
        let [out, dw, db, cs] = a.outs;
        let d = w.len();
        let rpt = rows_per_task(d);
        let width = (2 + usize::from(sum_out)) * d;
        let partials = &mut a.scratch[..grad_partials(a.graph, a.node)];
        partials.fill(E::zero());
        out.par_chunks_mut(rpt * d)
            .zip(partials.par_chunks_mut(width))
            .enumerate()
            .for_each(|(t, (out, sums))| {
                let rows = t * rpt * d..t * rpt * d + out.len();
                vectorized(GradRows {
                    x: &x[rows.clone()],
                    w,
                    dy: &dy[rows.clone()],
                    dres: dres.map(|r| &r[rows]),
                    out,
                    sums,
                    eps,
                })
            });
        let mut totals = alloc::vec![dw, db];
        if sum_out {
            totals.push(cs);
        }
        for (k, total) in totals.into_iter().enumerate() {
            total.fill(E::zero());
            for block in partials.chunks_exact(width) {
                for (t, &p) in total.iter_mut().zip(&block[k * d..(k + 1) * d]) {
                    *t = *t + p;
                }
            }
        }
        Ok(())
    }

    /// dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)) with g = dy·w.
    fn layer_norm_grad_x<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let eps = E::from_f64(eps(&a.node.op));
        let ([x, w, dy, ..], [out, ..]) = (a.ins, a.outs);
        let d = w.len();
        let rpt = rows_per_task(d);
        struct Rows<'a, 'o, E>(&'a [E], &'a [E], &'a [E], &'o mut [E], E);
        impl<E: Element> SimdLoop for Rows<'_, '_, E> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                let Rows(x, dy, w, out, eps) = self;
                let d = w.len();
                for ((orow, xrow), dyrow) in out.chunks_mut(d).zip(x.chunks(d)).zip(dy.chunks(d)) {
                    dx_row(xrow, dyrow, w, orow, eps);
                }
            }
        }
        out.par_chunks_mut(rpt * d)
            .zip(x.par_chunks(rpt * d).zip(dy.par_chunks(rpt * d)))
            .for_each(|(o, (xs, dys))| vectorized(Rows(xs, dys, w, o, eps)));
        Ok(())
    }

    /// dw[j] = Σ_rows dy·x̂. Row statistics go to scratch (2 per row), then each task sums a
    /// range of columns over all rows, so no partial sums need merging.
    fn layer_norm_grad_w<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let eps = E::from_f64(eps(&a.node.op));
        let ([x, dy, ..], [out, ..]) = (a.ins, a.outs);
        let d = out.len();
        let rows = x.len() / d.max(1);
        let stats = &mut a.scratch[..2 * rows];
        stats
            .par_chunks_mut(2 * 64)
            .zip(x.par_chunks(64 * d))
            .for_each(|(st, xs)| {
                for (s, xrow) in st.chunks_mut(2).zip(xs.chunks(d)) {
                    let (m, r) = row_stats(xrow, eps);
                    s[0] = m;
                    s[1] = r;
                }
            });
        let stats = &*stats;
        let cols = (d / 4).max(16);
        out.par_chunks_mut(cols).enumerate().for_each(|(t, o)| {
            let c0 = t * cols;
            o.fill(E::zero());
            for r in 0..rows {
                let (m, rs) = (stats[2 * r], stats[2 * r + 1]);
                let xr = &x[r * d + c0..r * d + c0 + o.len()];
                let dr = &dy[r * d + c0..r * d + c0 + o.len()];
                for j in 0..o.len() {
                    o[j] = o[j] + dr[j] * (xr[j] - m) * rs;
                }
            }
        });
        Ok(())
    }
}
