//! Fusions that only the CPU backend has kernels for, run after elementwise fusion when a
//! plan is compiled for [`Target::Cpu`](crate::graph::Target). Each turns a group of nodes
//! into one launch that makes one pass over its rows:
//!
//! - `act(MatMulBias(x, W, b))` → [`Op::LinearAct`]: the activation in the GEMM's epilogue;
//!   the pre-activation is kept as an extra output when something else (the backward) reads it;
//! - `r + MatMulBias(x, W, b)` → [`Op::LinearResidual`]: the GEMM accumulates onto `r + b`;
//! - `UnaryGrad(act)(pre, MatMul(dy, W))` and the bias gradient `SumTo` of it →
//!   [`Op::LinearActGrad`]: the derivative and the column sums in the GEMM's epilogue;
//! - `LayerNormGradX`, `LayerNormGradW` and the bias gradient `SumTo(dy)` of one LayerNorm,
//!   with the residual `Add` of dx and its `SumTo` when there are → [`Op::LayerNormGrad`];
//! - `MatMul(a, W)` and a `SumTo` of `a` to its last dim (the bias gradient of the layer
//!   that made `a`) → [`Op::LinearInputSums`]: the column sums of each panel of `a` as the
//!   GEMM finishes it.
//!
//! The fused node takes the place of the group's last node, its extra outputs right after it;
//! a group is only fused if every outside reader of its values comes after that place, and a
//! value the kernel no longer materializes (a pre-activation, a dx folded into the residual
//! sum) must have no reader outside the group.
use alloc::vec;
use alloc::vec::Vec;

use super::IdMap;
use crate::graph::{BinaryOp, DType, Graph, Node, NodeId, Op, Role};

/// One fusion: the absorbed nodes, the fused node and which of its outputs (0 = its own,
/// k = extra k) replaces each absorbed node that something outside still reads.
struct Group {
    members: Vec<usize>,
    node: Node,
    /// `(member, slot)`.
    outputs: Vec<(usize, u8)>,
    /// Shapes of the extra outputs 1..
    extras: Vec<Vec<usize>>,
}

/// Readers of each node (distinct; a requested output counts as a reader at the end).
struct Readers {
    of: Vec<Vec<usize>>,
}

impl Readers {
    fn new(nodes: &[Node], keep: &[NodeId]) -> Self {
        let mut of: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            for x in &n.inputs {
                let r = &mut of[x.0 as usize];
                if r.last() != Some(&i) {
                    r.push(i);
                }
            }
        }
        for k in keep {
            of[k.0 as usize].push(usize::MAX);
        }
        Readers { of }
    }

    fn only(&self, i: usize) -> Option<usize> {
        match self.of[i][..] {
            [r] if r != usize::MAX => Some(r),
            _ => None,
        }
    }
}

/// A 2-D shared right operand and no transposed left one: the linear layer's product.
fn linear_operands(nodes: &[Node], mm: &Node) -> bool {
    let w = &nodes[mm.inputs[1].0 as usize];
    w.shape.len() == 2
        && matches!(
            mm.op,
            Op::MatMul { trans_a: false, .. } | Op::MatMulBias { trans_a: false, .. }
        )
}

/// `SumTo` of node `i` to its last dim alone (a bias gradient), among `i`'s readers.
fn bias_sum(nodes: &[Node], readers: &Readers, i: usize) -> Option<usize> {
    let d = *nodes[i].shape.last()?;
    readers.of[i].iter().copied().find(|&r| {
        r != usize::MAX
            && nodes[r].op == Op::SumTo
            && nodes[r].shape == [d]
            && nodes[i].shape.len() > 1
    })
}

fn linear_act(nodes: &[Node], readers: &Readers, u: usize) -> Option<Group> {
    let Op::Unary(act) = nodes[u].op else {
        return None;
    };
    let p = nodes[u].inputs[0].0 as usize;
    let Op::MatMulBias { trans_b, alpha, .. } = nodes[p].op else {
        return None;
    };
    if !linear_operands(nodes, &nodes[p]) {
        return None;
    }
    let keep_pre = readers.only(p) != Some(u);
    let op = Op::LinearAct {
        trans_b,
        alpha,
        act,
        keep_pre,
    };
    let mut outputs = vec![(u, 0)];
    let mut extras = Vec::new();
    if keep_pre {
        outputs.push((p, 1));
        extras.push(nodes[p].shape.clone());
    }
    Some(Group {
        members: vec![p, u],
        node: Node {
            op,
            inputs: nodes[p].inputs.clone(),
            ..nodes[u].clone()
        },
        outputs,
        extras,
    })
}

fn linear_residual(nodes: &[Node], readers: &Readers, a: usize) -> Option<Group> {
    if nodes[a].op != Op::Binary(BinaryOp::Add) {
        return None;
    }
    let [x, y] = [nodes[a].inputs[0].0 as usize, nodes[a].inputs[1].0 as usize];
    let (p, r) = [(x, y), (y, x)].into_iter().find(|&(p, r)| {
        matches!(nodes[p].op, Op::MatMulBias { .. })
            && p != r
            && readers.only(p) == Some(a)
            && nodes[r].shape == nodes[a].shape
            && nodes[p].shape == nodes[a].shape
            && linear_operands(nodes, &nodes[p])
    })?;
    let Op::MatMulBias { trans_b, alpha, .. } = nodes[p].op else {
        return None;
    };
    let mut inputs = nodes[p].inputs.clone();
    inputs.push(NodeId(r as u32));
    Some(Group {
        members: vec![p, a],
        node: Node {
            op: Op::LinearResidual { trans_b, alpha },
            inputs,
            ..nodes[a].clone()
        },
        outputs: vec![(a, 0)],
        extras: Vec::new(),
    })
}

fn linear_act_grad(nodes: &[Node], readers: &Readers, ug: usize) -> Option<Group> {
    let Op::UnaryGrad(act) = nodes[ug].op else {
        return None;
    };
    let (pre, dh) = (nodes[ug].inputs[0], nodes[ug].inputs[1].0 as usize);
    let Op::MatMul { trans_b, alpha, .. } = nodes[dh].op else {
        return None;
    };
    if !linear_operands(nodes, &nodes[dh])
        || readers.only(dh) != Some(ug)
        || nodes[dh].shape != nodes[ug].shape
        || pre.0 as usize == dh
    {
        return None;
    }
    let sum = bias_sum(nodes, readers, ug);
    let mut inputs = nodes[dh].inputs.clone();
    inputs.push(pre);
    let mut members = vec![dh, ug];
    let mut outputs = vec![(ug, 0)];
    let mut extras = Vec::new();
    if let Some(s) = sum {
        members.push(s);
        outputs.push((s, 1));
        extras.push(nodes[s].shape.clone());
    }
    Some(Group {
        members,
        node: Node {
            op: Op::LinearActGrad {
                trans_b,
                alpha,
                act,
                bias_grad: sum.is_some(),
            },
            inputs,
            ..nodes[ug].clone()
        },
        outputs,
        extras,
    })
}

fn layer_norm_grad(nodes: &[Node], readers: &Readers, gx: usize) -> Option<Group> {
    let Op::LayerNormGradX { eps } = nodes[gx].op else {
        return None;
    };
    let [x, w, dy] = [0, 1, 2].map(|j| nodes[gx].inputs[j]);
    let gw = readers.of[dy.0 as usize].iter().copied().find(|&r| {
        r != usize::MAX && nodes[r].op == (Op::LayerNormGradW { eps }) && nodes[r].inputs == [x, dy]
    })?;
    let sb = bias_sum(nodes, readers, dy.0 as usize)?;
    // dx folded into the residual stream's gradient: its one reader adds it to another
    // tensor of its shape.
    let add = readers.only(gx).filter(|&a| {
        nodes[a].op == Op::Binary(BinaryOp::Add)
            && nodes[a].shape == nodes[gx].shape
            && nodes[a].inputs[0] != nodes[a].inputs[1]
            && nodes[a]
                .inputs
                .iter()
                .all(|i| nodes[i.0 as usize].shape == nodes[gx].shape)
    });
    let mut inputs = vec![x, w, dy];
    let mut members = vec![gx, gw, sb];
    let (main, sum_out) = match add {
        Some(a) => {
            let dres = nodes[a]
                .inputs
                .iter()
                .copied()
                .find(|&i| i.0 as usize != gx)?;
            inputs.push(dres);
            members.push(a);
            (a, bias_sum(nodes, readers, a))
        }
        None => (gx, bias_sum(nodes, readers, gx)),
    };
    let mut outputs = vec![(main, 0), (gw, 1), (sb, 2)];
    let mut extras = vec![nodes[gw].shape.clone(), nodes[sb].shape.clone()];
    if let Some(s) = sum_out {
        members.push(s);
        outputs.push((s, 3));
        extras.push(nodes[s].shape.clone());
    }
    Some(Group {
        members,
        node: Node {
            op: Op::LayerNormGrad {
                eps,
                residual: add.is_some(),
                sum_out: sum_out.is_some(),
            },
            inputs,
            ..nodes[main].clone()
        },
        outputs,
        extras,
    })
}

fn linear_input_sums(nodes: &[Node], readers: &Readers, mm: usize) -> Option<Group> {
    let Op::MatMul { trans_b, alpha, .. } = nodes[mm].op else {
        return None;
    };
    let a = nodes[mm].inputs[0].0 as usize;
    if !linear_operands(nodes, &nodes[mm]) || nodes[mm].inputs[1].0 as usize == a {
        return None;
    }
    // The bias gradient of the layer that made `a` (before or after the product: the
    // fused node takes the later place, and `fits` checks the readers).
    let s = bias_sum(nodes, readers, a)?;
    let mut node = nodes[mm].clone();
    node.op = Op::LinearInputSums { trans_b, alpha };
    Some(Group {
        members: vec![mm, s],
        node,
        outputs: vec![(mm, 0), (s, 1)],
        extras: vec![nodes[s].shape.clone()],
    })
}

/// Whether `group` can replace its members: none of them taken by another group, every
/// outside reader of a replaced value after the group's place, and no outside reader of a
/// member whose value the fused kernel does not produce.
fn fits(group: &Group, readers: &Readers, taken: &[bool]) -> bool {
    let at = *group.members.iter().max().expect("a group has members");
    group.members.iter().all(|&m| {
        let replaced = group.outputs.iter().any(|&(o, _)| o == m);
        !taken[m]
            && readers.of[m].iter().all(|&r| {
                let inside = group.members.contains(&r);
                inside || (replaced && r > at)
            })
    })
}

/// Returns the graph with the CPU fusions applied and the old → new id map. `keep` lists
/// nodes that must stay addressable (requested outputs).
pub fn fuse_for_cpu(g: &Graph, keep: &[NodeId]) -> (Graph, IdMap) {
    let nodes = g.nodes();
    let readers = Readers::new(nodes, keep);
    let mut taken = vec![false; nodes.len()];
    // Groups by the place of their last member.
    let mut at: Vec<Option<Group>> = (0..nodes.len()).map(|_| None).collect();
    // Pattern by pattern, in order of what they save: a backward product that both an
    // activation gradient and an input-sums fusion could take goes to the former.
    let patterns = [
        linear_act,
        linear_residual,
        linear_act_grad,
        layer_norm_grad,
        linear_input_sums,
    ];
    for f in patterns {
        for i in 0..nodes.len() {
            let Some(grp) = f(nodes, &readers, i).filter(|grp| fits(grp, &readers, &taken)) else {
                continue;
            };
            for &m in &grp.members {
                taken[m] = true;
            }
            let last = *grp.members.iter().max().expect("members");
            at[last] = Some(grp);
        }
    }
    let mut map: IdMap = vec![None; nodes.len()];
    let mut out: Vec<Node> = Vec::with_capacity(nodes.len());
    let remap = |map: &IdMap, ids: &[NodeId]| -> Vec<NodeId> {
        ids.iter()
            .map(|x| map[x.0 as usize].expect("inputs precede their readers"))
            .collect()
    };
    for (i, n) in nodes.iter().enumerate() {
        if let Some(grp) = at[i].take() {
            let mut fused = grp.node;
            fused.inputs = remap(&map, &fused.inputs);
            let id = NodeId(out.len() as u32);
            out.push(fused);
            for (k, shape) in grp.extras.into_iter().enumerate() {
                out.push(Node {
                    op: Op::Extra { slot: k as u8 + 1 },
                    inputs: vec![id],
                    shape,
                    dtype: DType::Data,
                    role: Role::Computed,
                });
            }
            for (m, slot) in grp.outputs {
                map[m] = Some(NodeId(id.0 + u32::from(slot)));
            }
        } else if !taken[i] {
            let mut n = n.clone();
            n.inputs = remap(&map, &n.inputs);
            map[i] = Some(NodeId(out.len() as u32));
            out.push(n);
        }
    }
    (Graph::from_nodes(out), map)
}
