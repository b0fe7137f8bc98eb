//! The contract between a plan step and its op's GPU lowering: what the lowering receives
//! ([`Lowering`]: the node, its operands as arena views, its scratch) and what its op's row in
//! the `GPU` table holds ([`GpuLowering`]).
use tessera_dsl::graph::{Graph, Node, Step};

use super::arena::Arena;
use super::launch::{Dispatch, View};
use super::{BackendError, GpuContext, PipelineCache};

/// Turns one step into its prepared launches.
pub(crate) type LowerFn =
    fn(&Lowering<'_>, &mut PipelineCache) -> Result<Vec<Dispatch>, BackendError>;

/// The bound on the values of a node's index input 1, and the op's name for errors.
pub(crate) type IndexBound = fn(&Graph, &Node) -> (usize, &'static str);

/// An op's row in the `GPU` table.
#[derive(Clone, Copy)]
pub(crate) struct GpuLowering {
    pub lower: LowerFn,
    /// Scratch views (element counts) the launches of a node need, planned into the arena.
    pub scratch: fn(&Graph, &Node) -> Vec<usize>,
    /// For ops with an index input 1: the bound on its values, checked when the host sets
    /// the index (a kernel cannot report a bad index).
    pub index_bound: Option<IndexBound>,
}

impl GpuLowering {
    pub const fn new(lower: LowerFn) -> Self {
        GpuLowering {
            lower,
            scratch: |_, _| Vec::new(),
            index_bound: None,
        }
    }

    /// The ops that launch nothing: leaves, views (`Reshape`) and extra outputs, which their
    /// producer writes.
    pub const NOTHING: GpuLowering = GpuLowering::new(|_, _| Ok(Vec::new()));

    /// The CPU backend's fused kernels, which plans for wgpu never hold (they are made
    /// only for `Target::Cpu`): a plan that does was compiled for the wrong backend.
    pub const CPU_ONLY: GpuLowering = GpuLowering::new(|l, _| {
        Err(BackendError::Plan(format!(
            "`{}` is a fused kernel of the CPU backend; compile plans for wgpu with \
             Target::Any",
            l.node.op.name()
        )))
    });

    pub const fn with_scratch(self, scratch: fn(&Graph, &Node) -> Vec<usize>) -> Self {
        GpuLowering { scratch, ..self }
    }

    pub const fn with_index_bound(self, bound: IndexBound) -> Self {
        GpuLowering {
            index_bound: Some(bound),
            ..self
        }
    }
}

/// One plan step being lowered.
pub(crate) struct Lowering<'a> {
    pub ctx: &'a GpuContext,
    pub graph: &'a Graph,
    pub node: &'a Node,
    step: &'a Step,
    arena: &'a Arena,
    /// The step's scratch views, as its row's `scratch` asked.
    pub scratch: &'a [View<'a>],
}

impl<'a> Lowering<'a> {
    pub fn new(
        ctx: &'a GpuContext,
        graph: &'a Graph,
        step: &'a Step,
        arena: &'a Arena,
        scratch: &'a [View<'a>],
    ) -> Self {
        Lowering {
            ctx,
            graph,
            node: graph.node(step.node),
            step,
            arena,
            scratch,
        }
    }

    /// The view of input `j`.
    pub fn input(&self, j: usize) -> View<'a> {
        self.arena.view(self.step.inputs[j])
    }

    /// The view of output `k` (the node's, then its extras').
    pub fn output(&self, k: usize) -> View<'a> {
        self.arena.view(self.step.outputs[k])
    }

    /// The shape of input `j`.
    pub fn in_shape(&self, j: usize) -> &'a [usize] {
        self.graph.shape(self.node.inputs[j])
    }

    pub fn out_shape(&self) -> &'a [usize] {
        &self.node.shape
    }

    /// Every input's view with its shape.
    pub fn inputs(&self) -> Vec<(View<'a>, &'a [usize])> {
        (0..self.node.inputs.len())
            .map(|j| (self.input(j), self.in_shape(j)))
            .collect()
    }
}

/// Rows and row length of a row-wise op over `shape` (the last dim is the row).
pub(crate) fn rows_of(shape: &[usize]) -> (usize, usize) {
    let d = shape.last().copied().unwrap_or(1);
    (shape.iter().product::<usize>() / d.max(1), d)
}
