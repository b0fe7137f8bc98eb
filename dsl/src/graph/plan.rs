//! Lowering to a [`Plan`]: ordered kernel launches over one planned arena. Persistent tensors
//! (parameters, frozen tables, optimizer state, inputs, requested outputs) are pinned at the
//! front of the data arena; transients share the rest by liveness. u32 index tensors (always
//! host-set leaves) live in a separate index arena.
use alloc::vec;
use alloc::vec::Vec;

use super::passes::memplan::{align_up, assign, Interval};
use super::passes::{compose, cpu_fusion, dce, fusion, IdMap};
use super::{DType, GResult, Graph, GraphError, NodeId, Op, Role};

/// Arena alignment in elements (64 bytes of f32).
const ALIGN: usize = 16;

/// Which backends a plan is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// Any backend: only ops that every backend runs (the default).
    #[default]
    Any,
    /// The CPU backend: with fusion on, also its own fused kernels (linear layers with
    /// their activation, residual or activation gradient in the GEMM's epilogue, the whole
    /// LayerNorm backward in one pass; see `passes/cpu_fusion.rs`).
    Cpu,
}

/// Options of [`compile`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// Run fusion (on by default).
    pub fuse: bool,
    /// The backends the plan is for.
    pub target: Target,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            fuse: true,
            target: Target::Any,
        }
    }
}

impl PlanOptions {
    /// Fused, for `target`.
    pub fn for_target(target: Target) -> Self {
        Self { fuse: true, target }
    }

    /// The same without any fusion (one launch per op: the reference plan).
    pub fn unfused(self) -> Self {
        Self {
            fuse: false,
            ..self
        }
    }
}

/// Which arena a slot is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Space {
    /// Float data (f32 or f64, per backend).
    Data,
    /// u32 indices.
    Index,
}

/// A tensor's place: `len` elements from `offset` in the arena of `space`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufSlot {
    pub space: Space,
    pub offset: usize,
    pub len: usize,
}

impl BufSlot {
    /// The element range in its arena.
    pub fn range(&self) -> core::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// One kernel launch: node `node` of [`Plan::graph`] reading `inputs` (in the node's input
/// order) and writing `outputs` (its own buffer, then its extra outputs). `AdamW` steps write
/// their parameter and state inputs in place and have no outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub node: NodeId,
    pub inputs: Vec<BufSlot>,
    pub outputs: Vec<BufSlot>,
}

/// An executable program: the optimized graph, its steps in order and the arena layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The graph after dead-node removal and fusion; steps refer to its ids.
    pub graph: Graph,
    pub steps: Vec<Step>,
    /// Slot of every node of `graph` (`None` for zero-size nodes).
    pub slots: Vec<Option<BufSlot>>,
    /// Elements of the data arena (pinned + transient region).
    pub data_len: usize,
    /// Elements of the pinned region at the front of the data arena.
    pub pinned_len: usize,
    /// Elements of the index arena.
    pub index_len: usize,
    /// Requested outputs, as ids of `graph`.
    pub outputs: Vec<NodeId>,
    /// Original graph id → id in `graph`.
    pub id_map: IdMap,
}

impl Plan {
    /// Planned peak bytes of one run: the whole data arena plus the index arena, for
    /// `elem_bytes`-byte floats.
    pub fn peak_bytes(&self, elem_bytes: usize) -> usize {
        self.data_len * elem_bytes + self.index_len * 4
    }

    /// Bytes of the transient region alone (what liveness planning shares).
    pub fn transient_bytes(&self, elem_bytes: usize) -> usize {
        (self.data_len - self.pinned_len) * elem_bytes
    }

    /// The plan id of an id of the graph handed to [`compile`].
    pub fn resolve(&self, original: NodeId) -> Option<NodeId> {
        self.id_map.get(original.0 as usize).copied().flatten()
    }

    /// Slot of an original node, if it survived and has storage.
    pub fn slot_of(&self, original: NodeId) -> Option<BufSlot> {
        self.resolve(original)
            .and_then(|id| self.slots[id.0 as usize])
    }

    /// Slot of a named leaf.
    pub fn slot_by_name(&self, name: &str) -> Option<(NodeId, BufSlot)> {
        let id = self.graph.by_name(name)?;
        Some((id, self.slots[id.0 as usize]?))
    }
}

/// Lowers `graph` for the requested `outputs` (kept readable after each run).
pub fn compile(graph: &Graph, outputs: &[NodeId], opts: &PlanOptions) -> GResult<Plan> {
    for &o in outputs {
        graph.try_node("compile", o)?;
    }
    let (g1, m1) = dce::dead_node_removal(graph, outputs);
    let (g, map) = if opts.fuse {
        let keep: Vec<NodeId> = outputs.iter().filter_map(|o| m1[o.0 as usize]).collect();
        let (g2, m2) = fusion::fuse(&g1, &keep);
        let m12 = compose(&m1, &m2);
        if opts.target == Target::Cpu {
            let keep: Vec<NodeId> = outputs.iter().filter_map(|o| m12[o.0 as usize]).collect();
            let (g3, m3) = cpu_fusion::fuse_for_cpu(&g2, &keep);
            (g3, compose(&m12, &m3))
        } else {
            (g2, m12)
        }
    } else {
        (g1, m1)
    };
    let outs: Vec<NodeId> = outputs
        .iter()
        .map(|o| {
            map[o.0 as usize].ok_or(GraphError::UnknownNode {
                op: "compile",
                id: *o,
            })
        })
        .collect::<GResult<_>>()?;
    lower(g, outs, map)
}

/// Whether node `i` is a kernel launch (not a leaf, view or extra output).
fn is_step(op: &Op) -> bool {
    !matches!(op, Op::Leaf | Op::Reshape | Op::Extra { .. })
}

fn lower(g: Graph, outputs: Vec<NodeId>, id_map: IdMap) -> GResult<Plan> {
    let nodes = g.nodes();
    let n = nodes.len();
    // Storage root of each node: views share their input's buffer.
    let mut root: Vec<usize> = (0..n).collect();
    for (i, node) in nodes.iter().enumerate() {
        if node.op.is_view() {
            root[i] = root[node.inputs[0].0 as usize];
        }
    }
    // Step index of each kernel node, and of each extra output (its producer's step).
    let mut step_of = vec![usize::MAX; n];
    let mut n_steps = 0;
    for (i, node) in nodes.iter().enumerate() {
        if is_step(&node.op) {
            step_of[i] = n_steps;
            n_steps += 1;
        } else if let Op::Extra { .. } = node.op {
            step_of[i] = step_of[node.inputs[0].0 as usize];
        }
    }
    // Pinned roots: persistent leaves, inputs, requested outputs (through views).
    let mut pinned = vec![false; n];
    for (i, node) in nodes.iter().enumerate() {
        if node.op == Op::Leaf {
            pinned[i] = true;
        }
        if let Role::Computed = node.role {
        } else {
            pinned[root[i]] = true;
        }
    }
    for &o in &outputs {
        pinned[root[o.0 as usize]] = true;
    }
    // Liveness of transient roots: [defining step, last reading step].
    let mut last = step_of.clone();
    for (i, node) in nodes.iter().enumerate() {
        let s = if is_step(&node.op) {
            step_of[i]
        } else {
            continue;
        };
        for &x in &node.inputs {
            let r = root[x.0 as usize];
            if last[r] == usize::MAX || last[r] < s {
                last[r] = s;
            }
        }
    }
    let mut slots: Vec<Option<BufSlot>> = vec![None; n];
    let (mut data_off, mut index_off) = (0, 0);
    for i in 0..n {
        if root[i] != i || !pinned[i] || nodes[i].numel() == 0 {
            continue;
        }
        let len = nodes[i].numel();
        let (space, off) = match nodes[i].dtype {
            DType::Data => (Space::Data, &mut data_off),
            DType::Index => (Space::Index, &mut index_off),
        };
        slots[i] = Some(BufSlot {
            space,
            offset: *off,
            len,
        });
        *off = align_up(*off + len, ALIGN);
    }
    let pinned_len = data_off;
    let mut trans: Vec<usize> = Vec::new();
    let mut ivals: Vec<Interval> = Vec::new();
    for i in 0..n {
        if root[i] != i || pinned[i] || nodes[i].numel() == 0 {
            continue;
        }
        if nodes[i].dtype == DType::Index {
            return Err(GraphError::Argument {
                op: "compile",
                message: "computed index tensors are not supported".into(),
            });
        }
        trans.push(i);
        ivals.push(Interval {
            size: nodes[i].numel(),
            first: step_of[i],
            last: last[i],
        });
    }
    let (offs, trans_len) = assign(&ivals, ALIGN);
    for (k, &i) in trans.iter().enumerate() {
        slots[i] = Some(BufSlot {
            space: Space::Data,
            offset: pinned_len + offs[k],
            len: nodes[i].numel(),
        });
    }
    // Views take their root's slot with their own length (always equal: reshape).
    for i in 0..n {
        if root[i] != i {
            slots[i] = slots[root[i]];
        }
    }
    let mut steps = Vec::with_capacity(n_steps);
    for (i, node) in nodes.iter().enumerate() {
        if !is_step(&node.op) {
            continue;
        }
        let slot = |j: usize| {
            slots[j].unwrap_or(BufSlot {
                space: Space::Data,
                offset: 0,
                len: 0,
            })
        };
        let inputs = node.inputs.iter().map(|x| slot(x.0 as usize)).collect();
        let mut outs = vec![slot(i)];
        for k in 1..=node.op.extra_outputs() {
            if let Some(e) = g.extra_of(NodeId(i as u32), k as u8) {
                outs.push(slot(e.0 as usize));
            }
        }
        if node.op.has_side_effects() {
            outs.clear();
        }
        steps.push(Step {
            node: NodeId(i as u32),
            inputs,
            outputs: outs,
        });
    }
    Ok(Plan {
        steps,
        slots,
        data_len: pinned_len + trans_len,
        pinned_len,
        index_len: index_off,
        outputs,
        id_map,
        graph: g,
    })
}
