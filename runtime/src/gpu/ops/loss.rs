//! Launchers of the losses and their gradients (`shaders/wgsl/masked_mse.wgsl`,
//! `shaders/wgsl/cross_entropy.wgsl`). A loss is per-row terms, summed with `sum_to` and
//! divided by the summed mask / weights (no invocation loops over the whole batch); a gradient
//! first sums the mask / weights into a one-element scratch view, then runs per element / row.
use tessera_dsl::graph::{BinaryOp, FusedInstr};

use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::{BackendError, GpuContext, PipelineCache};
use super::elementwise::{binary_program, prepare_elementwise};
use super::reduce::{prepare_sum_to, sum_to_scratch};
use super::support::{groups_1d, WG};
use super::{registered, word};

/// Scratch views (element counts) a loss over `rows` rows needs: the per-row terms, their sum,
/// the sum of the mask / weights, and the partial sums of those.
pub fn loss_scratch(rows: usize) -> Vec<usize> {
    vec![rows, 1, 1, sum_to_scratch(&[rows], &[])]
}

/// Scratch views a loss gradient over `rows` rows needs: the sum of the mask / weights and its
/// partial sums.
pub fn loss_grad_scratch(rows: usize) -> Vec<usize> {
    vec![1, sum_to_scratch(&[rows], &[])]
}

fn mse_params(rows: usize, p: usize) -> Result<Vec<Word>, BackendError> {
    Ok(vec![
        Word::U(word("masked_mse elements", rows * p)?),
        Word::U(word("masked_mse rows", rows)?),
        Word::U(word("masked_mse row length", p)?),
        Word::F((2.0 / p as f64) as f32),
    ])
}

/// `out[0] = Σ rows / Σ weights` from per-row terms in `scratch[0]` (made by `rows_launch`),
/// with `scratch` laid out as [`loss_scratch`].
fn total(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    rows_launch: Dispatch,
    weights: View<'_>,
    out: View<'_>,
    rows: usize,
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let [terms, num, den, partial] = scratch else {
        panic!("a loss takes the scratch views of loss_scratch");
    };
    let mut d = vec![rows_launch];
    d.extend(prepare_sum_to(
        ctx,
        cache,
        *terms,
        &[rows],
        *num,
        &[],
        Some(*partial),
    )?);
    d.extend(prepare_sum_to(
        ctx,
        cache,
        weights,
        &[rows],
        *den,
        &[],
        Some(*partial),
    )?);
    let div: Vec<FusedInstr> = binary_program(BinaryOp::Div);
    let scalars: [(View<'_>, &[usize]); 2] = [(*num, &[]), (*den, &[])];
    d.push(prepare_elementwise(ctx, cache, &div, &scalars, out, &[])?);
    Ok(d)
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
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let w = mse_params(rows, p)?;
    let groups = groups_1d(ctx, "masked_mse rows", rows, WG)?;
    let views = [pred, target, mask, scratch[0]];
    let terms = prepare(
        ctx,
        cache,
        registered("masked_mse_rows"),
        &[],
        &w,
        &views,
        groups,
    )?;
    total(ctx, cache, terms, mask, out, rows, scratch)
}

/// `out = dy · mask · 2 (pred − target) / (p · Σ mask)`, with `scratch` as
/// [`loss_grad_scratch`].
#[allow(clippy::too_many_arguments)]
pub fn prepare_masked_mse_grad(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    pred: View<'_>,
    target: View<'_>,
    mask: View<'_>,
    dy: View<'_>,
    out: View<'_>,
    rows: usize,
    p: usize,
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let msum = scratch[0];
    let mut d = prepare_sum_to(
        ctx,
        cache,
        mask,
        &[rows],
        msum,
        &[],
        scratch.get(1).copied(),
    )?;
    let w = mse_params(rows, p)?;
    let groups = groups_1d(ctx, "masked_mse_grad", rows * p, WG)?;
    let views = [pred, target, mask, dy, msum, out];
    d.push(prepare(
        ctx,
        cache,
        registered("masked_mse_grad"),
        &[],
        &w,
        &views,
        groups,
    )?);
    Ok(d)
}

fn ce_params(rows: usize, v: usize) -> Result<Vec<Word>, BackendError> {
    Ok(vec![
        Word::U(word("cross_entropy rows", rows)?),
        Word::U(word("cross_entropy classes", v)?),
    ])
}

/// `out[0] = Σ w (lse − logit[label]) / Σ w` over logits `[rows, v]`, with `scratch` as
/// [`loss_scratch`].
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
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let w = ce_params(rows, v)?;
    let groups = groups_1d(ctx, "cross_entropy rows", rows, WG)?;
    let views = [logits, labels, weights, scratch[0]];
    let kernel = registered("cross_entropy_rows");
    let terms = prepare(ctx, cache, kernel, &[], &w, &views, groups)?;
    total(ctx, cache, terms, weights, out, rows, scratch)
}

/// `out = dy · w / Σ w · (softmax − onehot)`, with `scratch` as [`loss_grad_scratch`].
#[allow(clippy::too_many_arguments)]
pub fn prepare_cross_entropy_grad(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    logits: View<'_>,
    labels: View<'_>,
    weights: View<'_>,
    dy: View<'_>,
    out: View<'_>,
    rows: usize,
    v: usize,
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let wsum = scratch[0];
    let mut d = prepare_sum_to(
        ctx,
        cache,
        weights,
        &[rows],
        wsum,
        &[],
        scratch.get(1).copied(),
    )?;
    let w = ce_params(rows, v)?;
    let groups = groups_1d(ctx, "cross_entropy_grad", rows, WG)?;
    let views = [logits, labels, weights, dy, wsum, out];
    d.push(prepare(
        ctx,
        cache,
        registered("cross_entropy_grad"),
        &[],
        &w,
        &views,
        groups,
    )?);
    Ok(d)
}
