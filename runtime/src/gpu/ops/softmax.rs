//! Launchers of `shaders/wgsl/softmax.wgsl`: softmax over the last dim and its gradient
//! (the IR's `Softmax` and `SoftmaxGrad`).

use super::{check_view, grid_2d, row_tiling, word};
use crate::gpu::launch::{prepare, Dispatch, View, Word};
use crate::gpu::lowering::{rows_of, GpuLowering};
use crate::gpu::{BackendError, GpuContext, PipelineCache};
use tessera_shaders::{self as kernels, Kernel};

/// `y = softmax(x)` over rows of length `d` (`rows · d` elements).
pub fn prepare_softmax(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    rows: usize,
    d: usize,
    x: View<'_>,
    y: View<'_>,
) -> Result<Vec<Dispatch>, BackendError> {
    check_view("softmax x", &x, rows * d);
    check_view("softmax y", &y, rows * d);
    launch(ctx, cache, &kernels::SOFTMAX, rows, d, &[x, y])
}

/// `dx = y · (dy − Σ dy·y)` per row, from the forward's output `y`.
pub fn prepare_softmax_grad(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    rows: usize,
    d: usize,
    y: View<'_>,
    dy: View<'_>,
    dx: View<'_>,
) -> Result<Vec<Dispatch>, BackendError> {
    for (what, v) in [
        ("softmax_grad y", &y),
        ("softmax_grad dy", &dy),
        ("softmax_grad dx", &dx),
    ] {
        check_view(what, v, rows * d);
    }
    launch(ctx, cache, &kernels::SOFTMAX_GRAD, rows, d, &[y, dy, dx])
}

fn launch(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    kernel: &'static Kernel,
    rows: usize,
    d: usize,
    views: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    if rows == 0 || d == 0 {
        return Ok(Vec::new());
    }
    let (t_row, per_group) = row_tiling(d);
    let groups = grid_2d(ctx, "softmax workgroups", rows.div_ceil(per_group as usize))?;
    let params = [
        Word::U(word("softmax rows", rows)?),
        Word::U(word("softmax row length", d)?),
    ];
    let overrides = [("T_ROW", f64::from(t_row)), ("ROWS", f64::from(per_group))];
    let d = prepare(ctx, cache, kernel, &overrides, &params, views, groups)?;
    Ok(vec![d])
}

/// `Softmax`.
pub(crate) const SOFTMAX: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, d) = rows_of(l.out_shape());
    prepare_softmax(l.ctx, cache, rows, d, l.input(0), l.output(0))
});

/// `SoftmaxGrad` (inputs y, dy).
pub(crate) const SOFTMAX_GRAD: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, d) = rows_of(l.out_shape());
    let (y, dy, dx) = (l.input(0), l.input(1), l.output(0));
    prepare_softmax_grad(l.ctx, cache, rows, d, y, dy, dx)
});
