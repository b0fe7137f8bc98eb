//! The wgpu backend: adapters, device context, pipeline cache, the arena, kernel launchers with
//! the lowering of each op beside them, and the executor that runs a plan as one command
//! encoder per step. Named `gpu` so that it does not shadow the `wgpu` crate.

mod adapter;
mod arena;
mod axpy;
mod context;
mod executor;
pub mod launch;
mod lowering;
pub mod ops;
mod pipeline;
mod profile;
mod require;

use crate::BackendError;

pub use adapter::{
    adapter_reports, backend_names, backends, choose, enumerate, instance, AdapterReport,
    KeyLimits, WANTED_FEATURES,
};
pub use axpy::{axpy, grid};
pub use context::{GpuContext, GpuOptions, DEFAULT_TIMEOUT};
pub use executor::{GpuBackend, GpuExecutor};
pub use pipeline::{Pipeline, PipelineCache, PipelineKey};
pub use require::{gpu_required, require_gpu, ADAPTER_VAR, REQUIRE_GPU_VAR};
