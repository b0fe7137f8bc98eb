//! The objective of scikit-learn's `LogisticRegression(C, solver="lbfgs")` for more than two
//! classes (multinomial, with intercept):
//!
//! ```text
//! f(W, b) = (1/n) * sum_i CE(softmax(W x_i + b), y_i) + ||W||^2 / (2 C n)
//! ```
//!
//! `W` is classes x features (sklearn's `coef_`: every class has its own row), the intercept
//! `b` is not penalized. This is sklearn's `sum_i CE_i + ||W||^2 / (2C)` divided by `n`, the
//! scaling recent releases hand to L-BFGS-B, so the minimizer is the same and the gradient
//! tolerance `tol` means the same. Parameters are one vector: `W` row-major, then `b`.

use super::kernel::{axpy, axpy4, dot4, for_blocks, row_logits};

/// Regularized multinomial cross-entropy over (standardized) features.
pub struct SoftmaxObjective<'a> {
    x: &'a [f64],
    dim: usize,
    labels: &'a [u32],
    classes: usize,
    c: f64,
    threads: usize,
}

impl<'a> SoftmaxObjective<'a> {
    /// `x` holds one row of `dim` features per label; labels must be in `0..classes`.
    /// `threads` = 0 uses every core.
    pub fn new(
        x: &'a [f64],
        dim: usize,
        labels: &'a [u32],
        classes: usize,
        c: f64,
        threads: usize,
    ) -> Self {
        assert_eq!(x.len(), dim * labels.len(), "features and labels disagree");
        assert!(
            labels.iter().all(|&l| (l as usize) < classes),
            "label out of range"
        );
        let threads = if threads == 0 {
            super::kernel::default_threads()
        } else {
            threads
        };
        SoftmaxObjective {
            x,
            dim,
            labels,
            classes,
            c,
            threads,
        }
    }

    /// Length of the parameter vector: classes * features + classes.
    pub fn len(&self) -> usize {
        self.classes * self.dim + self.classes
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objective at `theta`; writes its gradient into `grad`.
    pub fn value_grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (n, d, k) = (self.labels.len(), self.dim, self.classes);
        let (coef, bias) = theta.split_at(k * d);
        // Per block: (sum of CE, sum over rows of (p - onehot) x_i^T and of (p - onehot)).
        let partials = for_blocks(n, self.threads, |first, rows| {
            let mut g = vec![0f64; k * d + k];
            let mut ce = 0.0;
            let xs = &self.x[first * d..(first + rows) * d];
            let ys = &self.labels[first..first + rows];
            // Four rows at a time: each weight row and gradient row is read once per four
            // feature rows.
            let mut z = vec![[0f64; 4]; k];
            let quads = rows / 4;
            for q in 0..quads {
                let r = |i: usize| &xs[(4 * q + i) * d..(4 * q + i + 1) * d];
                let x4 = [r(0), r(1), r(2), r(3)];
                for (j, zj) in z.iter_mut().enumerate() {
                    let dots = dot4(x4, &coef[j * d..(j + 1) * d]);
                    for i in 0..4 {
                        zj[i] = bias[j] + dots[i];
                    }
                }
                for i in 0..4 {
                    ce += residual(&mut z, i, ys[4 * q + i] as usize);
                }
                for (j, zj) in z.iter().enumerate() {
                    axpy4(*zj, x4, &mut g[j * d..(j + 1) * d]);
                    g[k * d + j] += (zj[0] + zj[1]) + (zj[2] + zj[3]);
                }
            }
            let mut z1 = vec![0f64; k];
            for i in 4 * quads..rows {
                let x = &xs[i * d..(i + 1) * d];
                row_logits(x, coef, bias, &mut z1);
                let mut zz: Vec<[f64; 4]> = z1.iter().map(|&v| [v, 0.0, 0.0, 0.0]).collect();
                ce += residual(&mut zz, 0, ys[i] as usize);
                for (j, zj) in zz.iter().enumerate() {
                    axpy(zj[0], x, &mut g[j * d..(j + 1) * d]);
                    g[k * d + j] += zj[0];
                }
            }
            (ce, g)
        });
        let inv_n = 1.0 / n as f64;
        let reg = inv_n / self.c;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut ce = 0.0;
        for (part_ce, part_g) in &partials {
            ce += part_ce;
            grad.iter_mut().zip(part_g).for_each(|(g, p)| *g += p);
        }
        grad.iter_mut().for_each(|g| *g *= inv_n);
        for (g, w) in grad[..k * d].iter_mut().zip(coef) {
            *g += reg * w;
        }
        let w2: f64 = coef.iter().map(|v| v * v).sum();
        ce * inv_n + 0.5 * reg * w2
    }
}

/// Turns the logits of row `i` (lane `i` of `z`) into `softmax - onehot(y)` and returns the
/// row's cross-entropy, computed stably as `ln(sum exp(z - max)) - (z_y - max)`.
fn residual(z: &mut [[f64; 4]], i: usize, y: usize) -> f64 {
    let max = z.iter().map(|v| v[i]).fold(f64::NEG_INFINITY, f64::max);
    let zy = z[y][i] - max;
    let mut sum = 0.0;
    for v in z.iter_mut() {
        v[i] = (v[i] - max).exp();
        sum += v[i];
    }
    for v in z.iter_mut() {
        v[i] /= sum;
    }
    z[y][i] -= 1.0;
    sum.ln() - zy
}
