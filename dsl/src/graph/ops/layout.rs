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
