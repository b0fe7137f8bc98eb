//! Token selection and assembly: gather/scatter by index, concat, slice, pad, expand.
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::shape::{arg_err, broadcasts_to, shape_err};
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

    /// Concatenation along `axis`; all other dims must agree.
    pub fn concat(&mut self, xs: &[NodeId], axis: usize) -> GResult<NodeId> {
        let shapes: Vec<Vec<usize>> = xs
            .iter()
            .map(|&x| self.data_shape("concat", x))
            .collect::<GResult<_>>()?;
        let refs: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
        let Some(first) = shapes.first() else {
            return Err(arg_err("concat", "needs at least one input".into()));
        };
        if axis >= first.len() {
            return Err(shape_err(
                "concat",
                &refs,
                format!("axis {axis} out of range"),
            ));
        }
        let mut out = first.clone();
        out[axis] = 0;
        for s in &shapes {
            let same_rank = s.len() == first.len();
            if !same_rank || (0..s.len()).any(|i| i != axis && s[i] != first[i]) {
                return Err(shape_err(
                    "concat",
                    &refs,
                    format!("all dims except axis {axis} must agree"),
                ));
            }
            out[axis] += s[axis];
        }
        self.op(Op::Concat { axis }, xs.to_vec(), out)
    }

    /// `x[.., start..start+len, ..]` along `axis`.
    pub fn slice(&mut self, x: NodeId, axis: usize, start: usize, len: usize) -> GResult<NodeId> {
        let sx = self.data_shape("slice", x)?;
        if axis >= sx.len() || start + len > sx[axis] {
            return Err(shape_err(
                "slice",
                &[&sx],
                format!(
                    "range {start}..{} on axis {axis} out of bounds",
                    start + len
                ),
            ));
        }
        let mut out = sx.clone();
        out[axis] = len;
        self.op(Op::Slice { axis, start }, vec![x], out)
    }

    /// Zero padding along `axis`: `before` zeros, then x, then zeros up to `total`.
    pub fn pad(&mut self, x: NodeId, axis: usize, before: usize, total: usize) -> GResult<NodeId> {
        let sx = self.data_shape("pad", x)?;
        if axis >= sx.len() || before + sx[axis] > total {
            return Err(shape_err(
                "pad",
                &[&sx],
                format!("{before} + dim does not fit in {total} on axis {axis}"),
            ));
        }
        let mut out = sx.clone();
        out[axis] = total;
        self.op(Op::Pad { axis, before }, vec![x], out)
    }

    /// Broadcast copy of `x` to `shape` (MAE's `mask_token.repeat(N, L + 1 − T, 1)`).
    pub fn expand(&mut self, x: NodeId, shape: &[usize]) -> GResult<NodeId> {
        let sx = self.data_shape("expand", x)?;
        if !broadcasts_to(&sx, shape) {
            return Err(shape_err(
                "expand",
                &[&sx, shape],
                "x must broadcast to the target shape".into(),
            ));
        }
        self.op(Op::Expand, vec![x], shape.to_vec())
    }
}
