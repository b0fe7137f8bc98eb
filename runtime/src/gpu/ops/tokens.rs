//! Launchers of `gather_rows` and `scatter_rows` (`shaders/wgsl/tokens.wgsl`).
use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::{BackendError, GpuContext, PipelineCache};
use super::support::{groups_1d, WG};
use super::{registered, word};

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

/// The shared uniform: see `Params` in tokens.wgsl.
#[allow(clippy::too_many_arguments)]
fn params(
    n: usize,
    b_out: usize,
    rows_out: usize,
    d: usize,
    b_in: usize,
    rows_in: usize,
    b_idx: usize,
    k: usize,
) -> Result<Vec<Word>, BackendError> {
    [n, b_out, rows_out, d, b_in, rows_in, b_idx, k]
        .iter()
        .map(|&v| word("a token-row size", v).map(Word::U))
        .collect()
}

/// `out [B, K, D] = x [Bx, L, D]` rows at `idx [Bi, K]`.
#[allow(clippy::too_many_arguments)]
pub fn prepare_gather_rows(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    x: View<'_>,
    x_shape: &[usize],
    idx: View<'_>,
    idx_shape: &[usize],
    out: View<'_>,
    out_shape: &[usize],
) -> Result<Dispatch, BackendError> {
    let (bx, l, d) = rows3(x_shape);
    let (b, k, _) = rows3(out_shape);
    let bi = if idx_shape.len() == 2 {
        idx_shape[0]
    } else {
        1
    };
    let n = b * k * d;
    let w = params(n, b, k, d, bx, l, bi, k)?;
    let groups = groups_1d(ctx, "gather_rows", n, WG)?;
    prepare(
        ctx,
        cache,
        registered("gather_rows"),
        &[],
        &w,
        &[x, idx, out],
        groups,
    )
}

/// `out [Bo, len, D]` zeroed, then `out[b, idx[b, k]] += src[b, k]` for `src [Bs, K, D]`.
#[allow(clippy::too_many_arguments)]
pub fn prepare_scatter_rows(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    src: View<'_>,
    src_shape: &[usize],
    idx: View<'_>,
    idx_shape: &[usize],
    out: View<'_>,
    out_shape: &[usize],
) -> Result<Dispatch, BackendError> {
    let (bs, k, d) = rows3(src_shape);
    let (bo, len, _) = rows3(out_shape);
    let bi = if idx_shape.len() == 2 {
        idx_shape[0]
    } else {
        1
    };
    let n = bo * len * d.div_ceil(COLS);
    let w = params(n, bo, len, d, bs, k, bi, k)?;
    let groups = groups_1d(ctx, "scatter_rows", n, WG)?;
    prepare(
        ctx,
        cache,
        registered("scatter_rows"),
        &[],
        &w,
        &[src, idx, out],
        groups,
    )
}
