//! Row-wise kernels over the last dim: layer norm (forward and backward), softmax, norm-pix.
use rayon::prelude::*;

use crate::cpu::Element;

/// Rows per parallel task.
fn rows_per_task(d: usize) -> usize {
    (8192 / d.max(1)).max(1)
}

/// Mean and 1/sqrt(biased var + eps) of one row (two passes, stable).
#[inline]
fn row_stats<E: Element>(x: &[E], eps: E) -> (E, E) {
    let n = E::from_f64(x.len() as f64);
    let mean = x.iter().copied().sum::<E>() / n;
    let var = x.iter().map(|&v| (v - mean) * (v - mean)).sum::<E>() / n;
    (mean, (var + eps).sqrt().recip())
}

pub fn layer_norm<E: Element>(x: &[E], w: &[E], b: &[E], out: &mut [E], eps: f64) {
    let d = w.len();
    let eps = E::from_f64(eps);
    let rpt = rows_per_task(d);
    out.par_chunks_mut(rpt * d)
        .zip(x.par_chunks(rpt * d))
        .for_each(|(o, xs)| {
            for (orow, xrow) in o.chunks_mut(d).zip(xs.chunks(d)) {
                let (mean, rstd) = row_stats(xrow, eps);
                for j in 0..d {
                    orow[j] = (xrow[j] - mean) * rstd * w[j] + b[j];
                }
            }
        });
}

/// dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)) with g = dy·w.
pub fn layer_norm_grad_x<E: Element>(x: &[E], w: &[E], dy: &[E], out: &mut [E], eps: f64) {
    let d = w.len();
    let eps = E::from_f64(eps);
    let inv_d = E::from_f64(1.0 / d as f64);
    let rpt = rows_per_task(d);
    out.par_chunks_mut(rpt * d)
        .zip(x.par_chunks(rpt * d).zip(dy.par_chunks(rpt * d)))
        .for_each(|(o, (xs, dys))| {
            for ((orow, xrow), dyrow) in o.chunks_mut(d).zip(xs.chunks(d)).zip(dys.chunks(d)) {
                let (mean, rstd) = row_stats(xrow, eps);
                let (mut sg, mut sgx) = (E::zero(), E::zero());
                for j in 0..d {
                    let g = dyrow[j] * w[j];
                    sg = sg + g;
                    sgx = sgx + g * (xrow[j] - mean) * rstd;
                }
                let (mg, mgx) = (sg * inv_d, sgx * inv_d);
                for j in 0..d {
                    let xh = (xrow[j] - mean) * rstd;
                    orow[j] = rstd * (dyrow[j] * w[j] - mg - xh * mgx);
                }
            }
        });
}

/// dw[j] = Σ_rows dy·x̂. Row statistics go to `stats` (2 per row), then each task sums a
/// range of columns over all rows, so no partial sums need merging.
pub fn layer_norm_grad_w<E: Element>(x: &[E], dy: &[E], out: &mut [E], eps: f64, stats: &mut [E]) {
    let d = out.len();
    let rows = x.len() / d.max(1);
    let eps = E::from_f64(eps);
    let stats = &mut stats[..2 * rows];
    stats
        .par_chunks_mut(2 * 64)
        .zip(x.par_chunks(64 * d))
        .for_each(|(st, xs)| {
            for (s, xrow) in st.chunks_mut(2).zip(xs.chunks(d)) {
                let (m, r) = row_stats(xrow, eps);
                s[0] = m;
                s[1] = r;
            }
        });
    let stats = &*stats;
    let cols = (d / 4).max(16);
    out.par_chunks_mut(cols).enumerate().for_each(|(t, o)| {
        let c0 = t * cols;
        o.fill(E::zero());
        for r in 0..rows {
            let (m, rs) = (stats[2 * r], stats[2 * r + 1]);
            let xr = &x[r * d + c0..r * d + c0 + o.len()];
            let dr = &dy[r * d + c0..r * d + c0 + o.len()];
            for j in 0..o.len() {
                o[j] = o[j] + dr[j] * (xr[j] - m) * rs;
            }
        }
    });
}

pub fn softmax<E: Element>(x: &[E], out: &mut [E], d: usize) {
    let rpt = rows_per_task(d);
    out.par_chunks_mut(rpt * d)
        .zip(x.par_chunks(rpt * d))
        .for_each(|(o, xs)| {
            for (orow, xrow) in o.chunks_mut(d).zip(xs.chunks(d)) {
                let mx = xrow.iter().copied().fold(E::neg_infinity(), E::max);
                let mut s = E::zero();
                for (ov, &xv) in orow.iter_mut().zip(xrow) {
                    *ov = (xv - mx).exp();
                    s = s + *ov;
                }
                let inv = s.recip();
                orow.iter_mut().for_each(|v| *v = *v * inv);
            }
        });
}

pub fn softmax_grad<E: Element>(y: &[E], dy: &[E], out: &mut [E], d: usize) {
    let rpt = rows_per_task(d);
    out.par_chunks_mut(rpt * d)
        .zip(y.par_chunks(rpt * d).zip(dy.par_chunks(rpt * d)))
        .for_each(|(o, (ys, dys))| {
            for ((orow, yrow), dyrow) in o.chunks_mut(d).zip(ys.chunks(d)).zip(dys.chunks(d)) {
                let s: E = yrow.iter().zip(dyrow).map(|(&a, &b)| a * b).sum();
                for j in 0..d {
                    orow[j] = yrow[j] * (dyrow[j] - s);
                }
            }
        });
}

/// `(x − mean) / sqrt(var_unbiased + eps)` per row, or `/ (sqrt(var_unbiased) + eps)`.
pub fn norm_pix<E: Element>(x: &[E], out: &mut [E], d: usize, eps: f64, eps_on_std: bool) {
    let eps = E::from_f64(eps);
    let rpt = rows_per_task(d);
    let n = E::from_f64(d as f64);
    let n1 = E::from_f64(d as f64 - 1.0);
    out.par_chunks_mut(rpt * d)
        .zip(x.par_chunks(rpt * d))
        .for_each(|(o, xs)| {
            for (orow, xrow) in o.chunks_mut(d).zip(xs.chunks(d)) {
                let mean = xrow.iter().copied().sum::<E>() / n;
                let var = xrow.iter().map(|&v| (v - mean) * (v - mean)).sum::<E>() / n1;
                let inv = if eps_on_std {
                    (var.sqrt() + eps).recip()
                } else {
                    (var + eps).sqrt().recip()
                };
                for j in 0..d {
                    orow[j] = (xrow[j] - mean) * inv;
                }
            }
        });
}
