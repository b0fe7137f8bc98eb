//! Multinomial logistic regression fitted with L-BFGS on [`SoftmaxObjective`]: the classifier
//! of the linear probe (sklearn's `LogisticRegression(C=1.0, max_iter=300)` in MAE's linear-probe recipe).

use super::kernel::{default_threads, for_blocks, row_logits};
use super::lbfgs::{minimize, LbfgsOptions, Stop};
use super::objective::SoftmaxObjective;
use super::ProbeError;

/// Fit settings. `c` is sklearn's inverse regularization strength.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRegOptions {
    pub c: f64,
    pub lbfgs: LbfgsOptions,
    /// Threads for the objective; 0 uses every core.
    pub threads: usize,
}

impl Default for LogRegOptions {
    /// sklearn's defaults with the recipe's 300 iterations: C = 1, tol = 1e-4.
    fn default() -> Self {
        LogRegOptions {
            c: 1.0,
            lbfgs: LbfgsOptions::default(),
            threads: 0,
        }
    }
}

/// A fitted classifier.
#[derive(Clone, Debug)]
pub struct LogisticRegression {
    pub dim: usize,
    pub classes: usize,
    /// Weights, classes x features row-major (sklearn's `coef_`), then the intercepts.
    pub params: Vec<f64>,
    /// The objective at the solution (mean cross-entropy + penalty / n).
    pub loss: f64,
    pub iterations: usize,
    pub stop: Stop,
    pub grad_max: f64,
}

impl LogisticRegression {
    /// Fits on features `x` (rows of `dim`, row-major) with labels in `0..classes`.
    pub fn fit(
        x: &[f64],
        dim: usize,
        labels: &[u32],
        classes: usize,
        opts: &LogRegOptions,
    ) -> Result<Self, ProbeError> {
        if !(opts.c > 0.0 && opts.c.is_finite()) {
            return Err(ProbeError::Config(format!(
                "C = {} must be positive",
                opts.c
            )));
        }
        if classes < 2 {
            return Err(ProbeError::Config(format!(
                "a classifier needs at least 2 classes, got {classes}"
            )));
        }
        if labels.is_empty() || dim == 0 {
            return Err(ProbeError::Empty {
                what: "the training set",
            });
        }
        if x.len() != labels.len() * dim {
            return Err(ProbeError::Shape {
                what: "training set",
                rows: labels.len(),
                dim,
                got: x.len(),
            });
        }
        check_labels("training set", labels, classes)?;
        let objective = SoftmaxObjective::new(x, dim, labels, classes, opts.c, opts.threads);
        let m = minimize(
            |theta, grad| objective.value_grad(theta, grad),
            vec![0.0; objective.len()],
            &opts.lbfgs,
        );
        if !m.value.is_finite() {
            return Err(ProbeError::Diverged {
                iterations: m.iterations,
            });
        }
        Ok(LogisticRegression {
            dim,
            classes,
            params: m.x,
            loss: m.value,
            iterations: m.iterations,
            stop: m.stop,
            grad_max: m.grad_max,
        })
    }

    /// The most likely class of each row of `x`.
    pub fn predict(&self, x: &[f64]) -> Vec<u32> {
        let (d, k) = (self.dim, self.classes);
        let (coef, bias) = self.params.split_at(k * d);
        let rows = x.len() / d;
        for_blocks(rows, default_threads(), |first, n| {
            let mut z = vec![0f64; k];
            x[first * d..(first + n) * d]
                .chunks_exact(d)
                .map(|row| {
                    row_logits(row, coef, bias, &mut z);
                    // The first maximum wins ties, as numpy's argmax.
                    let mut best = 0;
                    for (j, &v) in z.iter().enumerate() {
                        if v > z[best] {
                            best = j;
                        }
                    }
                    best as u32
                })
                .collect::<Vec<u32>>()
        })
        .concat()
    }

    /// Fraction of rows whose predicted class is the label (top-1 accuracy).
    pub fn accuracy(&self, x: &[f64], labels: &[u32]) -> f64 {
        let hits = self
            .predict(x)
            .iter()
            .zip(labels)
            .filter(|(p, y)| p == y)
            .count();
        hits as f64 / labels.len().max(1) as f64
    }
}

pub(crate) fn check_labels(
    what: &'static str,
    labels: &[u32],
    classes: usize,
) -> Result<(), ProbeError> {
    match labels.iter().position(|&l| l as usize >= classes) {
        Some(row) => Err(ProbeError::Label {
            what,
            row,
            label: labels[row],
            classes,
        }),
        None => Ok(()),
    }
}
