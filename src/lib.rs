//! tessera: a Rust workbench for masked image modeling.
//!
//! This facade re-exports the workspace crates so a user depends on one crate:
//! the model DSL and masks ([`dsl`]), the kernels ([`shaders`]), the backends ([`runtime`]) and
//! the model zoo ([`models`]). The `model!` macros are re-exported at the root
//! (`tessera::mae! { ... }`).
#![forbid(unsafe_code)]
pub use tessera_dsl as dsl;
pub use tessera_models as models;
pub use tessera_runtime as runtime;
pub use tessera_shaders as shaders;

pub use tessera_dsl::*;
pub mod mask_png;
pub mod spec_file;
