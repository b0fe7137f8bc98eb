//! AdamW appended to the graph, exactly as `torch.optim.AdamW`, with parameter groups: one
//! `AdamW` op per parameter, updating it and its two moments in place. No gradient.
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::{DType, GResult, Gradients, Graph, NodeId, Op, Role};

/// Hyper-parameters shared by all groups.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decay of the parameters that get weight decay (see [`ParamGroup::official`]).
    pub weight_decay: f64,
}

impl AdamWConfig {
    /// MAE pre-training: betas (0.9, 0.95), eps 1e-8.
    pub fn mae_pretrain(weight_decay: f64) -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay,
        }
    }
}

/// Per-parameter settings: weight decay and a multiplier of the scheduled learning rate
/// (layer-wise decay in fine-tuning).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamGroup {
    pub weight_decay: f64,
    pub lr_scale: f64,
}

impl ParamGroup {
    /// timm 0.3.2 `add_weight_decay` as used by MAE: no decay for 1-D parameters and names
    /// ending in `.bias`; everything else (including `cls_token`, `mask_token`) decays.
    pub fn official(name: &str, shape: &[usize], cfg: &AdamWConfig) -> Self {
        let exempt = shape.len() <= 1 || name.ends_with(".bias");
        Self {
            weight_decay: if exempt { 0.0 } else { cfg.weight_decay },
            lr_scale: 1.0,
        }
    }
}

/// What `adamw` appended: the per-step host inputs and the update nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimizer {
    /// Input `[1]`: the scheduled learning rate of this step.
    pub lr: NodeId,
    /// Input `[1]`: the 1-based step number t (bias corrections use β^t).
    pub step: NodeId,
    /// One update node per parameter (side effects: param, exp_avg, exp_avg_sq).
    pub updates: Vec<NodeId>,
    /// `(param name, exp_avg name, exp_avg_sq name)` of every updated parameter.
    pub state: Vec<(String, String, String)>,
}

impl Optimizer {
    pub const LR: &'static str = "optim.lr";
    pub const STEP: &'static str = "optim.step";

    /// Name of the learning-rate input.
    pub fn lr_name(&self) -> &'static str {
        Self::LR
    }

    /// Name of the step-number input.
    pub fn step_name(&self) -> &'static str {
        Self::STEP
    }
}

/// Appends AdamW updates for every parameter in `grads`, groups chosen by
/// [`ParamGroup::official`].
pub fn adamw(g: &mut Graph, grads: &Gradients, cfg: &AdamWConfig) -> GResult<Optimizer> {
    adamw_grouped(g, grads, cfg, &|name, shape| {
        ParamGroup::official(name, shape, cfg)
    })
}

/// Appends AdamW updates with a caller-chosen group per parameter `(name, shape)`.
/// Per parameter: `p −= lr·wd·p; m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²;
/// p −= lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + eps)` with `lr` the scheduled rate times
/// the group's `lr_scale`.
pub fn adamw_grouped(
    g: &mut Graph,
    grads: &Gradients,
    cfg: &AdamWConfig,
    group: &dyn Fn(&str, &[usize]) -> ParamGroup,
) -> GResult<Optimizer> {
    let lr = g.input(Optimizer::LR, &[1])?;
    let step = g.input(Optimizer::STEP, &[1])?;
    let mut updates = Vec::new();
    let mut state = Vec::new();
    for (p, gr) in grads.iter() {
        let node = g.try_node("adamw", p)?.clone();
        let Role::Param { name, .. } = &node.role else {
            continue;
        };
        let grp = group(name, &node.shape);
        let (mn, vn) = (format!("{name}.exp_avg"), format!("{name}.exp_avg_sq"));
        let m = g.state(&mn, &node.shape)?;
        let v = g.state(&vn, &node.shape)?;
        let op = Op::AdamW {
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            weight_decay: grp.weight_decay,
            lr_scale: grp.lr_scale,
        };
        let u = g.push(
            op,
            vec![p, gr, m, v, lr, step],
            vec![0],
            DType::Data,
            Role::Computed,
        );
        updates.push(u);
        state.push((name.clone(), mn, vn));
    }
    Ok(Optimizer {
        lr,
        step,
        updates,
        state,
    })
}

/// One AdamW update of a single element, in f64: the reference the kernels must match.
/// Returns the new `(p, m, v)`.
#[allow(clippy::too_many_arguments)]
pub fn adamw_reference(
    p: f64,
    g: f64,
    m: f64,
    v: f64,
    lr: f64,
    t: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    wd: f64,
) -> (f64, f64, f64) {
    let p = p * (1.0 - lr * wd);
    let m = beta1 * m + (1.0 - beta1) * g;
    let v = beta2 * v + (1.0 - beta2) * g * g;
    let bc1 = 1.0 - libm::pow(beta1, t);
    let bc2 = 1.0 - libm::pow(beta2, t);
    let p = p - lr / bc1 * m / (libm::sqrt(v) / libm::sqrt(bc2) + eps);
    (p, m, v)
}

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use rayon::prelude::*;

    use crate::graph::cpu::{CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::{misrouted, Op};

    /// Updates its inputs 0, 2 and 3 (param, exp_avg, exp_avg_sq) in place.
    pub(crate) const ADAMW: CpuKernel =
        CpuKernel::new(adamw::<f32>, adamw::<f64>).in_place(&[0, 2, 3]);

    /// The update exactly as `torch.optim.AdamW` (see [`adamw_reference`](super::adamw_reference)),
    /// with lr (already times the group's scale) and t read from their `[1]` inputs.
    fn adamw<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::AdamW {
            beta1,
            beta2,
            eps,
            weight_decay,
            lr_scale,
        } = a.node.op
        else {
            misrouted(&a.node.op)
        };
        let ([_, g, _, _, lr, t, ..], [p, m, v, ..]) = (a.ins, a.outs);
        let lr = lr[0].to_f64() * lr_scale;
        let t = t[0].to_f64();
        let bc1 = 1.0 - beta1.powf(t);
        let bc2 = 1.0 - beta2.powf(t);
        let decay = E::from_f64(1.0 - lr * weight_decay);
        let step = E::from_f64(lr / bc1);
        let inv_sqrt_bc2 = E::from_f64(1.0 / bc2.sqrt());
        let (b1, b2) = (E::from_f64(beta1), E::from_f64(beta2));
        let (c1, c2) = (E::from_f64(1.0 - beta1), E::from_f64(1.0 - beta2));
        let eps = E::from_f64(eps);
        const CH: usize = 8192;
        p.par_chunks_mut(CH)
            .zip(m.par_chunks_mut(CH).zip(v.par_chunks_mut(CH)))
            .zip(g.par_chunks(CH))
            .for_each(|((p, (m, v)), g)| {
                for i in 0..p.len() {
                    let gi = g[i];
                    m[i] = b1 * m[i] + c1 * gi;
                    v[i] = b2 * v[i] + c2 * gi * gi;
                    let denom = v[i].sqrt() * inv_sqrt_bc2 + eps;
                    p[i] = p[i] * decay - step * m[i] / denom;
                }
            });
        Ok(())
    }
}
