//! tessera-runtime: the `wgpu` backend and the native CPU backend.
#![forbid(unsafe_code)]
pub mod backend;
pub mod cpu;
mod error;
pub mod gpu;
mod leaves;

pub use error::BackendError;
