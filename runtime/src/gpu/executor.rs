//! The wgpu backend's executor: a [`Plan`] compiled for one device.
//!
//! Compiling allocates the arena (one buffer, laid out by [`super::arena`]) and prepares every
//! launch once — pipelines from the shared cache, uniforms, bind groups over arena views,
//! grids. A step then writes the inputs with `queue.write_buffer`, records every dispatch into
//! one compute pass of one command encoder, submits, and waits; tensors are read back only
//! when asked. No allocation, shader compilation or host round trip happens inside a step.
use std::collections::HashMap;
use std::sync::Arc;

use tessera_dsl::graph::{BufSlot, DType, Node, NodeId, Op, Plan, Space, Step};

use super::arena::Arena;
use super::launch::{record, Dispatch};
use super::lowering::{GpuLowering, Lowering};
use super::ops::GPU;
use super::{profile, GpuContext, GpuOptions, PipelineCache};
use crate::backend::{Executor, KernelTime};
use crate::leaves::{self, LeafKind};
use crate::BackendError;

/// An opened wgpu device with its pipeline cache: compiles plans into [`GpuExecutor`]s.
#[derive(Debug)]
pub struct GpuBackend {
    ctx: Arc<GpuContext>,
    cache: PipelineCache,
}

impl GpuBackend {
    /// Opens the adapter `options` picks.
    pub fn new(options: &GpuOptions) -> Result<Self, BackendError> {
        Ok(Self::with_context(Arc::new(GpuContext::new(options)?)))
    }

    /// Uses an already opened device (tests share one).
    pub fn with_context(ctx: Arc<GpuContext>) -> Self {
        GpuBackend {
            ctx,
            cache: PipelineCache::new(),
        }
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The device and the pipeline cache, for launchers used outside a plan (benchmarks).
    pub fn parts(&mut self) -> (&GpuContext, &mut PipelineCache) {
        (&self.ctx, &mut self.cache)
    }

    /// Compiles `plan` for this device; `label` names it in errors (the model and batch).
    pub fn compile(&mut self, plan: &Plan, label: &str) -> Result<GpuExecutor, BackendError> {
        GpuExecutor::new(Arc::clone(&self.ctx), &mut self.cache, plan, label)
    }
}

/// A plan resident on the device.
#[derive(Debug)]
pub struct GpuExecutor {
    ctx: Arc<GpuContext>,
    plan: Plan,
    label: String,
    arena: Arena,
    dispatches: Vec<Dispatch>,
    /// Exclusive upper bound and consuming op of the values of each index leaf, checked when
    /// the host sets it (a kernel cannot report a bad index).
    index_bounds: HashMap<NodeId, (usize, &'static str)>,
}

/// The `GPU` table's row for a node's op.
fn row(node: &Node) -> &'static GpuLowering {
    &GPU[node.op.kind() as usize]
}

/// Scratch views (element counts) the launches of `step` need for intermediate values.
fn scratch_need(plan: &Plan, step: &Step) -> Vec<usize> {
    let node = plan.graph.node(step.node);
    (row(node).scratch)(&plan.graph, node)
}

/// The leaf an index operand comes from (through reshapes).
fn index_root(plan: &Plan, mut id: NodeId) -> NodeId {
    while plan.graph.node(id).op == Op::Reshape {
        id = plan.graph.node(id).inputs[0];
    }
    id
}

/// Per index leaf: the smallest bound any consumer puts on its values.
fn index_bounds(plan: &Plan) -> HashMap<NodeId, (usize, &'static str)> {
    let g = &plan.graph;
    let mut bounds: HashMap<NodeId, (usize, &'static str)> = HashMap::new();
    for step in &plan.steps {
        let node = g.node(step.node);
        let bound = row(node).index_bound.map(|bound| bound(g, node));
        if let Some(b) = bound {
            let leaf = index_root(plan, node.inputs[1]);
            let e = bounds.entry(leaf).or_insert(b);
            if b.0 < e.0 {
                *e = b;
            }
        }
    }
    bounds
}

/// A name for node `id` in limit errors: the leaf's name, or the op and its shape.
fn describe(plan: &Plan, id: usize) -> String {
    let node = &plan.graph.nodes()[id];
    match node.role.name() {
        Some(name) => format!("`{name}` {:?}", node.shape),
        None => format!("{} {:?} (node {id})", node.op.name(), node.shape),
    }
}

impl GpuExecutor {
    fn new(
        ctx: Arc<GpuContext>,
        cache: &mut PipelineCache,
        plan: &Plan,
        label: &str,
    ) -> Result<Self, BackendError> {
        let limits = ctx.device.limits();
        for (id, slot) in plan.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let bytes = slot.len as u64 * 4;
            if bytes > limits.max_storage_buffer_binding_size {
                return Err(BackendError::Limit {
                    what: format!(
                        "tensor {} of {label} in one storage binding on {}",
                        describe(plan, id),
                        ctx.report.name
                    ),
                    needed: bytes,
                    allowed: limits.max_storage_buffer_binding_size,
                });
            }
        }
        let scratch: Vec<Vec<usize>> = plan.steps.iter().map(|s| scratch_need(plan, s)).collect();
        let arena = Arena::new(&ctx, plan, label, scratch.iter().map(Vec::as_slice))?;
        let mut dispatches = Vec::with_capacity(plan.steps.len());
        for (step, need) in plan.steps.iter().zip(&scratch) {
            let scratch = arena.scratch(need);
            let step = Lowering::new(&ctx, &plan.graph, step, &arena, &scratch);
            dispatches.extend((row(step.node).lower)(&step, cache)?);
        }
        Ok(GpuExecutor {
            index_bounds: index_bounds(plan),
            ctx,
            plan: plan.clone(),
            label: label.to_string(),
            arena,
            dispatches,
        })
    }

    /// Launches per step of the plan (some ops take several).
    pub fn dispatch_count(&self) -> usize {
        self.dispatches.len()
    }

    /// Bytes of the device arena.
    pub fn arena_bytes(&self) -> u64 {
        self.arena.layout.size
    }

    fn write(&mut self, name: &str, wanted: LeafKind, v: &[f32]) -> Result<(), BackendError> {
        let (_, slot) = leaves::writable(&self.plan, name, wanted, DType::Data, v.len())?;
        self.arena.write(&self.ctx, slot, bytemuck::cast_slice(v));
        Ok(())
    }

    fn read_slots(&self, slots: &[BufSlot]) -> Result<Vec<Vec<f32>>, BackendError> {
        let words = self.arena.read(&self.ctx, slots)?;
        Ok(words
            .into_iter()
            .map(|w| w.into_iter().map(f32::from_bits).collect())
            .collect())
    }

    /// Records every dispatch into one pass of one encoder, submits, and waits.
    fn submit_all(&self) -> Result<(), BackendError> {
        let ctx = &self.ctx;
        let submission = ctx.scoped(&format!("recording a step of {}", self.label), || {
            let mut encoder = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some(&self.label),
                });
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(&self.label),
                    timestamp_writes: None,
                });
                for d in &self.dispatches {
                    record(&mut pass, d);
                }
            }
            ctx.queue.submit([encoder.finish()])
        })?;
        ctx.wait(submission, &format!("running a step of {}", self.label))?;
        Ok(())
    }
}

impl Executor for GpuExecutor {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn device_name(&self) -> String {
        format!("wgpu ({})", self.ctx.report.name)
    }

    fn set_param(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError> {
        self.write(name, LeafKind::Param, v)
    }

    fn set_frozen(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError> {
        self.write(name, LeafKind::Frozen, v)
    }

    fn set_input(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError> {
        self.write(name, LeafKind::Input, v)
    }

    fn set_any(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError> {
        self.write(name, LeafKind::Any, v)
    }

    fn set_index_input(&mut self, name: &str, v: &[u32]) -> Result<(), BackendError> {
        let (id, slot) = leaves::writable(&self.plan, name, LeafKind::Any, DType::Index, v.len())?;
        if let Some(&(len, op)) = self.index_bounds.get(&id) {
            if let Some(&bad) = v.iter().find(|&&i| i as usize >= len) {
                return Err(BackendError::IndexOutOfRange {
                    op,
                    index: bad,
                    len,
                });
            }
        }
        self.arena.write(&self.ctx, slot, bytemuck::cast_slice(v));
        Ok(())
    }

    fn run(&mut self) -> Result<(), BackendError> {
        self.submit_all()
    }

    fn read(&self, original: NodeId) -> Result<Vec<f32>, BackendError> {
        Ok(self.read_many(&[original])?.pop().unwrap_or_default())
    }

    fn read_many(&self, originals: &[NodeId]) -> Result<Vec<Vec<f32>>, BackendError> {
        let empty = BufSlot {
            space: Space::Data,
            offset: 0,
            len: 0,
        };
        let slots = originals
            .iter()
            .map(|&o| Ok(leaves::readable(&self.plan, o)?.unwrap_or(empty)))
            .collect::<Result<Vec<_>, BackendError>>()?;
        self.read_slots(&slots)
    }

    fn read_name(&self, name: &str) -> Result<Vec<f32>, BackendError> {
        let slot = leaves::readable_leaf(&self.plan, name, LeafKind::Any)?;
        Ok(self.read_slots(&[slot])?.pop().unwrap_or_default())
    }

    fn profile(&mut self) -> Result<Vec<KernelTime>, BackendError> {
        profile::profile(&self.ctx, &self.dispatches, &self.label)
    }
}
