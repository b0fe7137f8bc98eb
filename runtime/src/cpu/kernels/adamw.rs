//! The AdamW update, in place, exactly as `torch.optim.AdamW` (see `adamw_reference`).
use rayon::prelude::*;

use crate::cpu::Element;

/// Hyper-parameters of one update launch (lr already multiplied by the group's scale).
#[derive(Clone, Copy, Debug)]
pub struct Hyper {
    pub lr: f64,
    pub t: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub wd: f64,
}

pub fn update<E: Element>(p: &mut [E], g: &[E], m: &mut [E], v: &mut [E], h: Hyper) {
    let bc1 = 1.0 - h.beta1.powf(h.t);
    let bc2 = 1.0 - h.beta2.powf(h.t);
    let decay = E::from_f64(1.0 - h.lr * h.wd);
    let step = E::from_f64(h.lr / bc1);
    let inv_sqrt_bc2 = E::from_f64(1.0 / bc2.sqrt());
    let (b1, b2) = (E::from_f64(h.beta1), E::from_f64(h.beta2));
    let (c1, c2) = (E::from_f64(1.0 - h.beta1), E::from_f64(1.0 - h.beta2));
    let eps = E::from_f64(h.eps);
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
}
