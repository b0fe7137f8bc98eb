//! The native CPU backend: executes a [`Plan`](tessera_dsl::graph::Plan) over one arena
//! allocated once, in f32 (GEMM through the `gemm` crate, SIMD loops chosen at run time,
//! row-parallel kernels on rayon) or
//! in f64 (the numerical oracle for gradient checks and for the GPU backend). The kernels are
//! the ops' own, in tessera-dsl (feature `cpu`); this module owns the memory.
mod executor;

pub use executor::CpuExecutor;
pub use tessera_dsl::graph::cpu::{gemm, Element};
