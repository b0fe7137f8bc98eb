//! The native CPU backend: executes a [`Plan`](tessera_dsl::graph::Plan) over one arena
//! allocated once, in f32 (GEMM through the `gemm` crate, row-parallel kernels on rayon) or
//! in f64 (the numerical oracle for gradient checks and for the GPU backend).
mod element;
mod executor;
pub mod gemm;
pub mod kernels;
mod views;

pub use element::Element;
pub use executor::CpuExecutor;
