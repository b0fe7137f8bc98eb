//! tessera-runtime: the `wgpu` backend and the native CPU backend.
pub mod backend;
pub mod cpu;
mod error;
pub mod gpu;
mod leaves;

pub use error::BackendError;
