//! The contract between a plan step and an op's CPU kernel: what the kernel receives
//! ([`KernelArgs`]) and what its op's row in the `CPU` table holds ([`CpuKernel`]).
use super::views::{MAX_IN, MAX_OUT};
use super::{Element, KernelError};
use crate::graph::{Graph, Node};

/// A CPU kernel instantiated for one element type.
pub type KernelFn<E> = fn(KernelArgs<'_, E>) -> Result<(), KernelError>;

/// An op's row in the `CPU` table.
#[derive(Clone, Copy)]
pub struct CpuKernel {
    pub(crate) f32: KernelFn<f32>,
    pub(crate) f64: KernelFn<f64>,
    /// Scratch elements (outside the arena) the kernel needs for a node.
    pub(crate) scratch: fn(&Graph, &Node) -> usize,
    /// Inputs the kernel updates in place; they are handed over as its outputs, in order.
    pub(crate) in_place: &'static [usize],
}

impl CpuKernel {
    /// A kernel from its f32 and f64 instances (the same generic function, twice).
    pub(crate) const fn new(f32: KernelFn<f32>, f64: KernelFn<f64>) -> Self {
        CpuKernel {
            f32,
            f64,
            scratch: |_, _| 0,
            in_place: &[],
        }
    }

    /// The ops that run nothing: leaves, views (`Reshape`) and extra outputs, which their
    /// producer writes.
    pub(crate) const NOTHING: CpuKernel = CpuKernel::new(|_| Ok(()), |_| Ok(()));

    /// The kernel with `scratch` elements of scratch for a node.
    pub(crate) const fn with_scratch(self, scratch: fn(&Graph, &Node) -> usize) -> Self {
        CpuKernel { scratch, ..self }
    }

    /// The kernel updating `inputs` in place (instead of writing outputs).
    pub(crate) const fn in_place(self, inputs: &'static [usize]) -> Self {
        CpuKernel {
            in_place: inputs,
            ..self
        }
    }
}

/// What a kernel gets for one step: its node, the graph (for operand shapes), its operands as
/// slices of the arenas, and scratch.
pub struct KernelArgs<'a, E> {
    pub graph: &'a Graph,
    pub node: &'a Node,
    /// Float inputs by position (empty at index inputs).
    pub ins: [&'a [E]; MAX_IN],
    /// Index inputs by position (empty at float inputs).
    pub idx: [&'a [u32]; MAX_IN],
    /// The outputs (the node's, then its extras'), or the inputs updated in place.
    pub outs: [&'a mut [E]; MAX_OUT],
    pub scratch: &'a mut [E],
}

impl<'a, E: Element> KernelArgs<'a, E> {
    /// The shape of input `j`.
    pub fn in_shape(&self, j: usize) -> &'a [usize] {
        self.graph.shape(self.node.inputs[j])
    }

    /// The shape of the node's output.
    pub fn out_shape(&self) -> &'a [usize] {
        &self.node.shape
    }

    /// The output's last dim: the row length of a row-wise op.
    pub fn row_len(&self) -> usize {
        *self.node.shape.last().unwrap_or(&1)
    }
}
