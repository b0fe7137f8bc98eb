//! tessera-shaders: one `.wgsl` file per kernel family under `wgsl/`, the kernel registry,
//! and naga validation / cross-compilation to SPIR-V, MSL, HLSL and GLSL.
//!
//! Cross-compiling every kernel in plain unit tests is how the project shows that its kernels
//! build for Vulkan, Metal, DX12 and GL without owning those GPUs.
#![forbid(unsafe_code)]

mod compile;
mod error;
mod registry;

pub use compile::{
    cross_compile, specialize, translate, CrossCompiled, Output, Specialized, Target,
};
pub use error::ShaderError;
pub use registry::*;
