//! What the CPU kernels of the ops share (feature `cpu`): the element types they compute in,
//! the GEMM entry, run-time SIMD dispatch, and how a plan step hands its operands to its op's kernel. The kernels
//! themselves live in their ops' files under `ops/`, listed by kind in `ops::CPU`.
mod element;
mod error;
pub mod gemm;
mod kernel;
pub(crate) mod ordered_sum;
mod raw_gemm;
pub mod simd;
mod step;
mod views;

pub use element::Element;
pub(crate) use error::check_indices;
pub use error::KernelError;
pub use kernel::{CpuKernel, KernelArgs, KernelFn};
pub use step::{run_step, scratch_need};

/// Rows per parallel task of a row-wise kernel over rows of `d` elements.
pub(crate) fn rows_per_task(d: usize) -> usize {
    (8192 / d.max(1)).max(1)
}
