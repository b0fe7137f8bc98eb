//! tessera-runtime: the `wgpu` backend and the native CPU backend.
pub mod backend;
pub mod cpu;
pub mod gpu;
