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

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use crate::graph::cpu::{CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::{misrouted, Op};

    pub(crate) const FILL: CpuKernel = CpuKernel::new(fill::<f32>, fill::<f64>);

    fn fill<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Fill { value } = a.node.op else {
            misrouted(&a.node.op)
        };
        let [out, ..] = a.outs;
        out.fill(E::from_f64(value));
        Ok(())
    }
}
