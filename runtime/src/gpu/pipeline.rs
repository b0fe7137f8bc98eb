//! Compute pipelines, built once per (kernel, override values) and reused.
//!
//! Pipeline creation compiles a shader in the driver (milliseconds to seconds), so it must
//! never happen inside a training step; the later backend fills this cache while planning.

use std::collections::HashMap;
use std::sync::Arc;

use tessera_shaders::Kernel;

use super::{BackendError, GpuContext};

/// Cache key: the kernel's registry name and every override value (defaults included, as
/// bit patterns so that the key is `Eq + Hash`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    pub kernel: &'static str,
    pub constants: Vec<(&'static str, u64)>,
}

/// A ready pipeline with what a launcher needs to bind and dispatch it.
#[derive(Debug)]
pub struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    /// Layout of bind group 0, fetched once: `get_bind_group_layout` per launch was a measured
    /// slowdown in wgpu (#5196).
    pub layout: wgpu::BindGroupLayout,
    /// Workgroup shape after overrides, as naga resolved it.
    pub workgroup_size: [u32; 3],
}

#[derive(Debug, Default)]
pub struct PipelineCache {
    modules: HashMap<&'static str, wgpu::ShaderModule>,
    pipelines: HashMap<PipelineKey, Arc<Pipeline>>,
}

impl PipelineCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct pipelines built so far.
    pub fn len(&self) -> usize {
        self.pipelines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pipelines.is_empty()
    }

    /// The pipeline for `kernel` with the overrides in `set` (the rest at their defaults),
    /// building it on first use. Unknown override names are errors.
    pub fn get(
        &mut self,
        ctx: &GpuContext,
        kernel: &'static Kernel,
        set: &[(&str, f64)],
    ) -> Result<Arc<Pipeline>, BackendError> {
        let constants = kernel.constants(set)?;
        let key = PipelineKey {
            kernel: kernel.name,
            constants: constants.iter().map(|&(n, v)| (n, v.to_bits())).collect(),
        };
        if let Some(p) = self.pipelines.get(&key) {
            return Ok(Arc::clone(p));
        }

        // naga resolves the workgroup shape for these constants, and rejects bad values here
        // with a message naming the kernel rather than inside the driver.
        let workgroup_size = tessera_shaders::specialize(kernel, set)?.workgroup_size;
        let invocations: u64 = workgroup_size.iter().map(|&d| u64::from(d)).product();
        let allowed = ctx.device.limits().max_compute_invocations_per_workgroup;
        if invocations > u64::from(allowed) {
            return Err(BackendError::Limit {
                what: format!("kernel `{}` with workgroup {workgroup_size:?}", kernel.name),
                needed: invocations,
                allowed: allowed.into(),
            });
        }

        let module = match self.modules.get(kernel.name) {
            Some(m) => m.clone(),
            None => {
                let m = ctx.scoped(&format!("compiling kernel `{}`", kernel.name), || {
                    ctx.device
                        .create_shader_module(wgpu::ShaderModuleDescriptor {
                            label: Some(kernel.name),
                            source: wgpu::ShaderSource::Wgsl(kernel.source.into()),
                        })
                })?;
                self.modules.insert(kernel.name, m.clone());
                m
            }
        };
        let during = format!(
            "building the pipeline for `{}` with {constants:?}",
            kernel.name
        );
        let (pipeline, layout) = ctx.scoped(&during, || {
            let pipeline = ctx
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel.name),
                    layout: None,
                    module: &module,
                    entry_point: Some(kernel.entry_point),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        zero_initialize_workgroup_memory: true,
                    },
                    cache: None,
                });
            let layout = pipeline.get_bind_group_layout(0);
            (pipeline, layout)
        })?;
        let built = Arc::new(Pipeline {
            pipeline,
            layout,
            workgroup_size,
        });
        self.pipelines.insert(key, Arc::clone(&built));
        Ok(built)
    }
}
