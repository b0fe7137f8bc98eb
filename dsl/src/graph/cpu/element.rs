//! The float type a CPU executor computes in: f32 (fast path) or f64 (gradient checks).
use super::kernel::{CpuKernel, KernelFn};
use crate::graph::scalar::Real;

/// f32 or f64.
pub trait Element: Real + Default + core::fmt::Debug + core::iter::Sum {
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    /// A CPU kernel's instance for this type.
    fn kernel(k: &CpuKernel) -> KernelFn<Self>;
    /// `c = alpha·a·b + beta·c` through `matrixmultiply` (`sgemm` / `dgemm`); the caller
    /// (`gemm::gemm`) has bounds-checked every view.
    #[allow(clippy::too_many_arguments)]
    fn matmul_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (&[Self], isize, isize),
        b: (&[Self], isize, isize),
        beta: Self,
        c: (&mut [Self], isize, isize),
    );
}

macro_rules! matmul_raw_impl {
    ($f:path) => {
        fn matmul_raw(
            m: usize,
            k: usize,
            n: usize,
            alpha: Self,
            a: (&[Self], isize, isize),
            b: (&[Self], isize, isize),
            beta: Self,
            c: (&mut [Self], isize, isize),
        ) {
            // SAFETY: `gemm::gemm` checked that (m−1)·rs + (k−1)·cs etc. lie inside each
            // slice; `c` is an exclusive borrow so it cannot alias `a` or `b`.
            unsafe {
                $f(
                    m,
                    k,
                    n,
                    alpha,
                    a.0.as_ptr(),
                    a.1,
                    a.2,
                    b.0.as_ptr(),
                    b.1,
                    b.2,
                    beta,
                    c.0.as_mut_ptr(),
                    c.1,
                    c.2,
                )
            }
        }
    };
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
    matmul_raw_impl!(matrixmultiply::sgemm);
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
    matmul_raw_impl!(matrixmultiply::dgemm);
}
