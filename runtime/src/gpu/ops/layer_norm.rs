//! Launchers of `shaders/wgsl/layer_norm.wgsl`: the IR's `LayerNorm` (`[x, w, b]`),
//! `LayerNormGradX` (`[x, w, dy]` → dx) and `LayerNormGradW` (`[x, dy]` → dw `[D]`, the
//! weight gradient; the bias gradient is a plain `SumTo` of dy in the IR).

use tessera_dsl::graph::{misrouted, Op};

use super::{check_view, grid_2d, row_tiling, word};
use crate::gpu::launch::{prepare, Dispatch, View, Word};
use crate::gpu::lowering::{rows_of, GpuLowering, Lowering};
use crate::gpu::{BackendError, GpuContext, PipelineCache};
use tessera_shaders::{self as kernels, Kernel};

/// Threads of a `layer_norm_grad_w` workgroup, and columns each of them owns (`CPT` in the
/// WGSL): a workgroup covers 1024 columns.
const GRAD_W_THREADS: u32 = 256;
const GRAD_W_CPT: usize = 4;

/// `y = (x − mean) · rstd · w + b` over rows of length `d`.
#[allow(clippy::too_many_arguments)]
pub fn prepare_layer_norm(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    rows: usize,
    d: usize,
    eps: f64,
    x: View<'_>,
    w: View<'_>,
    b: View<'_>,
    y: View<'_>,
) -> Result<Vec<Dispatch>, BackendError> {
    check_view("layer_norm x", &x, rows * d);
    check_view("layer_norm w", &w, d);
    check_view("layer_norm b", &b, d);
    check_view("layer_norm y", &y, rows * d);
    row_launch(
        ctx,
        cache,
        &kernels::LAYER_NORM,
        rows,
        d,
        eps,
        &[x, w, b, y],
    )
}

/// `dx` of layer norm from `x`, `w` and `dy` (row statistics recomputed).
#[allow(clippy::too_many_arguments)]
pub fn prepare_layer_norm_grad_x(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    rows: usize,
    d: usize,
    eps: f64,
    x: View<'_>,
    w: View<'_>,
    dy: View<'_>,
    dx: View<'_>,
) -> Result<Vec<Dispatch>, BackendError> {
    check_view("layer_norm_grad_x x", &x, rows * d);
    check_view("layer_norm_grad_x w", &w, d);
    check_view("layer_norm_grad_x dy", &dy, rows * d);
    check_view("layer_norm_grad_x dx", &dx, rows * d);
    row_launch(
        ctx,
        cache,
        &kernels::LAYER_NORM_GRAD_X,
        rows,
        d,
        eps,
        &[x, w, dy, dx],
    )
}

fn row_launch(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    kernel: &'static Kernel,
    rows: usize,
    d: usize,
    eps: f64,
    views: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    if rows == 0 || d == 0 {
        return Ok(Vec::new());
    }
    let (t_row, per_group) = row_tiling(d);
    let groups = grid_2d(
        ctx,
        "layer norm workgroups",
        rows.div_ceil(per_group as usize),
    )?;
    let params = params(rows, d, eps, 0)?;
    let overrides = [("T_ROW", f64::from(t_row)), ("ROWS", f64::from(per_group))];
    let d = prepare(ctx, cache, kernel, &overrides, &params, views, groups)?;
    Ok(vec![d])
}

fn params(rows: usize, d: usize, eps: f64, chunk: usize) -> Result<[Word; 4], BackendError> {
    Ok([
        Word::U(word("layer norm rows", rows)?),
        Word::U(word("layer norm row length", d)?),
        Word::F(eps as f32),
        Word::U(word("layer norm chunk", chunk)?),
    ])
}

/// Row chunks `LayerNormGradW` splits `rows` into when it has scratch: about 256 rows each,
/// enough workgroups to fill a GPU without making the final sum long.
fn wanted_chunks(rows: usize) -> usize {
    rows.div_ceil(256).clamp(1, 512)
}

/// Scratch elements [`prepare_layer_norm_grad_w`] uses to run its row chunks in parallel
/// (0 when one chunk is enough). With less scratch it runs fewer, longer chunks.
pub fn layer_norm_grad_w_scratch(rows: usize, d: usize) -> usize {
    match wanted_chunks(rows) {
        1 => 0,
        c => c * d,
    }
}

/// `dw[j] = Σ_rows dy · x̂` for `LayerNormGradW`. Chunks of rows are summed in parallel into
/// `scratch` (`[chunks, d]`), then the chunks are added in order into `dw` (deterministic);
/// without scratch one chunk writes `dw` directly.
#[allow(clippy::too_many_arguments)]
pub fn prepare_layer_norm_grad_w(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    rows: usize,
    d: usize,
    eps: f64,
    x: View<'_>,
    dy: View<'_>,
    dw: View<'_>,
    scratch: Option<View<'_>>,
) -> Result<Vec<Dispatch>, BackendError> {
    check_view("layer_norm_grad_w x", &x, rows * d);
    check_view("layer_norm_grad_w dy", &dy, rows * d);
    check_view("layer_norm_grad_w dw", &dw, d);
    if d == 0 {
        return Ok(Vec::new());
    }
    let room = scratch.map_or(0, |s| s.len / d);
    let chunks = wanted_chunks(rows).min(room).max(1);
    let chunk = rows.div_ceil(chunks).max(1);
    // Threads as T_ROW · ROWS (the file's overrides), a 256-thread workgroup.
    let overrides = [("T_ROW", f64::from(GRAD_W_THREADS)), ("ROWS", 1.0)];
    let col_blocks = d.div_ceil(GRAD_W_THREADS as usize * GRAD_W_CPT);
    let partial = match (chunks, scratch) {
        (1, _) | (_, None) => dw,
        (_, Some(s)) => s,
    };
    let mut out = vec![prepare(
        ctx,
        cache,
        &kernels::LAYER_NORM_GRAD_W,
        &overrides,
        &params(rows, d, eps, chunk)?,
        &[x, dy, partial],
        [
            word("layer norm row chunks", chunks)?,
            word("layer norm column blocks", col_blocks)?,
            1,
        ],
    )?];
    if chunks > 1 {
        out.push(prepare(
            ctx,
            cache,
            &kernels::LAYER_NORM_GRAD_W_SUM,
            &overrides,
            &params(rows, d, eps, chunks)?,
            &[partial, dw],
            [
                word("layer norm columns", d.div_ceil(GRAD_W_THREADS as usize))?,
                1,
                1,
            ],
        )?);
    }
    Ok(out)
}

/// The eps of any op of the family.
fn eps(l: &Lowering<'_>) -> f64 {
    match l.node.op {
        Op::LayerNorm { eps } | Op::LayerNormGradX { eps } | Op::LayerNormGradW { eps } => eps,
        ref op => misrouted(op),
    }
}

/// `LayerNorm` (inputs x, w, b).
pub(crate) const LAYER_NORM: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, d) = rows_of(l.out_shape());
    let [x, w, b] = [0, 1, 2].map(|j| l.input(j));
    prepare_layer_norm(l.ctx, cache, rows, d, eps(l), x, w, b, l.output(0))
});

/// `LayerNormGradX` (inputs x, w, dy).
pub(crate) const LAYER_NORM_GRAD_X: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, d) = rows_of(l.out_shape());
    let [x, w, dy] = [0, 1, 2].map(|j| l.input(j));
    prepare_layer_norm_grad_x(l.ctx, cache, rows, d, eps(l), x, w, dy, l.output(0))
});

/// `LayerNormGradW` (inputs x, dy), its row chunks summed in parallel through scratch.
pub(crate) const LAYER_NORM_GRAD_W: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, d) = rows_of(l.in_shape(0));
    let (x, dy, dw) = (l.input(0), l.input(1), l.output(0));
    let scratch = l.scratch.first().copied();
    prepare_layer_norm_grad_w(l.ctx, cache, rows, d, eps(l), x, dy, dw, scratch)
})
.with_scratch(|g, node| {
    let (rows, d) = rows_of(g.shape(node.inputs[0]));
    match layer_norm_grad_w_scratch(rows, d) {
        0 => vec![],
        n => vec![n],
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_covers_the_wanted_chunks() {
        assert_eq!(layer_norm_grad_w_scratch(100, 768), 0);
        assert_eq!(layer_norm_grad_w_scratch(1500, 33), 6 * 33);
        // ViT-B, batch 256: 197 chunks of 256 rows.
        assert_eq!(layer_norm_grad_w_scratch(256 * 197, 768), 197 * 768);
        // Capped: very many rows make longer chunks, not more of them.
        assert_eq!(layer_norm_grad_w_scratch(10_000_000, 4), 512 * 4);
    }
}
