//! Feature standardization fitted on the training split, as MAE's linear-probe recipe does:
//! `(x - mean) / (std + 1e-6)` with the population std of each feature.

/// Per-feature mean and (population std + 1e-6) of a training set.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

/// Added to the std so that constant features (border pixels) map to 0, not NaN.
pub const STD_EPS: f64 = 1e-6;

impl Standardizer {
    /// Fits on the rows of `dim` features (row-major) of `features`, in f64.
    pub fn fit(features: &[f32], dim: usize) -> Self {
        let rows = features.len() / dim.max(1);
        let mut mean = vec![0f64; dim];
        for row in features.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
        }
        let n = rows.max(1) as f64;
        mean.iter_mut().for_each(|m| *m /= n);
        // Two passes: the centred sum of squares does not lose digits to cancellation.
        let mut var = vec![0f64; dim];
        for row in features.chunks_exact(dim) {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                let d = f64::from(v) - m;
                *s += d * d;
            }
        }
        let scale = var.iter().map(|s| (s / n).sqrt() + STD_EPS).collect();
        Standardizer { mean, scale }
    }

    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// std + 1e-6 per feature.
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Standardized copy of `features` (same row-major layout), in f64.
    pub fn apply(&self, features: &[f32]) -> Vec<f64> {
        let dim = self.mean.len();
        let mut out = Vec::with_capacity(features.len());
        for row in features.chunks_exact(dim) {
            for ((&v, m), s) in row.iter().zip(&self.mean).zip(&self.scale) {
                out.push((f64::from(v) - m) / s);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardizes_with_population_statistics() {
        // Feature 0: 1, 2, 3, 6 -> mean 3, population std sqrt(3.5); feature 1 constant.
        let x = [1.0f32, 5.0, 2.0, 5.0, 3.0, 5.0, 6.0, 5.0];
        let s = Standardizer::fit(&x, 2);
        assert_eq!(s.mean(), &[3.0, 5.0]);
        assert!((s.scale()[0] - (3.5f64.sqrt() + 1e-6)).abs() < 1e-12);
        let y = s.apply(&x);
        assert!((y[0] - (-2.0 / (3.5f64.sqrt() + 1e-6))).abs() < 1e-12);
        assert_eq!(y[1], 0.0);
    }
}
