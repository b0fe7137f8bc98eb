//! Reverse-mode autodiff as a graph transformation: `grad` appends the backward nodes to the
//! same graph, so passes and backends see one program (luminal's approach).
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use super::shape::numel;
use super::{BinaryOp, DType, GResult, Graph, GraphError, NodeId, Op, Role, UnaryOp};

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
        needs[i] =
            diff_inputs(&node.op, node.inputs.len()).any(|j| needs[node.inputs[j].0 as usize]);
    }
    let mut contribs: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    let seed = g.push(
        Op::Fill { value: 1.0 },
        vec![],
        vec![],
        DType::Data,
        Role::Computed,
    );
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

/// Input positions through which `op` passes gradient.
fn diff_inputs(op: &Op, arity: usize) -> impl Iterator<Item = usize> {
    match op {
        Op::Leaf | Op::Fill { .. } | Op::NormPix { .. } | Op::Extra { .. } => 0..0,
        Op::GatherRows | Op::ScatterRows { .. } | Op::MaskedMse | Op::CrossEntropy => 0..1,
        Op::Attention { has_bias, .. } => 0..(3 + usize::from(*has_bias)),
        Op::SelfAttention { has_bias, .. } => 0..(1 + usize::from(*has_bias)),
        _ => 0..arity,
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
fn vjp(g: &mut Graph, id: NodeId, dy: NodeId, needs: &[bool]) -> GResult<Vec<(NodeId, NodeId)>> {
    let node = g.node(id).clone();
    let x = &node.inputs;
    let need = |j: usize| needs[x[j].0 as usize];
    let shape = |g: &Graph, j: usize| g.shape(x[j]).to_vec();
    let mut out = Vec::new();
    match node.op {
        Op::Leaf | Op::Fill { .. } | Op::NormPix { .. } => {}
        Op::Unary(UnaryOp::Affine { mul, .. }) => out.push((x[0], g.scale(dy, mul)?)),
        Op::Unary(u) => {
            let d = g.op(Op::UnaryGrad(u), vec![x[0], dy], node.shape.clone())?;
            out.push((x[0], d));
        }
        Op::Binary(b) => {
            let (sa, sb) = (shape(g, 0), shape(g, 1));
            let (da, db) = match b {
                BinaryOp::Add => (Some(dy), Some(dy)),
                BinaryOp::Sub => (Some(dy), Some(g.neg(dy)?)),
                BinaryOp::Mul => (
                    if need(0) {
                        Some(g.mul(dy, x[1])?)
                    } else {
                        None
                    },
                    if need(1) {
                        Some(g.mul(dy, x[0])?)
                    } else {
                        None
                    },
                ),
                BinaryOp::Div => {
                    let da = g.div(dy, x[1])?;
                    let db = if need(1) {
                        // d(a/b)/db = −(a/b)/b = −y/b.
                        let t = g.mul(da, id)?;
                        Some(g.neg(t)?)
                    } else {
                        None
                    };
                    (Some(da), db)
                }
            };
            if need(0) {
                if let Some(d) = da {
                    out.push((x[0], g.sum_to(d, &sa)?));
                }
            }
            if need(1) {
                if let Some(d) = db {
                    out.push((x[1], g.sum_to(d, &sb)?));
                }
            }
        }
        Op::MatMul {
            trans_a: ta,
            trans_b: tb,
            alpha,
        } => {
            let (a, b) = (x[0], x[1]);
            let (sa, sb) = (shape(g, 0), shape(g, 1));
            if need(0) {
                let da = if ta {
                    g.matmul_scaled(b, dy, tb, true, alpha)?
                } else {
                    g.matmul_scaled(dy, b, false, !tb, alpha)?
                };
                out.push((a, da));
            }
            if need(1) {
                let db = if sb.len() == 2 && sa.len() > 2 {
                    // Shared weight: fold the batch into rows, one GEMM sums over it.
                    let k = sa[sa.len() - 1];
                    let rows = numel(&sa) / k;
                    let nn = node.shape[node.shape.len() - 1];
                    let a2 = g.reshape(a, &[rows, k])?;
                    let d2 = g.reshape(dy, &[rows, nn])?;
                    if tb {
                        g.matmul_scaled(d2, a2, true, false, alpha)?
                    } else {
                        g.matmul_scaled(a2, d2, true, false, alpha)?
                    }
                } else if tb {
                    g.matmul_scaled(dy, a, true, ta, alpha)?
                } else {
                    g.matmul_scaled(a, dy, !ta, false, alpha)?
                };
                out.push((b, db));
            }
        }
        Op::LayerNorm { eps } => {
            if need(0) {
                let d = g.op(
                    Op::LayerNormGradX { eps },
                    vec![x[0], x[1], dy],
                    node.shape.clone(),
                )?;
                out.push((x[0], d));
            }
            let dsh = shape(g, 1);
            if need(1) {
                let d = g.op(Op::LayerNormGradW { eps }, vec![x[0], dy], dsh.clone())?;
                out.push((x[1], d));
            }
            if need(2) {
                out.push((x[2], g.sum_to(dy, &dsh)?));
            }
        }
        Op::Softmax => {
            let d = g.op(Op::SoftmaxGrad, vec![id, dy], node.shape.clone())?;
            out.push((x[0], d));
        }
        Op::Attention { scale, has_bias } => {
            let lse = g.extra_of(id, 1).ok_or(GraphError::NotDifferentiable {
                op: "attention without its lse output",
            })?;
            let mut ins = x.clone();
            ins.extend_from_slice(&[id, lse, dy]);
            if need(0) || need(1) || need(2) {
                let dq = g.op(
                    Op::AttentionGrad { scale, has_bias },
                    ins.clone(),
                    shape(g, 0),
                )?;
                let dk = g.extra(dq, 1, shape(g, 1));
                let dv = g.extra(dq, 2, shape(g, 2));
                for (j, d) in [dq, dk, dv].into_iter().enumerate() {
                    if need(j) {
                        out.push((x[j], d));
                    }
                }
            }
            if has_bias && need(3) {
                let db = g.op(Op::AttentionGradBias { scale }, ins, shape(g, 3))?;
                out.push((x[3], db));
            }
        }
        Op::SelfAttention {
            heads,
            scale,
            has_bias,
        } => {
            let lse = g.extra_of(id, 1).ok_or(GraphError::NotDifferentiable {
                op: "self_attention without its lse output",
            })?;
            let mut ins = x.clone();
            ins.extend_from_slice(&[id, lse, dy]);
            if need(0) {
                let op = Op::SelfAttentionGrad {
                    heads,
                    scale,
                    has_bias,
                };
                let d = g.op(op, ins.clone(), shape(g, 0))?;
                out.push((x[0], d));
            }
            if has_bias && need(1) {
                let op = Op::SelfAttentionGradBias { heads, scale };
                let db = g.op(op, ins, shape(g, 1))?;
                out.push((x[1], db));
            }
        }
        Op::GatherRows => {
            let sx = shape(g, 0);
            let d = if sx.len() == 3 {
                let sum_batches = sx[0] == 1 && node.shape[0] > 1;
                g.scatter_rows(dy, x[1], sx[1], sum_batches)?
            } else {
                g.scatter_rows(dy, x[1], sx[0], false)?
            };
            out.push((x[0], d));
        }
        Op::ScatterRows { .. } => {
            let d = g.gather_rows(dy, x[1])?;
            let src = shape(g, 0);
            let d = if super::shape::broadcasts_to(g.shape(d), &src) {
                g.expand(d, &src)?
            } else {
                g.sum_to(d, &src)?
            };
            out.push((x[0], d));
        }
        Op::Concat { axis } => {
            let mut off = 0;
            for (j, &xj) in x.iter().enumerate() {
                let len = g.shape(xj)[axis];
                if need(j) {
                    out.push((xj, g.slice(dy, axis, off, len)?));
                }
                off += len;
            }
        }
        Op::Slice { axis, start } => {
            let total = g.shape(x[0])[axis];
            out.push((x[0], g.pad(dy, axis, start, total)?));
        }
        Op::Pad { axis, before } => {
            let len = g.shape(x[0])[axis];
            out.push((x[0], g.slice(dy, axis, before, len)?));
        }
        Op::Reshape => out.push((x[0], g.reshape(dy, &shape(g, 0))?)),
        Op::Permute { ref axes } => {
            let mut inv = vec![0; axes.len()];
            for (j, &a) in axes.iter().enumerate() {
                inv[a] = j;
            }
            out.push((x[0], g.permute(dy, &inv)?));
        }
        Op::Roll { ref shifts } => {
            let neg: Vec<(usize, isize)> = shifts.iter().map(|&(a, s)| (a, -s)).collect();
            out.push((x[0], g.roll(dy, &neg)?));
        }
        Op::Expand => out.push((x[0], g.sum_to(dy, &shape(g, 0))?)),
        Op::SumTo => out.push((x[0], g.expand(dy, &shape(g, 0))?)),
        Op::MaskedMse => {
            let d = g.op(Op::MaskedMseGrad, vec![x[0], x[1], x[2], dy], shape(g, 0))?;
            out.push((x[0], d));
        }
        Op::CrossEntropy => {
            let d = g.op(
                Op::CrossEntropyGrad,
                vec![x[0], x[1], x[2], dy],
                shape(g, 0),
            )?;
            out.push((x[0], d));
        }
        ref op => return Err(GraphError::NotDifferentiable { op: op.name() }),
    }
    Ok(out)
}
