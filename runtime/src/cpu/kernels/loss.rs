//! Losses and their gradients.
use rayon::prelude::*;

use crate::cpu::Element;
use crate::BackendError;

/// `Σ_r mask[r] · mean_p (pred − t)² / Σ mask` over rows of length `p`.
pub fn masked_mse<E: Element>(pred: &[E], t: &[E], mask: &[E], p: usize) -> E {
    let num: E = pred
        .par_chunks(p)
        .zip(t.par_chunks(p))
        .zip(mask.par_iter())
        .map(|((a, b), &m)| {
            if m == E::zero() {
                return E::zero();
            }
            let s: E = a.iter().zip(b).map(|(&x, &y)| (x - y) * (x - y)).sum();
            m * s / E::from_f64(p as f64)
        })
        .sum();
    num / mask.iter().copied().sum::<E>()
}

/// d pred = dy · mask · 2 (pred − t) / (p · Σ mask).
pub fn masked_mse_grad<E: Element>(
    pred: &[E],
    t: &[E],
    mask: &[E],
    dy: E,
    p: usize,
    out: &mut [E],
) {
    let msum: E = mask.iter().copied().sum();
    let k = dy * E::from_f64(2.0 / p as f64) / msum;
    out.par_chunks_mut(p)
        .zip(pred.par_chunks(p).zip(t.par_chunks(p)))
        .zip(mask.par_iter())
        .for_each(|((o, (a, b)), &m)| {
            for ((ov, &x), &y) in o.iter_mut().zip(a).zip(b) {
                *ov = k * m * (x - y);
            }
        });
}

fn check_labels(labels: &[u32], v: usize) -> Result<(), BackendError> {
    match labels.iter().find(|&&l| l as usize >= v) {
        Some(&bad) => Err(BackendError::IndexOutOfRange {
            op: "cross_entropy",
            index: bad,
            len: v,
        }),
        None => Ok(()),
    }
}

fn lse<E: Element>(row: &[E]) -> E {
    let mx = row.iter().copied().fold(E::neg_infinity(), E::max);
    mx + row.iter().map(|&x| (x - mx).exp()).sum::<E>().ln()
}

/// `Σ w_i (lse_i − logit_i[label_i]) / Σ w`.
pub fn cross_entropy<E: Element>(
    logits: &[E],
    labels: &[u32],
    w: &[E],
    v: usize,
) -> Result<E, BackendError> {
    check_labels(labels, v)?;
    let num: E = logits
        .par_chunks(v)
        .zip(labels.par_iter().zip(w.par_iter()))
        .map(|(row, (&l, &wi))| wi * (lse(row) - row[l as usize]))
        .sum();
    Ok(num / w.iter().copied().sum::<E>())
}

/// d logits = dy · w_i / Σ w · (softmax − onehot).
pub fn cross_entropy_grad<E: Element>(
    logits: &[E],
    labels: &[u32],
    w: &[E],
    dy: E,
    v: usize,
    out: &mut [E],
) -> Result<(), BackendError> {
    check_labels(labels, v)?;
    let k = dy / w.iter().copied().sum::<E>();
    out.par_chunks_mut(v)
        .zip(logits.par_chunks(v))
        .zip(labels.par_iter().zip(w.par_iter()))
        .for_each(|((o, row), (&l, &wi))| {
            let s = lse(row);
            for (j, (ov, &x)) in o.iter_mut().zip(row).enumerate() {
                let onehot = if j == l as usize { E::one() } else { E::zero() };
                *ov = k * wi * ((x - s).exp() - onehot);
            }
        });
    Ok(())
}
