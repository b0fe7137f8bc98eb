//! How a plan step reaches its op's kernel: its operands are borrowed out of the arenas
//! (inputs shared, outputs exclusive, without copies) and handed to the kernel the `CPU`
//! table lists for its op.
use core::ops::Range;

use super::views::{split, MAX_IN, MAX_OUT};
use super::{CpuKernel, Element, KernelArgs, KernelError};
use crate::graph::ops::CPU;
use crate::graph::{Graph, Node, Space, Step};

fn kernel_of(node: &Node) -> &'static CpuKernel {
    &CPU[node.op.kind() as usize]
}

/// Scratch elements the kernel of `node` needs outside the arena.
pub fn scratch_need(g: &Graph, node: &Node) -> usize {
    (kernel_of(node).scratch)(g, node)
}

/// Runs one step of a plan over the float arena `data` and the index arena `index`.
pub fn run_step<E: Element>(
    g: &Graph,
    step: &Step,
    data: &mut [E],
    index: &[u32],
    scratch: &mut [E],
) -> Result<(), KernelError> {
    let node = g.node(step.node);
    let kernel = kernel_of(node);
    let empty = 0..0;
    let mut reads: [Range<usize>; MAX_IN] = core::array::from_fn(|_| empty.clone());
    let mut writes: [Range<usize>; MAX_OUT] = core::array::from_fn(|_| empty.clone());
    let mut idx: [&[u32]; MAX_IN] = [&[]; MAX_IN];
    let mut nw = 0;
    for (j, s) in step.inputs.iter().enumerate() {
        match s.space {
            Space::Index => idx[j] = &index[s.range()],
            Space::Data if kernel.in_place.contains(&j) => {
                writes[nw] = s.range();
                nw += 1;
            }
            Space::Data => reads[j] = s.range(),
        }
    }
    // An op that updates inputs in place writes no output of its own.
    if kernel.in_place.is_empty() {
        for s in &step.outputs {
            writes[nw] = s.range();
            nw += 1;
        }
    }
    let (ins, outs) = split(data, &writes[..nw], &reads[..step.inputs.len()])?;
    let args = KernelArgs {
        graph: g,
        node,
        ins,
        idx,
        outs,
        scratch,
    };
    E::kernel(kernel)(args)
}
