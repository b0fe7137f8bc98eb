//! tessera-dsl: shapes, the `model!` macro family, spec validation (`const fn`), masking
//! strategies and the graph IR. `#![no_std]` + `alloc`, so the same rules run in a macro's
//! const evaluation, in the CLI and anywhere else.
#![no_std]
// No unsafe code, except the one checked GEMM call of the CPU kernels (feature `cpu`).
#![cfg_attr(not(feature = "cpu"), forbid(unsafe_code))]
#![cfg_attr(feature = "cpu", deny(unsafe_code))]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod ratio;
pub use ratio::Ratio;
pub mod graph;
pub mod mask;
pub mod presets;
pub mod rng;
pub mod spec;
pub use spec::{Family, ModelDims, ModelSpec, Rule, ShapeError};
