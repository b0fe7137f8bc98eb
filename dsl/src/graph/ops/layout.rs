//! Layout ops: `Reshape` (a view: no kernel runs), and the copies `Permute`, `Roll` (cyclic
//! shift), `Concat`, `Slice` and `Pad` (zero padding, the adjoint of `Slice`).
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::autodiff::{every_input, first_input, Contributions, Vjp, VjpRule};
use crate::graph::shape::{arg_err, numel, shape_err};
use crate::graph::{misrouted, GResult, Graph, NodeId, Op};

impl Graph {
    /// Same elements, new shape (no copy).
    pub fn reshape(&mut self, x: NodeId, shape: &[usize]) -> GResult<NodeId> {
        let sx = self.data_shape("reshape", x)?;
        if numel(&sx) != numel(shape) {
            return Err(shape_err(
                "reshape",
                &[&sx, shape],
                "element counts must agree".into(),
            ));
        }
        if sx == shape {
            return Ok(x);
        }
        self.op(Op::Reshape, vec![x], shape.to_vec())
    }

    /// Axis `j` of the result is axis `axes[j]` of `x` (PyTorch `permute`).
    pub fn permute(&mut self, x: NodeId, axes: &[usize]) -> GResult<NodeId> {
        let sx = self.data_shape("permute", x)?;
        let mut seen = vec![false; sx.len()];
        let ok = axes.len() == sx.len()
            && axes
                .iter()
                .all(|&a| a < sx.len() && !core::mem::replace(&mut seen[a], true));
        if !ok {
            return Err(shape_err(
                "permute",
                &[&sx],
                format!("axes {axes:?} must be a permutation of 0..{}", sx.len()),
            ));
        }
        if axes.iter().enumerate().all(|(i, &a)| i == a) {
            return Ok(x);
        }
        let out: Vec<usize> = axes.iter().map(|&a| sx[a]).collect();
        self.op(
            Op::Permute {
                axes: axes.to_vec(),
            },
            vec![x],
            out,
        )
    }

    /// Swaps two axes.
    pub fn transpose(&mut self, x: NodeId, a: usize, b: usize) -> GResult<NodeId> {
        let r = self.data_shape("transpose", x)?.len();
        if a >= r || b >= r {
            return Err(shape_err(
                "transpose",
                &[self.shape(x)],
                format!("axes {a}, {b} out of range"),
            ));
        }
        let mut axes: Vec<usize> = (0..r).collect();
        axes.swap(a, b);
        self.permute(x, &axes)
    }

    /// Cyclic shift (`torch.roll`): `out[.., (i + shift) mod n, ..] = x[.., i, ..]` for each
    /// `(axis, shift)`.
    pub fn roll(&mut self, x: NodeId, shifts: &[(usize, isize)]) -> GResult<NodeId> {
        let sx = self.data_shape("roll", x)?;
        if let Some(&(a, _)) = shifts.iter().find(|(a, _)| *a >= sx.len()) {
            return Err(shape_err("roll", &[&sx], format!("axis {a} out of range")));
        }
        let norm: Vec<(usize, isize)> = shifts
            .iter()
            .map(|&(a, s)| (a, s.rem_euclid(sx[a].max(1) as isize)))
            .filter(|&(_, s)| s != 0)
            .collect();
        if norm.is_empty() {
            return Ok(x);
        }
        self.op(Op::Roll { shifts: norm }, vec![x], sx)
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
}

/// `Reshape`: the gradient reshaped back.
pub(crate) const RESHAPE_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let shape = v.shape(g, 0);
        Ok(vec![(v.x(0), g.reshape(v.dy, &shape)?)])
    },
};

/// `Permute`: the gradient permuted by the inverse permutation.
pub(crate) const PERMUTE_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let Op::Permute { axes } = &v.node.op else {
            misrouted(&v.node.op)
        };
        let mut inv = vec![0; axes.len()];
        for (j, &a) in axes.iter().enumerate() {
            inv[a] = j;
        }
        Ok(vec![(v.x(0), g.permute(v.dy, &inv)?)])
    },
};

/// `Roll`: the gradient rolled back.
pub(crate) const ROLL_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let Op::Roll { shifts } = &v.node.op else {
            misrouted(&v.node.op)
        };
        let neg: Vec<(usize, isize)> = shifts.iter().map(|&(a, s)| (a, -s)).collect();
        Ok(vec![(v.x(0), g.roll(v.dy, &neg)?)])
    },
};

/// `Concat`: each input's slice of the gradient.
pub(crate) const CONCAT_VJP: VjpRule = VjpRule {
    through: every_input,
    vjp: concat_vjp,
};

fn concat_vjp(g: &mut Graph, v: &Vjp<'_>) -> GResult<Contributions> {
    let Op::Concat { axis } = v.node.op else {
        misrouted(&v.node.op)
    };
    let mut out = Vec::new();
    let mut off = 0;
    for (j, &xj) in v.node.inputs.iter().enumerate() {
        let len = g.shape(xj)[axis];
        if v.need(j) {
            out.push((xj, g.slice(v.dy, axis, off, len)?));
        }
        off += len;
    }
    Ok(out)
}

/// `Slice`: the gradient zero-padded back to the input's length.
pub(crate) const SLICE_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let Op::Slice { axis, start } = v.node.op else {
            misrouted(&v.node.op)
        };
        let total = g.shape(v.x(0))[axis];
        Ok(vec![(v.x(0), g.pad(v.dy, axis, start, total)?)])
    },
};

/// `Pad`: the gradient's slice under the input.
pub(crate) const PAD_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let Op::Pad { axis, before } = v.node.op else {
            misrouted(&v.node.op)
        };
        let len = g.shape(v.x(0))[axis];
        Ok(vec![(v.x(0), g.slice(v.dy, axis, before, len)?)])
    },
};

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    //! Strided copies done a contiguous run at a time.
    use rayon::prelude::*;

    use crate::graph::cpu::{CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::{misrouted, Op, MAX_RANK};

    pub(crate) const PERMUTE: CpuKernel = CpuKernel::new(permute::<f32>, permute::<f64>);
    pub(crate) const ROLL: CpuKernel = CpuKernel::new(roll::<f32>, roll::<f64>);
    pub(crate) const CONCAT: CpuKernel = CpuKernel::new(concat::<f32>, concat::<f64>);
    pub(crate) const SLICE: CpuKernel = CpuKernel::new(slice::<f32>, slice::<f64>);
    pub(crate) const PAD: CpuKernel = CpuKernel::new(pad::<f32>, pad::<f64>);

    /// Row-major strides.
    fn strides(shape: &[usize]) -> [usize; MAX_RANK] {
        let mut s = [0; MAX_RANK];
        let mut acc = 1;
        for i in (0..shape.len()).rev() {
            s[i] = acc;
            acc *= shape[i];
        }
        s
    }

    /// Output axis j is input axis `axes[j]`. Copies one output row (last dim) at a time.
    fn permute<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Permute { axes } = &a.node.op else {
            misrouted(&a.node.op)
        };
        let in_shape = a.in_shape(0);
        let ([x, ..], [out, ..]) = (a.ins, a.outs);
        let r = in_shape.len();
        let ist = strides(in_shape);
        let mut od = [1; MAX_RANK];
        let mut os = [0; MAX_RANK];
        for (j, &ax) in axes.iter().enumerate() {
            od[j] = in_shape[ax];
            os[j] = ist[ax];
        }
        let inner = od[r - 1];
        let step = os[r - 1];
        let rows_per = (4096 / inner.max(1)).max(1);
        out.par_chunks_mut(rows_per * inner)
            .enumerate()
            .for_each(|(t, o)| {
                for (ri, orow) in o.chunks_mut(inner).enumerate() {
                    let (mut rem, mut base) = (t * rows_per + ri, 0);
                    for d in (0..r - 1).rev() {
                        base += (rem % od[d]) * os[d];
                        rem /= od[d];
                    }
                    if step == 1 {
                        orow.copy_from_slice(&x[base..base + inner]);
                    } else {
                        for (c, v) in orow.iter_mut().enumerate() {
                            *v = x[base + c * step];
                        }
                    }
                }
            });
        Ok(())
    }

    /// `out[.., (i + s) mod n, ..] = x[.., i, ..]` for every `(axis, s)` (s already in 0..n).
    fn roll<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Roll { shifts } = &a.node.op else {
            misrouted(&a.node.op)
        };
        let shape = a.in_shape(0);
        let ([x, ..], [out, ..]) = (a.ins, a.outs);
        let r = shape.len();
        let st = strides(shape);
        let mut sh = [0usize; MAX_RANK];
        for &(ax, s) in shifts {
            sh[ax] = s as usize;
        }
        let inner = shape[r - 1];
        let last_shift = sh[r - 1];
        let rows_per = (4096 / inner.max(1)).max(1);
        out.par_chunks_mut(rows_per * inner)
            .enumerate()
            .for_each(|(t, o)| {
                for (ri, orow) in o.chunks_mut(inner).enumerate() {
                    let (mut rem, mut base) = (t * rows_per + ri, 0);
                    for d in (0..r - 1).rev() {
                        let i = rem % shape[d];
                        rem /= shape[d];
                        // Output index i reads input index (i − s) mod n.
                        base += ((i + shape[d] - sh[d]) % shape[d]) * st[d];
                    }
                    let src = &x[base..base + inner];
                    // out[c] = src[(c − s) mod n]: two contiguous pieces.
                    let s = last_shift;
                    orow[s..].copy_from_slice(&src[..inner - s]);
                    orow[..s].copy_from_slice(&src[inner - s..]);
                }
            });
        Ok(())
    }

    /// Each input copied into its block of the output along the axis.
    fn concat<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Concat { axis } = a.node.op else {
            misrouted(&a.node.op)
        };
        let (_, n_dst, inner) = around(a.out_shape(), axis);
        let mut off = 0;
        let [out, ..] = a.outs;
        for (j, input) in a.ins.iter().enumerate().take(a.node.inputs.len()) {
            let n = a.graph.shape(a.node.inputs[j])[axis];
            copy_blocks(input, n, 0, out, n_dst, off, n, inner);
            off += n;
        }
        Ok(())
    }

    fn slice<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Slice { axis, start } = a.node.op else {
            misrouted(&a.node.op)
        };
        let (_, n_src, inner) = around(a.in_shape(0), axis);
        let n = a.out_shape()[axis];
        let ([x, ..], [out, ..]) = (a.ins, a.outs);
        copy_blocks(x, n_src, start, out, n, 0, n, inner);
        Ok(())
    }

    fn pad<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Pad { axis, before } = a.node.op else {
            misrouted(&a.node.op)
        };
        let (_, n_dst, inner) = around(a.out_shape(), axis);
        let n = a.in_shape(0)[axis];
        let ([x, ..], [out, ..]) = (a.ins, a.outs);
        out.fill(E::zero());
        copy_blocks(x, n, 0, out, n_dst, before, n, inner);
        Ok(())
    }

    /// Splits `shape` around `axis` into (outer, axis length, inner).
    fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
        let outer = shape[..axis].iter().product();
        let inner = shape[axis + 1..].iter().product();
        (outer, shape[axis], inner)
    }

    /// Copies `n` entries along the axis from `src` (viewed `[outer, n_src·inner]`) at
    /// `src_off` into `dst` (viewed `[outer, n_dst·inner]`) at `dst_off`: one block copy per
    /// outer index.
    #[allow(clippy::too_many_arguments)]
    fn copy_blocks<E: Element>(
        src: &[E],
        n_src: usize,
        src_off: usize,
        dst: &mut [E],
        n_dst: usize,
        dst_off: usize,
        n: usize,
        inner: usize,
    ) {
        let outer = dst.len() / (n_dst * inner).max(1);
        let row = n * inner;
        for o in 0..outer {
            let s = (o * n_src + src_off) * inner;
            let d = (o * n_dst + dst_off) * inner;
            dst[d..d + row].copy_from_slice(&src[s..s + row]);
        }
    }
}
