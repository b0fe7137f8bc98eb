//! Reverse-mode autodiff as a graph transformation: `grad` appends the backward nodes to the
//! same graph, so passes and backends see one program (luminal's approach). This is the
//! generic driver; each op's rule lives in its file under `ops/`.
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use super::ops::VJP;
use super::{GResult, Graph, GraphError, Node, NodeId, Op, Role};

/// Gradient node of each parameter that influences the loss.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gradients {
    map: BTreeMap<NodeId, NodeId>,
}

impl Gradients {
    /// The gradient of `param`, or `None` if the loss does not depend on it (then, like
    /// PyTorch's `grad is None`, the optimizer skips it).
    pub fn get(&self, param: NodeId) -> Option<NodeId> {
        self.map.get(&param).copied()
    }

    /// `(param, gradient)` pairs in parameter id order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.map.iter().map(|(p, g)| (*p, *g))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Appends to `g` the gradient of the scalar `loss` with respect to each of `wrt`.
/// Contributions of a node used several times are summed; frozen tensors, inputs and targets
/// (`norm_pix`, the target of `masked_mse`) get no gradient.
pub fn grad(g: &mut Graph, loss: NodeId, wrt: &[NodeId]) -> GResult<Gradients> {
    let ls = g.try_node("grad", loss)?.shape.clone();
    if !ls.is_empty() {
        return Err(GraphError::NonScalarLoss(ls));
    }
    let n = loss.0 as usize + 1;
    // needs[i]: node i depends on some `wrt` through differentiable inputs.
    let mut needs = vec![false; n];
    // Only trainable parameters get gradients: frozen tables, inputs and optimizer state
    // are constants of the step even when listed in `wrt`.
    let wrt: Vec<NodeId> = wrt
        .iter()
        .copied()
        .filter(|&w| {
            g.try_node("grad", w).is_ok_and(|n| {
                matches!(
                    n.role,
                    Role::Param {
                        trainable: true,
                        ..
                    }
                )
            })
        })
        .collect();
    let wrt = &wrt[..];
    for &w in wrt {
        if (w.0 as usize) < n {
            needs[w.0 as usize] = true;
        }
    }
    for i in 0..n {
        if needs[i] {
            continue;
        }
        let node = g.node(NodeId(i as u32));
        let through = VJP[node.op.kind() as usize].through;
        needs[i] = through(&node.op, node.inputs.len()).any(|j| needs[node.inputs[j].0 as usize]);
    }
    let mut contribs: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    let seed = g.fill(&[], 1.0);
    contribs[loss.0 as usize].push(seed);
    let mut out = Gradients::default();
    for i in (0..n).rev() {
        if !needs[i] || contribs[i].is_empty() {
            continue;
        }
        let id = NodeId(i as u32);
        let dy = sum_all(g, &contribs[i])?;
        if wrt.contains(&id) {
            out.map.insert(id, dy);
        }
        for (input, d) in vjp(g, id, dy, &needs)? {
            contribs[input.0 as usize].push(d);
        }
    }
    Ok(out)
}

/// `(input, contribution to its gradient)` pairs of one node.
pub(crate) type Contributions = Vec<(NodeId, NodeId)>;

/// How the reverse pass differentiates one op kind: through which inputs its gradient flows,
/// and the nodes that compute the contributions to them. Each op's file defines its rule;
/// `ops::VJP` lists them by kind.
#[derive(Clone, Copy)]
pub(crate) struct VjpRule {
    /// Input positions through which the op passes gradient, given the op and its arity.
    pub through: fn(&Op, usize) -> Range<usize>,
    /// Appends the contributions of one node to its inputs that need one.
    pub vjp: fn(&mut Graph, &Vjp<'_>) -> GResult<Contributions>,
}

impl VjpRule {
    /// Constants of the step (leaves, fills, targets): no gradient flows through them.
    pub const CONSTANT: VjpRule = VjpRule {
        through: |_, _| 0..0,
        vjp: |_, _| Ok(Vec::new()),
    };

    /// Ops without a rule (fused kernels, backward kernels, optimizer updates): reaching one
    /// is an error, since `grad` runs before fusion and on forward graphs.
    pub const MISSING: VjpRule = VjpRule {
        through: every_input,
        vjp: |_, v| {
            Err(GraphError::NotDifferentiable {
                op: v.node.op.name(),
            })
        },
    };
}

/// `through` of ops that pass gradient to every input.
pub(crate) fn every_input(_: &Op, arity: usize) -> Range<usize> {
    0..arity
}

/// `through` of ops that pass gradient to their first input only (the rest are indices,
/// masks, targets or weights).
pub(crate) fn first_input(_: &Op, _: usize) -> Range<usize> {
    0..1
}

/// One node being differentiated: its id, a copy of it, and its output gradient `dy`.
pub(crate) struct Vjp<'a> {
    pub id: NodeId,
    pub node: Node,
    pub dy: NodeId,
    needs: &'a [bool],
}

impl Vjp<'_> {
    /// Input `j` of the node.
    pub fn x(&self, j: usize) -> NodeId {
        self.node.inputs[j]
    }

    /// Whether input `j` needs a gradient.
    pub fn need(&self, j: usize) -> bool {
        self.needs[self.x(j).0 as usize]
    }

    /// The shape of input `j`.
    pub fn shape(&self, g: &Graph, j: usize) -> Vec<usize> {
        g.shape(self.x(j)).to_vec()
    }
}

fn sum_all(g: &mut Graph, parts: &[NodeId]) -> GResult<NodeId> {
    let mut acc = parts[0];
    for &p in &parts[1..] {
        acc = g.add(acc, p)?;
    }
    Ok(acc)
}

/// The contributions of node `id` with output gradient `dy` to its inputs that need one.
fn vjp(g: &mut Graph, id: NodeId, dy: NodeId, needs: &[bool]) -> GResult<Contributions> {
    let node = g.node(id).clone();
    let rule = VJP[node.op.kind() as usize];
    (rule.vjp)(
        g,
        &Vjp {
            id,
            node,
            dy,
            needs,
        },
    )
}
