//! The linear probe: standardize features with the training split's statistics, fit a
//! multinomial logistic regression (sklearn's objective, L-BFGS) on the training split, and
//! report top-1 accuracy on the test split — the protocol of the PyTorch reference
//! (`torch_fmnist_mae_probe.py`: `LogisticRegression(max_iter=300, C=1.0)`).

mod error;
mod kernel;
pub mod lbfgs;
mod logreg;
mod objective;
mod standardize;

pub use error::ProbeError;
pub use lbfgs::{LbfgsOptions, Stop};
pub use logreg::{LogRegOptions, LogisticRegression};
pub use objective::SoftmaxObjective;
pub use standardize::{Standardizer, STD_EPS};

/// Features (row-major, `dim` per row) with their labels.
#[derive(Clone, Copy, Debug)]
pub struct FeatureSet<'a> {
    pub features: &'a [f32],
    pub dim: usize,
    pub labels: &'a [u32],
}

impl FeatureSet<'_> {
    fn check(&self, what: &'static str, classes: usize) -> Result<usize, ProbeError> {
        let rows = self.labels.len();
        if rows == 0 || self.dim == 0 {
            return Err(ProbeError::Empty { what });
        }
        if self.features.len() != rows * self.dim {
            return Err(ProbeError::Shape {
                what,
                rows,
                dim: self.dim,
                got: self.features.len(),
            });
        }
        if let Some(i) = self.features.iter().position(|v| !v.is_finite()) {
            return Err(ProbeError::NonFinite {
                what,
                row: i / self.dim,
                col: i % self.dim,
                value: self.features[i],
            });
        }
        logreg::check_labels(what, self.labels, classes)?;
        Ok(rows)
    }
}

/// What the probe measured.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    /// Top-1 accuracy on the test split, in [0, 1].
    pub test_top1: f64,
    pub train_top1: f64,
    pub iterations: usize,
    pub stop: Stop,
    /// Training objective at the solution.
    pub loss: f64,
}

/// Runs the linear probe on precomputed features.
pub fn linear_probe(
    train: FeatureSet<'_>,
    test: FeatureSet<'_>,
    classes: usize,
    opts: &LogRegOptions,
) -> Result<ProbeReport, ProbeError> {
    train.check("training set", classes)?;
    let n_test = test.check("test set", classes)?;
    if test.dim != train.dim {
        return Err(ProbeError::Shape {
            what: "test set (feature size differs from the training set's)",
            rows: n_test,
            dim: train.dim,
            got: test.features.len(),
        });
    }
    let standardizer = Standardizer::fit(train.features, train.dim);
    let x_train = standardizer.apply(train.features);
    let x_test = standardizer.apply(test.features);
    let model = LogisticRegression::fit(&x_train, train.dim, train.labels, classes, opts)?;
    Ok(ProbeReport {
        test_top1: model.accuracy(&x_test, test.labels),
        train_top1: model.accuracy(&x_train, train.labels),
        iterations: model.iterations,
        stop: model.stop,
        loss: model.loss,
    })
}
