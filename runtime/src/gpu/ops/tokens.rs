//! Lowering of `GatherRows` and `ScatterRows` to `shaders/wgsl/tokens.wgsl`.
use tessera_dsl::graph::{misrouted, Op};

use super::super::launch::{prepare, Dispatch, Word};
use super::super::lowering::{GpuLowering, Lowering};
use super::super::{BackendError, PipelineCache};
use super::support::{groups_1d, WG};
use super::word;
use tessera_shaders::{self as kernels, Kernel};

/// Columns per scatter invocation (tokens.wgsl's `COLS`).
const COLS: usize = 32;

/// `[B, L, D]` of a 2-D (shared, batch 1) or 3-D row tensor.
fn rows3(shape: &[usize]) -> (usize, usize, usize) {
    match *shape {
        [l, d] => (1, l, d),
        [b, l, d] => (b, l, d),
        _ => (0, 0, 0),
    }
}

/// The one launch of `GatherRows` or `ScatterRows`: `kernel` over the output `[Bo, Lo, D]`
/// from input 0 `[Bx, Lx, D]` at the indices (input 1) `[Bi, K]`, with `per_row(D)`
/// invocations per output row; the uniform is `Params` in tokens.wgsl.
fn launch(
    l: &Lowering<'_>,
    cache: &mut PipelineCache,
    kernel: &'static Kernel,
    per_row: fn(usize) -> usize,
) -> Result<Vec<Dispatch>, BackendError> {
    let (bx, lx, d) = rows3(l.in_shape(0));
    let (bo, lo, _) = rows3(l.out_shape());
    let (bi, k) = match *l.in_shape(1) {
        [bi, k] => (bi, k),
        [k] => (1, k),
        _ => (0, 0),
    };
    let n = bo * lo * per_row(d);
    let w = [n, bo, lo, d, bx, lx, bi, k]
        .iter()
        .map(|&v| word("a token-row size", v).map(Word::U))
        .collect::<Result<Vec<_>, _>>()?;
    let groups = groups_1d(l.ctx, kernel.name, n, WG)?;
    let views = [l.input(0), l.input(1), l.output(0)];
    let launch = prepare(l.ctx, cache, kernel, &[], &w, &views, groups)?;
    Ok(vec![launch])
}

/// `GatherRows`: `out [B, K, D] = x [Bx, L, D]` rows at `idx [Bi, K]`, one invocation per
/// element; the indices must be below L.
pub(crate) const GATHER_ROWS: GpuLowering =
    GpuLowering::new(|l, cache| launch(l, cache, &kernels::GATHER_ROWS, |d| d)).with_index_bound(
        |g, node| {
            let s = g.shape(node.inputs[0]);
            (s[s.len() - 2], "gather_rows")
        },
    );

/// `ScatterRows`: `out [Bo, len, D]` zeroed, then `out[b, idx[b, k]] += src[b, k]` for
/// `src [Bs, K, D]`, one invocation per `COLS` columns of an output row (no atomics); the
/// indices must be below len.
pub(crate) const SCATTER_ROWS: GpuLowering =
    GpuLowering::new(|l, cache| launch(l, cache, &kernels::SCATTER_ROWS, |d| d.div_ceil(COLS)))
        .with_index_bound(|_, node| match node.op {
            Op::ScatterRows { len } => (len, "scatter_rows"),
            ref op => misrouted(op),
        });
