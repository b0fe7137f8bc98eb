//! [`CpuExecutor`]: a plan compiled for the CPU, with its arena allocated once.
use tessera_dsl::graph::cpu::{run_step, scratch_need, Element};
use tessera_dsl::graph::{DType, NodeId, Plan};

use crate::leaves::{self, LeafKind};
use crate::BackendError;

/// Executes a [`Plan`] in `E` (f32, or f64 for checks). All memory (the arena, the index
/// arena and kernel scratch) is allocated by [`CpuExecutor::new`]; `run` allocates nothing
/// of its own.
pub struct CpuExecutor<E: Element> {
    plan: Plan,
    data: Vec<E>,
    index: Vec<u32>,
    scratch: Vec<E>,
}

impl<E: Element> CpuExecutor<E> {
    /// Allocates the arenas (zero: optimizer state starts at zero) and kernel scratch.
    pub fn new(plan: &Plan) -> Result<Self, BackendError> {
        let g = &plan.graph;
        let scratch = plan
            .steps
            .iter()
            .map(|s| scratch_need(g, g.node(s.node)))
            .max()
            .unwrap_or(0);
        Ok(Self {
            plan: plan.clone(),
            data: vec![E::zero(); plan.data_len],
            index: vec![0; plan.index_len],
            scratch: vec![E::zero(); scratch],
        })
    }

    /// The plan being executed.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    fn write(&mut self, name: &str, wanted: LeafKind, v: &[E]) -> Result<(), BackendError> {
        let (_, slot) = leaves::writable(&self.plan, name, wanted, DType::Data, v.len())?;
        self.data[slot.range()].copy_from_slice(v);
        Ok(())
    }

    /// Sets a parameter by its official name.
    pub fn set_param(&mut self, name: &str, v: &[E]) -> Result<(), BackendError> {
        self.write(name, LeafKind::Param, v)
    }

    /// Sets a frozen float table (sin-cos position embeddings).
    pub fn set_frozen(&mut self, name: &str, v: &[E]) -> Result<(), BackendError> {
        self.write(name, LeafKind::Frozen, v)
    }

    /// Sets a per-step float input.
    pub fn set_input(&mut self, name: &str, v: &[E]) -> Result<(), BackendError> {
        self.write(name, LeafKind::Input, v)
    }

    /// Sets any float leaf, optimizer state included (to restore a training state).
    pub fn set_any(&mut self, name: &str, v: &[E]) -> Result<(), BackendError> {
        self.write(name, LeafKind::Any, v)
    }

    /// Sets a u32 index leaf (per-step input or frozen table).
    pub fn set_index_input(&mut self, name: &str, v: &[u32]) -> Result<(), BackendError> {
        let (_, slot) = leaves::writable(&self.plan, name, LeafKind::Any, DType::Index, v.len())?;
        self.index[slot.range()].copy_from_slice(v);
        Ok(())
    }

    /// Runs every step of the plan once.
    pub fn run(&mut self) -> Result<(), BackendError> {
        let g = &self.plan.graph;
        for step in &self.plan.steps {
            run_step(g, step, &mut self.data, &self.index, &mut self.scratch)?;
        }
        Ok(())
    }

    /// Runs once like [`CpuExecutor::run`], timing each step; returns seconds per op name,
    /// largest first (matmuls split by shape class).
    pub fn profile(&mut self) -> Result<Vec<(String, f64, usize)>, BackendError> {
        let g = &self.plan.graph;
        let mut acc: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
        for step in &self.plan.steps {
            let t = std::time::Instant::now();
            run_step(g, step, &mut self.data, &self.index, &mut self.scratch)?;
            let node = g.node(step.node);
            let key = match &node.op {
                tessera_dsl::graph::Op::MatMul {
                    trans_a, trans_b, ..
                } => format!(
                    "matmul {:?}x{:?} ta={trans_a} tb={trans_b}",
                    g.shape(node.inputs[0]),
                    g.shape(node.inputs[1])
                ),
                op => op.name().to_string(),
            };
            let e = acc.entry(key).or_default();
            e.0 += t.elapsed().as_secs_f64();
            e.1 += 1;
        }
        let mut v: Vec<(String, f64, usize)> =
            acc.into_iter().map(|(k, (t, n))| (k, t, n)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(v)
    }

    /// A requested output (or any leaf) by its id in the graph handed to `compile`.
    pub fn read(&self, original: NodeId) -> Result<Vec<E>, BackendError> {
        Ok(self.view(original)?.to_vec())
    }

    /// Borrowing form of [`CpuExecutor::read`]: no allocation.
    pub fn view(&self, original: NodeId) -> Result<&[E], BackendError> {
        Ok(match leaves::readable(&self.plan, original)? {
            Some(slot) => &self.data[slot.range()],
            None => &[],
        })
    }

    /// Any named float leaf (parameter, frozen table, optimizer state, input).
    pub fn read_name(&self, name: &str) -> Result<Vec<E>, BackendError> {
        let slot = leaves::readable_leaf(&self.plan, name, LeafKind::Any)?;
        Ok(self.data[slot.range()].to_vec())
    }

    /// A parameter's current value.
    pub fn param(&self, name: &str) -> Result<Vec<E>, BackendError> {
        let slot = leaves::readable_leaf(&self.plan, name, LeafKind::Param)?;
        Ok(self.data[slot.range()].to_vec())
    }
}
