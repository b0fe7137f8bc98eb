//! Layout ops: reshape (a view), permute, cyclic roll.
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::shape::{numel, shape_err};
use crate::graph::{GResult, Graph, NodeId, Op};

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
}
