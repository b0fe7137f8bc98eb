//! The float type a CPU executor computes in: f32 (fast path) or f64 (gradient checks).
use tessera_dsl::graph::scalar::Real;

/// f32 or f64. `gemm` dispatches on the type at run time.
pub trait Element: Real + Default + core::fmt::Debug + core::iter::Sum {
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Element for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Element for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}
