//! Launchers of the losses and their gradients (`shaders/wgsl/masked_mse.wgsl`,
//! `shaders/wgsl/cross_entropy.wgsl`). A loss is per-row terms, summed with `sum_to` and
//! divided by the summed mask / weights (no invocation loops over the whole batch); a gradient
//! first sums the mask / weights into a one-element scratch view, then runs per element / row.
use tessera_dsl::graph::{BinaryOp, FusedInstr, Graph, Node};

use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::lowering::{rows_of, GpuLowering};
use super::super::{BackendError, GpuContext, PipelineCache};
use super::elementwise::{binary_program, prepare_elementwise};
use super::reduce::{prepare_sum_to, sum_to_scratch};
use super::support::{groups_1d, WG};
use super::word;
use tessera_shaders::{self as kernels, Kernel};

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

/// `out[0] = Σ terms / Σ weights`: `kernel` writes one term per row (of `rows`) from `views`
/// into `scratch[0]`, then the terms and the weights are summed and divided, with `scratch`
/// laid out as [`loss_scratch`].
#[allow(clippy::too_many_arguments)]
fn loss(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    kernel: &'static Kernel,
    params: &[Word],
    views: &[View<'_>],
    weights: View<'_>,
    out: View<'_>,
    rows: usize,
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let [terms, num, den, partial] = scratch else {
        panic!("a loss takes the scratch views of loss_scratch");
    };
    let groups = groups_1d(ctx, kernel.name, rows, WG)?;
    let views = [views, &[*terms]].concat();
    let mut d = vec![prepare(ctx, cache, kernel, &[], params, &views, groups)?];
    for (sum, of) in [(num, *terms), (den, weights)] {
        d.extend(prepare_sum_to(
            ctx,
            cache,
            of,
            &[rows],
            *sum,
            &[],
            Some(*partial),
        )?);
    }
    let div: Vec<FusedInstr> = binary_program(BinaryOp::Div);
    let scalars: [(View<'_>, &[usize]); 2] = [(*num, &[]), (*den, &[])];
    d.push(prepare_elementwise(ctx, cache, &div, &scalars, out, &[])?);
    Ok(d)
}

/// A loss gradient: the weights (of `rows`) summed into `scratch[0]`, then `kernel` over
/// `items` invocations reads `views`, that sum, and writes `out`; `scratch` is laid out as
/// [`loss_grad_scratch`].
#[allow(clippy::too_many_arguments)]
fn loss_grad(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    kernel: &'static Kernel,
    params: &[Word],
    views: &[View<'_>],
    weights: View<'_>,
    out: View<'_>,
    (rows, items): (usize, usize),
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let sum = scratch[0];
    let partial = scratch.get(1).copied();
    let mut d = prepare_sum_to(ctx, cache, weights, &[rows], sum, &[], partial)?;
    let groups = groups_1d(ctx, kernel.name, items, WG)?;
    let views = [views, &[sum, out]].concat();
    d.push(prepare(ctx, cache, kernel, &[], params, &views, groups)?);
    Ok(d)
}

fn ce_params(rows: usize, v: usize) -> Result<Vec<Word>, BackendError> {
    Ok(vec![
        Word::U(word("cross_entropy rows", rows)?),
        Word::U(word("cross_entropy classes", v)?),
    ])
}

/// Rows of a loss: the elements of its mask (masked MSE) or weights (cross-entropy).
fn loss_rows(g: &Graph, node: &Node) -> usize {
    g.node(node.inputs[2]).numel()
}

/// `MaskedMse` (inputs pred, target, mask): `Σ mask · mean_p (pred − target)² / Σ mask`
/// over rows of `p`.
pub(crate) const MASKED_MSE: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, p) = rows_of(l.in_shape(0));
    let (w, views) = (mse_params(rows, p)?, [0, 1, 2].map(|j| l.input(j)));
    let (kernel, mask, out) = (&kernels::MASKED_MSE_ROWS, l.input(2), l.output(0));
    loss(l.ctx, cache, kernel, &w, &views, mask, out, rows, l.scratch)
})
.with_scratch(|g, node| loss_scratch(loss_rows(g, node)));

/// `MaskedMseGrad` (inputs pred, target, mask, dy): `dy · mask · 2 (pred − target) /
/// (p · Σ mask)`, one invocation per element.
pub(crate) const MASKED_MSE_GRAD: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, p) = rows_of(l.in_shape(0));
    let (w, views) = (mse_params(rows, p)?, [0, 1, 2, 3].map(|j| l.input(j)));
    let (kernel, mask, out) = (&kernels::MASKED_MSE_GRAD, l.input(2), l.output(0));
    let work = (rows, rows * p);
    loss_grad(l.ctx, cache, kernel, &w, &views, mask, out, work, l.scratch)
})
.with_scratch(|g, node| loss_grad_scratch(loss_rows(g, node)));

/// `CrossEntropy` (inputs logits `[rows, v]`, labels, weights):
/// `Σ w (lse − logit[label]) / Σ w`; labels must be below the classes.
pub(crate) const CROSS_ENTROPY: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, v) = rows_of(l.in_shape(0));
    let (w, views) = (ce_params(rows, v)?, [0, 1, 2].map(|j| l.input(j)));
    let (kernel, weights, out) = (&kernels::CROSS_ENTROPY_ROWS, l.input(2), l.output(0));
    loss(
        l.ctx, cache, kernel, &w, &views, weights, out, rows, l.scratch,
    )
})
.with_scratch(|g, node| loss_scratch(loss_rows(g, node)))
.with_index_bound(classes);

/// `CrossEntropyGrad` (inputs logits, labels, weights, dy):
/// `dy · w / Σ w · (softmax − onehot)`, one invocation per row.
pub(crate) const CROSS_ENTROPY_GRAD: GpuLowering = GpuLowering::new(|l, cache| {
    let (rows, v) = rows_of(l.in_shape(0));
    let (w, views) = (ce_params(rows, v)?, [0, 1, 2, 3].map(|j| l.input(j)));
    let (kernel, weights, out) = (&kernels::CROSS_ENTROPY_GRAD, l.input(2), l.output(0));
    loss_grad(
        l.ctx,
        cache,
        kernel,
        &w,
        &views,
        weights,
        out,
        (rows, rows),
        l.scratch,
    )
})
.with_scratch(|g, node| loss_grad_scratch(loss_rows(g, node)))
.with_index_bound(classes);

/// The bound on the labels of the cross-entropy: the number of classes.
fn classes(g: &Graph, node: &Node) -> (usize, &'static str) {
    (g.shape(node.inputs[0])[1], "cross_entropy")
}
