//! Launchers of the losses and their gradients (`shaders/wgsl/masked_mse.wgsl`,
//! `shaders/wgsl/cross_entropy.wgsl`). A loss is one workgroup; a gradient first sums the
//! mask / weights into a one-element scratch view with `sum_to`, then runs elementwise.
use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::{GpuContext, GpuError, PipelineCache};
use super::reduce::prepare_sum_to;
use super::support::{groups_1d, WG};
use super::{registered, word};

fn mse_params(rows: usize, p: usize) -> Result<Vec<Word>, GpuError> {
    Ok(vec![
        Word::U(word("masked_mse elements", rows * p)?),
        Word::U(word("masked_mse rows", rows)?),
        Word::U(word("masked_mse row length", p)?),
        Word::F((2.0 / p as f64) as f32),
    ])
}

/// `out[0] = Σ mask · mean_p (pred − target)² / Σ mask` over `rows` rows of `p`.
#[allow(clippy::too_many_arguments)]
pub fn prepare_masked_mse(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    pred: View<'_>,
    target: View<'_>,
    mask: View<'_>,
    out: View<'_>,
    rows: usize,
    p: usize,
) -> Result<Dispatch, GpuError> {
    let w = mse_params(rows, p)?;
    let views = [pred, target, mask, out];
    prepare(
        ctx,
        cache,
        registered("masked_mse"),
        &[],
        &w,
        &views,
        [1, 1, 1],
    )
}

/// `out = dy · mask · 2 (pred − target) / (p · Σ mask)`; `msum` is a one-element scratch.
#[allow(clippy::too_many_arguments)]
pub fn prepare_masked_mse_grad(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    pred: View<'_>,
    target: View<'_>,
    mask: View<'_>,
    dy: View<'_>,
    msum: View<'_>,
    out: View<'_>,
    rows: usize,
    p: usize,
) -> Result<Vec<Dispatch>, GpuError> {
    let sum = prepare_sum_to(ctx, cache, mask, &[rows], msum, &[])?;
    let w = mse_params(rows, p)?;
    let groups = groups_1d(ctx, "masked_mse_grad", rows * p, WG)?;
    let views = [pred, target, mask, dy, msum, out];
    let grad = prepare(
        ctx,
        cache,
        registered("masked_mse_grad"),
        &[],
        &w,
        &views,
        groups,
    )?;
    Ok(vec![sum, grad])
}

fn ce_params(rows: usize, v: usize) -> Result<Vec<Word>, GpuError> {
    Ok(vec![
        Word::U(word("cross_entropy rows", rows)?),
        Word::U(word("cross_entropy classes", v)?),
    ])
}

/// `out[0] = Σ w (lse − logit[label]) / Σ w` over logits `[rows, v]`.
#[allow(clippy::too_many_arguments)]
pub fn prepare_cross_entropy(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    logits: View<'_>,
    labels: View<'_>,
    weights: View<'_>,
    out: View<'_>,
    rows: usize,
    v: usize,
) -> Result<Dispatch, GpuError> {
    let w = ce_params(rows, v)?;
    let views = [logits, labels, weights, out];
    prepare(
        ctx,
        cache,
        registered("cross_entropy"),
        &[],
        &w,
        &views,
        [1, 1, 1],
    )
}

/// `out = dy · w / Σ w · (softmax − onehot)`; `wsum` is a one-element scratch.
#[allow(clippy::too_many_arguments)]
pub fn prepare_cross_entropy_grad(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    logits: View<'_>,
    labels: View<'_>,
    weights: View<'_>,
    dy: View<'_>,
    wsum: View<'_>,
    out: View<'_>,
    rows: usize,
    v: usize,
) -> Result<Vec<Dispatch>, GpuError> {
    let sum = prepare_sum_to(ctx, cache, weights, &[rows], wsum, &[])?;
    let w = ce_params(rows, v)?;
    let groups = groups_1d(ctx, "cross_entropy_grad", rows, WG)?;
    let views = [logits, labels, weights, dy, wsum, out];
    let grad = prepare(
        ctx,
        cache,
        registered("cross_entropy_grad"),
        &[],
        &w,
        &views,
        groups,
    )?;
    Ok(vec![sum, grad])
}
