//! The float type a CPU executor computes in: f32 (fast path) or f64 (gradient checks).
use super::kernel::{CpuKernel, KernelFn};
use super::raw_gemm::{checked_gemm, Strided};
use crate::graph::scalar::Real;

/// f32 or f64.
pub trait Element: Real + Default + core::fmt::Debug + core::iter::Sum {
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    /// A CPU kernel's instance for this type.
    fn kernel(k: &CpuKernel) -> KernelFn<Self>;
    /// `c = alpha·a·b (+ c if accumulate)` for `a [m, k]`, `b [k, n]`, `c [m, n]` given as
    /// (slice, row stride, column stride), on this thread or (`parallel`) the rayon pool.
    /// Panics unless every view fits its slice and `c` does not overlap itself (checked in
    /// `raw_gemm.rs`, beside the one `unsafe` call).
    #[allow(clippy::too_many_arguments)]
    fn matmul_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: Strided<&[Self]>,
        b: Strided<&[Self]>,
        accumulate: bool,
        c: Strided<&mut [Self]>,
        parallel: bool,
    ) {
        checked_gemm((m, k, n), alpha, a, b, accumulate, c, parallel)
    }
}

impl Element for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn kernel(k: &CpuKernel) -> KernelFn<f32> {
        k.f32
    }
}

impl Element for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn kernel(k: &CpuKernel) -> KernelFn<f64> {
        k.f64
    }
}
