//! `Fill`: a tensor of one value (the seed of the backward pass). A constant: no gradient.
use alloc::vec;

use crate::graph::{DType, Graph, NodeId, Op, Role};

impl Graph {
    /// A `shape` tensor filled with `value`.
    pub(crate) fn fill(&mut self, shape: &[usize], value: f64) -> NodeId {
        self.push(
            Op::Fill { value },
            vec![],
            shape.to_vec(),
            DType::Data,
            Role::Computed,
        )
    }
}
