//! The scale of the rounding error of an f32 attention backward, for the GPU equivalence tests.
//!
//! Both backends compute `dS = P ∘ (dP − D)` with `dP = dO·vᵀ` and `D = rowsum(dO ∘ O)`. When
//! the softmax is peaked (one key takes almost all of a row), `dP − D` is far smaller than
//! either term, so any f32 evaluation is off by the rounding of the terms, not of the result:
//! about ε·P·(|dO|·|v| + |dO|·|O|) per score. The absolute-value run that bounds the other
//! outputs' cancellation cannot see this (taking absolute values of the inputs changes P and
//! keeps the subtraction), so the attention tests compute the cancellation-free magnitude of
//! dq, dk and the bias gradient here, in f64, from the same inputs.

/// One attention problem, every tensor addressed by (batch, head, row, column).
pub struct Problem<'a> {
    pub batch: usize,
    pub heads: usize,
    pub lq: usize,
    pub lk: usize,
    pub d: usize,
    pub dv: usize,
    pub scale: f64,
    pub q: &'a dyn Fn(usize, usize, usize, usize) -> f64,
    pub k: &'a dyn Fn(usize, usize, usize, usize) -> f64,
    pub v: &'a dyn Fn(usize, usize, usize, usize) -> f64,
    /// The additive bias at (batch, head, query, key).
    pub bias: &'a dyn Fn(usize, usize, usize, usize) -> f64,
    /// The gradient arriving at the output.
    pub d_o: &'a dyn Fn(usize, usize, usize, usize) -> f64,
}

/// Cancellation-free magnitudes of the backward, laid out `[batch, heads, rows, cols]`.
pub struct Magnitudes {
    pub dq: Vec<f64>,
    pub dk: Vec<f64>,
    /// Of the scores' gradient, `[batch, heads, lq, lk]`: a bias gradient is its sum over the
    /// dimensions the bias broadcasts along.
    pub ds: Vec<f64>,
}

pub fn magnitudes(p: &Problem) -> Magnitudes {
    let (nb, nh, lq, lk, d, dv) = (p.batch, p.heads, p.lq, p.lk, p.d, p.dv);
    let mut dq = vec![0.0; nb * nh * lq * d];
    let mut dk = vec![0.0; nb * nh * lk * d];
    let mut ds = vec![0.0; nb * nh * lq * lk];
    for b in 0..nb {
        for h in 0..nh {
            for i in 0..lq {
                let logits: Vec<f64> = (0..lk)
                    .map(|j| {
                        let dot: f64 = (0..d).map(|c| (p.q)(b, h, i, c) * (p.k)(b, h, j, c)).sum();
                        p.scale * dot + (p.bias)(b, h, i, j)
                    })
                    .collect();
                let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
                let total: f64 = e.iter().sum();
                let probs: Vec<f64> = e.iter().map(|x| x / total).collect();
                // |dO|·|O| with O = P·v, the magnitude of the row term D.
                let d_row: f64 = (0..dv)
                    .map(|c| {
                        let o: f64 = (0..lk).map(|j| probs[j] * (p.v)(b, h, j, c)).sum();
                        ((p.d_o)(b, h, i, c) * o).abs()
                    })
                    .sum();
                for j in 0..lk {
                    let dp: f64 = (0..dv)
                        .map(|c| ((p.d_o)(b, h, i, c) * (p.v)(b, h, j, c)).abs())
                        .sum();
                    let s = probs[j] * (dp + d_row);
                    ds[((b * nh + h) * lq + i) * lk + j] = s;
                    for c in 0..d {
                        dq[((b * nh + h) * lq + i) * d + c] +=
                            p.scale * s * (p.k)(b, h, j, c).abs();
                        dk[((b * nh + h) * lk + j) * d + c] +=
                            p.scale * s * (p.q)(b, h, i, c).abs();
                    }
                }
            }
        }
    }
    Magnitudes { dq, dk, ds }
}

/// A `[batch, heads, rows, cols]` tensor addressed by (batch, head, row, column).
pub fn indexed(
    t: &[f64],
    heads: usize,
    rows: usize,
    cols: usize,
) -> impl Fn(usize, usize, usize, usize) -> f64 + '_ {
    move |b, h, i, c| t[((b * heads + h) * rows + i) * cols + c]
}
