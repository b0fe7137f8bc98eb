//! Extra outputs of multi-output kernels (attention's log-sum-exp, attention backward's dk and
//! dv): nodes `Op::Extra { slot }` that directly follow their producer, so every handle stays
//! one `NodeId`. The producer's kernel writes them; they run nothing of their own.
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::{DType, Graph, NodeId, Op, Role};

impl Graph {
    /// Appends extra output `slot` of `producer` (must directly follow the producer or its
    /// earlier extras).
    pub(crate) fn extra(&mut self, producer: NodeId, slot: u8, shape: Vec<usize>) -> NodeId {
        self.push(
            Op::Extra { slot },
            vec![producer],
            shape,
            DType::Data,
            Role::Computed,
        )
    }

    /// The node holding extra output `slot` of `producer`.
    pub fn extra_of(&self, producer: NodeId, slot: u8) -> Option<NodeId> {
        let start = producer.0 as usize + 1;
        self.nodes()[start..]
            .iter()
            .take(4)
            .position(|n| n.op == Op::Extra { slot } && n.inputs[0] == producer)
            .map(|i| NodeId((start + i) as u32))
    }
}
