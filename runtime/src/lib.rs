//! tessera-runtime: the `wgpu` backend and the native CPU backend.
