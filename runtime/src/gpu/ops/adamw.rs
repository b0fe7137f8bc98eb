//! Launcher of `adamw` (`shaders/wgsl/adamw.wgsl`): the in-place AdamW update of one
//! parameter with its two moments.
use tessera_dsl::graph::{misrouted, Op};

use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::lowering::GpuLowering;
use super::super::{BackendError, GpuContext, PipelineCache};
use super::support::{groups_1d, WG};
use super::word;
use tessera_shaders as kernels;

/// The constant hyper-parameters of one update (lr and t are tensors read on the device).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWHyper {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub lr_scale: f64,
}

/// The uniform words (see `Params` in adamw.wgsl): constants rounded once from f64.
pub fn words(n: usize, h: &AdamWHyper) -> Result<Vec<Word>, BackendError> {
    let f = |x: f64| Word::F(x as f32);
    Ok(vec![
        Word::U(word("adamw length", n)?),
        f(h.beta1),
        f(h.beta2),
        f(1.0 - h.beta1),
        f(1.0 - h.beta2),
        f(h.beta1.ln()),
        f(h.beta2.ln()),
        f(h.eps),
        f(h.weight_decay),
        f(h.lr_scale),
    ])
}

/// Updates `param`, `exp_avg`, `exp_avg_sq` in place from `grad`, `lr [1]` and `step [1]`.
#[allow(clippy::too_many_arguments)]
pub fn prepare_adamw(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    param: View<'_>,
    grad: View<'_>,
    exp_avg: View<'_>,
    exp_avg_sq: View<'_>,
    lr: View<'_>,
    step: View<'_>,
    h: &AdamWHyper,
) -> Result<Dispatch, BackendError> {
    let n = param.len;
    let groups = groups_1d(ctx, "adamw", n, WG)?;
    let views = [param, grad, exp_avg, exp_avg_sq, lr, step];
    prepare(
        ctx,
        cache,
        &kernels::ADAMW,
        &[],
        &words(n, h)?,
        &views,
        groups,
    )
}

/// `AdamW`: updates its inputs param, exp_avg and exp_avg_sq in place.
pub(crate) const ADAMW: GpuLowering = GpuLowering::new(|l, cache| {
    let Op::AdamW {
        beta1,
        beta2,
        eps,
        weight_decay,
        lr_scale,
    } = l.node.op
    else {
        misrouted(&l.node.op)
    };
    let h = AdamWHyper {
        beta1,
        beta2,
        eps,
        weight_decay,
        lr_scale,
    };
    let [p, g, m, v, lr, t] = [0, 1, 2, 3, 4, 5].map(|j| l.input(j));
    Ok(vec![prepare_adamw(l.ctx, cache, p, g, m, v, lr, t, &h)?])
});
