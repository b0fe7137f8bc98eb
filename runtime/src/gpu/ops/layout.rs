//! Launchers of `strided_copy` (`shaders/wgsl/layout.wgsl`): concat, slice, pad, permute and
//! roll as one strided index map each (expand runs through the elementwise interpreter).
use tessera_dsl::graph::shape::broadcast_strides;

use tessera_dsl::graph::{misrouted, Op};

use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::lowering::{GpuLowering, Lowering};
use super::super::{BackendError, GpuContext, PipelineCache};
use super::fill::prepare_fill;
use super::support::{check_rank, contiguous_strides, groups_1d, push_u32s, u32s, WG};
use super::word;
use tessera_shaders as kernels;

/// `out[dst_off + Σ c·dst_strides] = x[src_off + Σ ((c + shifts) mod dims)·src_strides]` for
/// every point `c` of `dims`: the uniform of `strided_copy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StridedMap {
    pub dims: Vec<usize>,
    pub src_off: usize,
    pub src_strides: Vec<usize>,
    pub dst_off: usize,
    pub dst_strides: Vec<usize>,
    pub shifts: Vec<usize>,
}

impl StridedMap {
    /// A map over `dims` writing the output contiguously.
    fn onto_contiguous(dims: &[usize], src_off: usize, src_strides: Vec<usize>) -> Self {
        StridedMap {
            dims: dims.to_vec(),
            src_off,
            src_strides,
            dst_off: 0,
            dst_strides: contiguous_strides(dims),
            shifts: vec![0; dims.len()],
        }
    }

    /// Input `x` (contiguous) written into its block of `out` starting at `at` along `axis`.
    pub fn into_block(x_shape: &[usize], out_shape: &[usize], axis: usize, at: usize) -> Self {
        let dst = contiguous_strides(out_shape);
        StridedMap {
            dims: x_shape.to_vec(),
            src_off: 0,
            src_strides: contiguous_strides(x_shape),
            dst_off: at * dst[axis],
            dst_strides: dst,
            shifts: vec![0; x_shape.len()],
        }
    }

    /// `x[.., start..start + out_shape[axis], ..]`.
    pub fn slice(x_shape: &[usize], out_shape: &[usize], axis: usize, start: usize) -> Self {
        let src = contiguous_strides(x_shape);
        let off = start * src[axis];
        Self::onto_contiguous(out_shape, off, src)
    }

    /// Output axis j is input axis `axes[j]`.
    pub fn permute(x_shape: &[usize], axes: &[usize]) -> Self {
        let src = contiguous_strides(x_shape);
        let dims: Vec<usize> = axes.iter().map(|&a| x_shape[a]).collect();
        Self::onto_contiguous(&dims, 0, axes.iter().map(|&a| src[a]).collect())
    }

    /// `out[.., (i + s) mod n, ..] = x[.., i, ..]`: output index i reads (i − s) mod n.
    pub fn roll(x_shape: &[usize], shifts: &[(usize, isize)]) -> Self {
        let mut m = Self::onto_contiguous(x_shape, 0, contiguous_strides(x_shape));
        for &(axis, s) in shifts {
            let n = x_shape[axis] as isize;
            if n > 0 {
                m.shifts[axis] = (-s).rem_euclid(n) as usize;
            }
        }
        m
    }

    /// `x` broadcast to `out_shape` (zero strides on broadcast dims).
    pub fn expand(x_shape: &[usize], out_shape: &[usize]) -> Self {
        Self::onto_contiguous(out_shape, 0, broadcast_strides(x_shape, out_shape))
    }

    /// Points of the index space.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The uniform words (see `Params` in layout.wgsl).
    pub fn words(&self) -> Result<Vec<Word>, BackendError> {
        check_rank("a layout op", self.dims.len())?;
        let mut w = vec![
            Word::U(word("layout op length", self.len())?),
            Word::U(self.dims.len() as u32),
            Word::U(word("layout source offset", self.src_off)?),
            Word::U(word("layout destination offset", self.dst_off)?),
        ];
        for v in [
            &self.dims,
            &self.src_strides,
            &self.dst_strides,
            &self.shifts,
        ] {
            push_u32s(&mut w, &u32s("a layout stride", v)?, 8);
        }
        Ok(w)
    }

    /// Evaluates the map on the host (the reference the unit tests hold the layouts to).
    pub fn apply<T: Copy>(&self, x: &[T], out: &mut [T]) {
        for i in 0..self.len() {
            let (mut rem, mut s, mut t) = (i, self.src_off, self.dst_off);
            for d in (0..self.dims.len()).rev() {
                let c = rem % self.dims[d];
                rem /= self.dims[d];
                s += ((c + self.shifts[d]) % self.dims[d]) * self.src_strides[d];
                t += c * self.dst_strides[d];
            }
            out[t] = x[s];
        }
    }
}

/// One `strided_copy` launch of `map` from `x` into `out`.
pub fn prepare_strided_copy(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    map: &StridedMap,
    x: View<'_>,
    out: View<'_>,
) -> Result<Dispatch, BackendError> {
    let groups = groups_1d(ctx, "a layout op", map.len(), WG)?;
    prepare(
        ctx,
        cache,
        &kernels::STRIDED_COPY,
        &[],
        &map.words()?,
        &[x, out],
        groups,
    )
}

/// Concatenation of `inputs` (views with shapes) along `axis`: one launch per input.
pub fn prepare_concat(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    inputs: &[(View<'_>, &[usize])],
    out: View<'_>,
    out_shape: &[usize],
    axis: usize,
) -> Result<Vec<Dispatch>, BackendError> {
    let mut at = 0;
    let mut out_d = Vec::with_capacity(inputs.len());
    for (x, shape) in inputs {
        let map = StridedMap::into_block(shape, out_shape, axis, at);
        at += shape[axis];
        if !map.is_empty() {
            out_d.push(prepare_strided_copy(ctx, cache, &map, *x, out)?);
        }
    }
    Ok(out_d)
}

/// `x` zero-padded along `axis` with `before` leading entries: a fill, then the copy.
#[allow(clippy::too_many_arguments)]
pub fn prepare_pad(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    x: View<'_>,
    x_shape: &[usize],
    out: View<'_>,
    out_shape: &[usize],
    axis: usize,
    before: usize,
) -> Result<Vec<Dispatch>, BackendError> {
    let mut d = vec![prepare_fill(ctx, cache, out, 0.0)?];
    let map = StridedMap::into_block(x_shape, out_shape, axis, before);
    if !map.is_empty() {
        d.push(prepare_strided_copy(ctx, cache, &map, x, out)?);
    }
    Ok(d)
}

/// One strided copy of input 0 into output 0.
fn copy(
    l: &Lowering<'_>,
    cache: &mut PipelineCache,
    map: &StridedMap,
) -> Result<Vec<Dispatch>, BackendError> {
    let launch = prepare_strided_copy(l.ctx, cache, map, l.input(0), l.output(0))?;
    Ok(vec![launch])
}

/// `Concat`: one copy per input.
pub(crate) const CONCAT: GpuLowering = GpuLowering::new(|l, cache| match l.node.op {
    Op::Concat { axis } => {
        prepare_concat(l.ctx, cache, &l.inputs(), l.output(0), l.out_shape(), axis)
    }
    ref op => misrouted(op),
});

/// `Slice`.
pub(crate) const SLICE: GpuLowering = GpuLowering::new(|l, cache| match l.node.op {
    Op::Slice { axis, start } => copy(
        l,
        cache,
        &StridedMap::slice(l.in_shape(0), l.out_shape(), axis, start),
    ),
    ref op => misrouted(op),
});

/// `Pad`: a fill, then the copy.
pub(crate) const PAD: GpuLowering = GpuLowering::new(|l, cache| match l.node.op {
    Op::Pad { axis, before } => {
        let (x, out) = (l.input(0), l.output(0));
        prepare_pad(
            l.ctx,
            cache,
            x,
            l.in_shape(0),
            out,
            l.out_shape(),
            axis,
            before,
        )
    }
    ref op => misrouted(op),
});

/// `Permute`.
pub(crate) const PERMUTE: GpuLowering = GpuLowering::new(|l, cache| match &l.node.op {
    Op::Permute { axes } => copy(l, cache, &StridedMap::permute(l.in_shape(0), axes)),
    op => misrouted(op),
});

/// `Roll`.
pub(crate) const ROLL: GpuLowering = GpuLowering::new(|l, cache| match &l.node.op {
    Op::Roll { shifts } => copy(l, cache, &StridedMap::roll(l.in_shape(0), shifts)),
    op => misrouted(op),
});

#[cfg(test)]
mod tests {
    use super::*;

    fn iota(n: usize) -> Vec<i32> {
        (0..n as i32).collect()
    }

    #[test]
    fn permute_matches_index_arithmetic() {
        // x [2, 3, 4] -> out [4, 2, 3] (axes 2, 0, 1): out[k, i, j] = x[i, j, k].
        let x = iota(24);
        let mut out = vec![0; 24];
        StridedMap::permute(&[2, 3, 4], &[2, 0, 1]).apply(&x, &mut out);
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    assert_eq!(out[(k * 2 + i) * 3 + j], x[(i * 3 + j) * 4 + k]);
                }
            }
        }
    }

    #[test]
    fn roll_shifts_forward_with_wraparound() {
        // out[(i + s) mod n] = x[i], s = 2 and s = −1 on the two axes of [3, 4].
        let x = iota(12);
        let mut out = vec![0; 12];
        StridedMap::roll(&[3, 4], &[(0, 2), (1, -1)]).apply(&x, &mut out);
        for i in 0..3 {
            for j in 0..4 {
                assert_eq!(out[((i + 2) % 3) * 4 + (j + 3) % 4], x[i * 4 + j]);
            }
        }
    }

    #[test]
    fn concat_slice_and_expand_place_blocks() {
        // [2, 1, 3] and [2, 2, 3] along axis 1 -> [2, 3, 3].
        let (a, b) = (iota(6), (100..112).collect::<Vec<i32>>());
        let mut out = vec![-1; 18];
        StridedMap::into_block(&[2, 1, 3], &[2, 3, 3], 1, 0).apply(&a, &mut out);
        StridedMap::into_block(&[2, 2, 3], &[2, 3, 3], 1, 1).apply(&b, &mut out);
        assert_eq!(&out[..9], &[0, 1, 2, 100, 101, 102, 103, 104, 105]);
        assert_eq!(&out[9..], &[3, 4, 5, 106, 107, 108, 109, 110, 111]);
        let mut s = vec![0; 6];
        StridedMap::slice(&[2, 3, 3], &[2, 1, 3], 1, 2).apply(&out, &mut s);
        assert_eq!(s, [103, 104, 105, 109, 110, 111]);
        let mut e = vec![0; 6];
        StridedMap::expand(&[3], &[2, 3]).apply(&[7, 8, 9], &mut e);
        assert_eq!(e, [7, 8, 9, 7, 8, 9]);
    }
}
