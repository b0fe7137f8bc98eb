//! tessera-shaders: one `.wgsl` file per kernel family under `wgsl/`, the kernel registry,
//! and naga validation / cross-compilation to SPIR-V, MSL, HLSL and GLSL.
