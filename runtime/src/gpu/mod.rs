//! The wgpu device layer: adapters, device context, pipeline cache and kernel launchers.
//!
//! Named `gpu` so that it does not shadow the `wgpu` crate. It will grow into the full wgpu
//! backend (buffer arena, one command encoder per training step); today it carries the smoke
//! path behind `tessera devices` and the `gpu_smoke` test.

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
