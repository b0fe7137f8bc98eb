//! The launcher contract shared by every kernel family.
//!
//! A plan is static, so everything about a launch except the data is decided once, when the
//! plan is compiled for the device: the pipeline, the uniform holding the shapes, the bind
//! group over arena views and the workgroup grid. That is a [`Dispatch`]; a training step only
//! records `set_pipeline` / `set_bind_group` / `dispatch_workgroups` for each of them.
//!
//! Binding convention for every kernel: `@binding(0)` is a `var<uniform>` of u32/f32 words
//! (the launch's shapes and scalars), bindings 1.. are the tensor views, inputs first, then
//! outputs, all declared `var<storage, read_write>`: tensors live in one arena buffer, and
//! WebGPU only lets one buffer be bound several times in a dispatch when every binding has
//! the same (storage) usage.
use std::sync::Arc;

use tessera_shaders::Kernel;

use super::{BackendError, GpuContext, Pipeline, PipelineCache};

/// A tensor's place on the device: `len` f32 (or u32) elements from byte `offset` of `buffer`.
/// `offset` must be a multiple of the device's `min_storage_buffer_offset_alignment` (256 on
/// most devices), which the arena layout guarantees.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    pub len: usize,
}

/// One prepared kernel launch.
#[derive(Debug)]
pub struct Dispatch {
    pub label: String,
    pub pipeline: Arc<Pipeline>,
    pub bind_group: wgpu::BindGroup,
    /// Kept alive for the bind group.
    pub uniform: wgpu::Buffer,
    pub groups: [u32; 3],
}

/// A uniform word: the WGSL struct is made of u32 and f32 fields only, in order.
#[derive(Clone, Copy, Debug)]
pub enum Word {
    U(u32),
    F(f32),
}

impl Word {
    fn bits(self) -> u32 {
        match self {
            Word::U(u) => u,
            Word::F(f) => f.to_bits(),
        }
    }
}

/// Builds the launch of `kernel` (with `overrides`) over `views`, with `params` as its
/// uniform and `groups` workgroups. Checks the grid against the device's limits.
pub fn prepare(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    kernel: &'static Kernel,
    overrides: &[(&str, f64)],
    params: &[Word],
    views: &[View<'_>],
    groups: [u32; 3],
) -> Result<Dispatch, BackendError> {
    let pipeline = cache.get(ctx, kernel, overrides)?;
    let limits = ctx.device.limits();
    for &g in &groups {
        if g > limits.max_compute_workgroups_per_dimension {
            return Err(BackendError::Limit {
                what: format!("workgroups of one dimension for `{}`", kernel.name),
                needed: g.into(),
                allowed: limits.max_compute_workgroups_per_dimension.into(),
            });
        }
    }
    // Uniform buffers are bound in 16-byte units; pad the words to a multiple of 4.
    let mut words: Vec<u32> = params.iter().map(|w| w.bits()).collect();
    words.resize(words.len().max(1).next_multiple_of(4), 0);
    let uniform = ctx.upload(
        &format!("{} params", kernel.name),
        bytemuck::cast_slice(&words),
        wgpu::BufferUsages::UNIFORM,
    )?;
    let bind_group = ctx.scoped(&format!("binding `{}`", kernel.name), || {
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        for (i, v) in views.iter().enumerate() {
            // A zero-sized binding is invalid; empty tensors still get one element.
            let size = (v.len.max(1) * 4) as u64;
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: v.buffer,
                    offset: v.offset,
                    size: wgpu::BufferSize::new(size),
                }),
            });
        }
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.name),
            layout: &pipeline.layout,
            entries: &entries,
        })
    })?;
    Ok(Dispatch {
        label: kernel.name.to_string(),
        pipeline,
        bind_group,
        uniform,
        groups,
    })
}

/// Records one prepared launch into a compute pass.
pub fn record(pass: &mut wgpu::ComputePass<'_>, d: &Dispatch) {
    pass.set_pipeline(&d.pipeline.pipeline);
    pass.set_bind_group(0, &d.bind_group, &[]);
    let [x, y, z] = d.groups;
    if x > 0 && y > 0 && z > 0 {
        pass.dispatch_workgroups(x, y, z);
    }
}
