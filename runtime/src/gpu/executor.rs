//! The wgpu backend's executor: a [`Plan`] compiled for one device.
//!
//! Compiling allocates the arena (one buffer, laid out by [`super::arena`]) and prepares every
//! launch once — pipelines from the shared cache, uniforms, bind groups over arena views,
//! grids. A step then writes the inputs with `queue.write_buffer`, records every dispatch into
//! one compute pass of one command encoder, submits, and waits; tensors are read back only
//! when asked. No allocation, shader compilation or host round trip happens inside a step.
use std::collections::HashMap;
use std::sync::Arc;

use tessera_dsl::graph::{BufSlot, DType, FusedInstr, NodeId, Op, Plan, Space, Step};

use super::arena::Arena;
use super::attention_step;
use super::launch::{record, Dispatch, View};
use super::ops;
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

/// Rows and row length of a row-wise op over `shape` (the last dim is the row).
fn rows_of(shape: &[usize]) -> (usize, usize) {
    let d = shape.last().copied().unwrap_or(1);
    (shape.iter().product::<usize>() / d.max(1), d)
}

/// Rows of a loss: the elements of its mask (masked MSE) or weights (cross-entropy).
fn loss_rows(plan: &Plan, node: &tessera_dsl::graph::Node) -> usize {
    plan.graph.node(node.inputs[2]).numel()
}

/// Scratch views (element counts) the kernels of `step` need for intermediate values.
fn scratch_need(plan: &Plan, step: &Step) -> Vec<usize> {
    let node = plan.graph.node(step.node);
    match node.op {
        Op::SumTo => {
            let x = plan.graph.shape(node.inputs[0]);
            match ops::reduce::sum_to_scratch(x, &node.shape) {
                0 => vec![],
                n => vec![n],
            }
        }
        Op::MaskedMse | Op::CrossEntropy => ops::loss::loss_scratch(loss_rows(plan, node)),
        Op::MaskedMseGrad | Op::CrossEntropyGrad => {
            ops::loss::loss_grad_scratch(loss_rows(plan, node))
        }
        Op::LayerNormGradW { .. } => {
            let (rows, d) = rows_of(plan.graph.shape(node.inputs[0]));
            match ops::layer_norm::layer_norm_grad_w_scratch(rows, d) {
                0 => vec![],
                n => vec![n],
            }
        }
        Op::AttentionGradBias { .. } | Op::SelfAttentionGradBias { .. } => {
            attention_step::scratch_need(&plan.graph, node)
        }
        _ => vec![],
    }
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
        let bound = match node.op {
            Op::GatherRows => {
                let s = g.shape(node.inputs[0]);
                Some((s[s.len() - 2], "gather_rows"))
            }
            Op::ScatterRows { len } => Some((len, "scatter_rows")),
            Op::CrossEntropy | Op::CrossEntropyGrad => {
                Some((g.shape(node.inputs[0])[1], "cross_entropy"))
            }
            _ => None,
        };
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
            dispatches.extend(lower(&ctx, cache, plan, step, &arena, &scratch)?);
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

/// The launches of one plan step.
fn lower(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    plan: &Plan,
    step: &Step,
    arena: &Arena,
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let g = &plan.graph;
    let node = g.node(step.node);
    let shape = |j: usize| g.shape(node.inputs[j]);
    let input = |j: usize| arena.view(step.inputs[j]);
    let output = |k: usize| arena.view(step.outputs[k]);
    let out_shape = &node.shape[..];
    let program = |prog: &[FusedInstr], cache: &mut PipelineCache| {
        let inputs: Vec<(View<'_>, &[usize])> = (0..node.inputs.len())
            .map(|j| (input(j), shape(j)))
            .collect();
        ops::elementwise::prepare_elementwise(ctx, cache, prog, &inputs, output(0), out_shape)
    };
    let one = |d: Result<Dispatch, BackendError>| Ok(vec![d?]);
    match &node.op {
        Op::Leaf | Op::Reshape | Op::Extra { .. } => Ok(Vec::new()),
        Op::Fill { value } => one(ops::fill::prepare_fill(
            ctx,
            cache,
            output(0),
            *value as f32,
        )),
        Op::Unary(u) => one(program(&ops::elementwise::unary_program(*u), cache)),
        Op::UnaryGrad(u) => one(program(&ops::elementwise::unary_grad_program(*u), cache)),
        Op::Binary(b) => one(program(&ops::elementwise::binary_program(*b), cache)),
        Op::Expand => one(program(&[FusedInstr::Load(0)], cache)),
        Op::Fused(p) => one(program(&p.instrs, cache)),
        Op::Concat { axis } => {
            let inputs: Vec<(View<'_>, &[usize])> = (0..node.inputs.len())
                .map(|j| (input(j), shape(j)))
                .collect();
            Ok(ops::layout::prepare_concat(
                ctx,
                cache,
                &inputs,
                output(0),
                out_shape,
                *axis,
            )?)
        }
        Op::Slice { axis, start } => {
            let map = ops::layout::StridedMap::slice(shape(0), out_shape, *axis, *start);
            one(ops::layout::prepare_strided_copy(
                ctx,
                cache,
                &map,
                input(0),
                output(0),
            ))
        }
        Op::Pad { axis, before } => Ok(ops::layout::prepare_pad(
            ctx,
            cache,
            input(0),
            shape(0),
            output(0),
            out_shape,
            *axis,
            *before,
        )?),
        Op::Permute { axes } => {
            let map = ops::layout::StridedMap::permute(shape(0), axes);
            one(ops::layout::prepare_strided_copy(
                ctx,
                cache,
                &map,
                input(0),
                output(0),
            ))
        }
        Op::Roll { shifts } => {
            let map = ops::layout::StridedMap::roll(shape(0), shifts);
            one(ops::layout::prepare_strided_copy(
                ctx,
                cache,
                &map,
                input(0),
                output(0),
            ))
        }
        Op::SumTo => Ok(ops::reduce::prepare_sum_to(
            ctx,
            cache,
            input(0),
            shape(0),
            output(0),
            out_shape,
            scratch.first().copied(),
        )?),
        Op::GatherRows => one(ops::tokens::prepare_gather_rows(
            ctx,
            cache,
            input(0),
            shape(0),
            input(1),
            shape(1),
            output(0),
            out_shape,
        )),
        Op::ScatterRows { .. } => one(ops::tokens::prepare_scatter_rows(
            ctx,
            cache,
            input(0),
            shape(0),
            input(1),
            shape(1),
            output(0),
            out_shape,
        )),
        Op::NormPix { eps, eps_on_std } => {
            let d = *out_shape.last().unwrap_or(&1);
            let rows = node.numel() / d.max(1);
            one(ops::norm_pix::prepare_norm_pix(
                ctx,
                cache,
                input(0),
                output(0),
                rows,
                d,
                *eps,
                *eps_on_std,
            ))
        }
        Op::MaskedMse | Op::MaskedMseGrad => {
            let p = *shape(0).last().unwrap_or(&1);
            let rows = g.node(node.inputs[0]).numel() / p.max(1);
            let (pred, target, mask) = (input(0), input(1), input(2));
            Ok(if node.op == Op::MaskedMse {
                ops::loss::prepare_masked_mse(
                    ctx,
                    cache,
                    pred,
                    target,
                    mask,
                    output(0),
                    rows,
                    p,
                    scratch,
                )?
            } else {
                ops::loss::prepare_masked_mse_grad(
                    ctx,
                    cache,
                    pred,
                    target,
                    mask,
                    input(3),
                    output(0),
                    rows,
                    p,
                    scratch,
                )?
            })
        }
        Op::CrossEntropy | Op::CrossEntropyGrad => {
            let (rows, v) = (shape(0)[0], shape(0)[1]);
            let (logits, labels, weights) = (input(0), input(1), input(2));
            Ok(if node.op == Op::CrossEntropy {
                ops::loss::prepare_cross_entropy(
                    ctx,
                    cache,
                    logits,
                    labels,
                    weights,
                    output(0),
                    rows,
                    v,
                    scratch,
                )?
            } else {
                ops::loss::prepare_cross_entropy_grad(
                    ctx,
                    cache,
                    logits,
                    labels,
                    weights,
                    input(3),
                    output(0),
                    rows,
                    v,
                    scratch,
                )?
            })
        }
        Op::AdamW {
            beta1,
            beta2,
            eps,
            weight_decay,
            lr_scale,
        } => {
            let h = ops::adamw::AdamWHyper {
                beta1: *beta1,
                beta2: *beta2,
                eps: *eps,
                weight_decay: *weight_decay,
                lr_scale: *lr_scale,
            };
            one(ops::adamw::prepare_adamw(
                ctx,
                cache,
                input(0),
                input(1),
                input(2),
                input(3),
                input(4),
                input(5),
                &h,
            ))
        }
        Op::MatMul {
            trans_a,
            trans_b,
            alpha,
        }
        | Op::MatMulBias {
            trans_a,
            trans_b,
            alpha,
        } => {
            let dims = ops::matmul::MatmulDims::from_shapes(
                shape(0),
                shape(1),
                *trans_a,
                *trans_b,
                *alpha,
            );
            Ok(if matches!(node.op, Op::MatMulBias { .. }) {
                ops::matmul::prepare_matmul_bias(
                    ctx,
                    cache,
                    &dims,
                    input(0),
                    input(1),
                    input(2),
                    output(0),
                )?
            } else {
                ops::matmul::prepare_matmul(ctx, cache, &dims, input(0), input(1), output(0))?
            })
        }
        Op::LayerNorm { eps } => {
            let (rows, d) = rows_of(out_shape);
            Ok(ops::layer_norm::prepare_layer_norm(
                ctx,
                cache,
                rows,
                d,
                *eps,
                input(0),
                input(1),
                input(2),
                output(0),
            )?)
        }
        Op::LayerNormGradX { eps } => {
            let (rows, d) = rows_of(out_shape);
            Ok(ops::layer_norm::prepare_layer_norm_grad_x(
                ctx,
                cache,
                rows,
                d,
                *eps,
                input(0),
                input(1),
                input(2),
                output(0),
            )?)
        }
        Op::LayerNormGradW { eps } => {
            let (rows, d) = rows_of(shape(0));
            Ok(ops::layer_norm::prepare_layer_norm_grad_w(
                ctx,
                cache,
                rows,
                d,
                *eps,
                input(0),
                input(1),
                output(0),
                scratch.first().copied(),
            )?)
        }
        Op::Softmax | Op::SoftmaxGrad => {
            let (rows, d) = rows_of(out_shape);
            Ok(if node.op == Op::Softmax {
                ops::softmax::prepare_softmax(ctx, cache, rows, d, input(0), output(0))?
            } else {
                ops::softmax::prepare_softmax_grad(
                    ctx,
                    cache,
                    rows,
                    d,
                    input(0),
                    input(1),
                    output(0),
                )?
            })
        }
        Op::Attention { .. }
        | Op::AttentionGrad { .. }
        | Op::AttentionGradBias { .. }
        | Op::SelfAttention { .. }
        | Op::SelfAttentionGrad { .. }
        | Op::SelfAttentionGradBias { .. } => Ok(attention_step::lower(
            ctx, cache, plan, step, arena, scratch,
        )?),
    }
}
