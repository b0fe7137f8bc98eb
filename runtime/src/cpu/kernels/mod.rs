//! CPU kernels, one file per family, and the dispatch from a plan step to them.
pub mod adamw;
pub mod attention;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod reduce;
pub mod tokens;

use std::ops::Range;

use tessera_dsl::graph::{FusedInstr, Graph, Node, Op, Space, Step};

use super::views::{split, MAX_IN, MAX_OUT};
use super::Element;
use crate::BackendError;
use elementwise::{Access, Operand};

/// Scratch elements (outside the arena) that the kernel of `node` needs.
pub fn scratch_need(g: &Graph, node: &Node) -> usize {
    match node.op {
        Op::Attention { scale, .. }
        | Op::AttentionGrad { scale, .. }
        | Op::AttentionGradBias { scale } => attn_dims(g, node, scale).scratch(),
        Op::SelfAttention { heads, scale, .. }
        | Op::SelfAttentionGrad { heads, scale, .. }
        | Op::SelfAttentionGradBias { heads, scale } => {
            packed_dims(g, node, heads, scale).scratch()
        }
        Op::LayerNormGradW { .. } => 2 * g.node(node.inputs[0]).numel(),
        _ => 0,
    }
}

fn attn_dims(g: &Graph, node: &Node, scale: f64) -> attention::Dims {
    let sq = g.shape(node.inputs[0]);
    let sk = g.shape(node.inputs[1]);
    let sv = g.shape(node.inputs[2]);
    let r = sq.len();
    let groups = sq[..r - 2].iter().product();
    attention::Dims::split(groups, sq[r - 2], sk[r - 2], sq[r - 1], sv[r - 1], scale)
}

fn packed_dims(g: &Graph, node: &Node, heads: usize, scale: f64) -> attention::Dims {
    let s = g.shape(node.inputs[0]);
    attention::Dims::packed(s[0], s[1], heads, s[2] / (3 * heads), scale)
}

fn scores_shape(g: &Graph, node: &Node) -> ([usize; 8], usize) {
    let sq = g.shape(node.inputs[0]);
    let r = sq.len();
    let mut s = [0; 8];
    s[..r - 1].copy_from_slice(&sq[..r - 1]);
    s[r - 1] = g.shape(node.inputs[1])[r - 2];
    (s, r)
}

/// Runs one step of the plan.
pub fn launch<E: Element>(
    g: &Graph,
    step: &Step,
    data: &mut [E],
    index: &[u32],
    scratch: &mut [E],
) -> Result<(), BackendError> {
    let node = g.node(step.node);
    let empty = 0..0;
    let mut reads: [Range<usize>; MAX_IN] = core::array::from_fn(|_| empty.clone());
    let mut writes: [Range<usize>; MAX_OUT] = core::array::from_fn(|_| empty.clone());
    let mut idx: [&[u32]; MAX_IN] = [&[]; MAX_IN];
    let adamw = matches!(node.op, Op::AdamW { .. });
    let mut nw = 0;
    for (j, s) in step.inputs.iter().enumerate() {
        match s.space {
            Space::Index => idx[j] = &index[s.range()],
            Space::Data if adamw && matches!(j, 0 | 2 | 3) => {
                writes[nw] = s.range();
                nw += 1;
            }
            Space::Data => reads[j] = s.range(),
        }
    }
    if !adamw {
        for s in &step.outputs {
            writes[nw] = s.range();
            nw += 1;
        }
    }
    let (ins, mut outs) = split(data, &writes[..nw], &reads[..step.inputs.len()])?;
    let shape = |j: usize| g.shape(node.inputs[j]);
    let out_shape = &node.shape[..];
    match &node.op {
        Op::Leaf | Op::Reshape | Op::Extra { .. } => {}
        Op::Fill { value } => outs[0].fill(E::from_f64(*value)),
        Op::Unary(u) => {
            let prog = [FusedInstr::Load(0), FusedInstr::Unary(*u, 0)];
            elementwise::eval(&prog, &[(ins[0], Access::Full)], outs[0]);
        }
        Op::UnaryGrad(u) => {
            let prog = [
                FusedInstr::Load(0),
                FusedInstr::Load(1),
                FusedInstr::UnaryGrad(*u, 0, 1),
            ];
            let ops = [(ins[0], Access::Full), (ins[1], Access::Full)];
            elementwise::eval(&prog, &ops, outs[0]);
        }
        Op::Binary(b) => {
            let prog = [
                FusedInstr::Load(0),
                FusedInstr::Load(1),
                FusedInstr::Binary(*b, 0, 1),
            ];
            let ops = [
                (ins[0], Access::new(shape(0), out_shape)),
                (ins[1], Access::new(shape(1), out_shape)),
            ];
            elementwise::eval(&prog, &ops, outs[0]);
        }
        Op::Expand => {
            let prog = [FusedInstr::Load(0)];
            elementwise::eval(
                &prog,
                &[(ins[0], Access::new(shape(0), out_shape))],
                outs[0],
            );
        }
        Op::Fused(p) => {
            let mut ops: [Operand<'_, E>; MAX_IN] = [(&[], Access::Full); MAX_IN];
            for j in 0..node.inputs.len() {
                ops[j] = (ins[j], Access::new(shape(j), out_shape));
            }
            elementwise::eval(&p.instrs, &ops[..node.inputs.len()], outs[0]);
        }
        Op::MatMul {
            trans_a,
            trans_b,
            alpha,
        }
        | Op::MatMulBias {
            trans_a,
            trans_b,
            alpha,
        } => {
            let bias = matches!(node.op, Op::MatMulBias { .. }).then_some(ins[2]);
            matmul::matmul(
                ins[0],
                shape(0),
                ins[1],
                shape(1),
                outs[0],
                *trans_a,
                *trans_b,
                *alpha,
                bias,
            )
        }
        Op::LayerNorm { eps } => norm::layer_norm(ins[0], ins[1], ins[2], outs[0], *eps),
        Op::LayerNormGradX { eps } => {
            norm::layer_norm_grad_x(ins[0], ins[1], ins[2], outs[0], *eps)
        }
        Op::LayerNormGradW { eps } => {
            norm::layer_norm_grad_w(ins[0], ins[1], outs[0], *eps, scratch)
        }
        Op::Softmax => norm::softmax(ins[0], outs[0], *out_shape.last().unwrap_or(&1)),
        Op::SoftmaxGrad => {
            norm::softmax_grad(ins[0], ins[1], outs[0], *out_shape.last().unwrap_or(&1))
        }
        Op::NormPix { eps, eps_on_std } => norm::norm_pix(
            ins[0],
            outs[0],
            *out_shape.last().unwrap_or(&1),
            *eps,
            *eps_on_std,
        ),
        Op::Attention { scale, has_bias } => {
            let dm = attn_dims(g, node, *scale);
            let (ss, r) = scores_shape(g, node);
            let map = has_bias.then(|| attention::BiasMap::new(shape(3), &ss[..r]));
            let bias = map.as_ref().map(|m| (ins[3], m));
            let [o, lse, ..] = &mut outs;
            attention::forward(&dm, ins[0], ins[1], ins[2], bias, o, lse, scratch);
        }
        Op::SelfAttention {
            heads,
            scale,
            has_bias,
        } => {
            let dm = packed_dims(g, node, *heads, *scale);
            let scores = [dm.batch, dm.heads, dm.lq, dm.lk];
            let map = has_bias.then(|| attention::BiasMap::new(shape(1), &scores));
            let bias = map.as_ref().map(|m| (ins[1], m));
            let [o, lse, ..] = &mut outs;
            attention::forward(&dm, ins[0], ins[0], ins[0], bias, o, lse, scratch);
        }
        Op::AttentionGrad { .. } | Op::AttentionGradBias { .. } => {
            let (scale, has_bias) = match node.op {
                Op::AttentionGrad { scale, has_bias } => (scale, has_bias),
                Op::AttentionGradBias { scale } => (scale, true),
                _ => unreachable!(),
            };
            let dm = attn_dims(g, node, scale);
            let (ss, r) = scores_shape(g, node);
            let nb = usize::from(has_bias);
            let sv = attention::Saved {
                q: ins[0],
                k: ins[1],
                v: ins[2],
                bias: has_bias.then(|| (ins[3], attention::BiasMap::new(shape(3), &ss[..r]))),
                o: ins[3 + nb],
                lse: ins[4 + nb],
                d_o: ins[5 + nb],
            };
            if let Op::AttentionGradBias { .. } = node.op {
                attention::backward_bias(&dm, &sv, outs[0], scratch);
            } else {
                let [dq, dk, dv, ..] = &mut outs;
                attention::backward(&dm, &sv, attention::Grads::Split(dq, dk, dv), scratch);
            }
        }
        Op::SelfAttentionGrad { .. } | Op::SelfAttentionGradBias { .. } => {
            let (heads, scale, has_bias) = match node.op {
                Op::SelfAttentionGrad {
                    heads,
                    scale,
                    has_bias,
                } => (heads, scale, has_bias),
                Op::SelfAttentionGradBias { heads, scale } => (heads, scale, true),
                _ => unreachable!(),
            };
            let dm = packed_dims(g, node, heads, scale);
            let scores = [dm.batch, dm.heads, dm.lq, dm.lk];
            let nb = usize::from(has_bias);
            let sv = attention::Saved {
                q: ins[0],
                k: ins[0],
                v: ins[0],
                bias: has_bias.then(|| (ins[1], attention::BiasMap::new(shape(1), &scores))),
                o: ins[1 + nb],
                lse: ins[2 + nb],
                d_o: ins[3 + nb],
            };
            if let Op::SelfAttentionGradBias { .. } = node.op {
                attention::backward_bias(&dm, &sv, outs[0], scratch);
            } else {
                attention::backward(&dm, &sv, attention::Grads::Packed(outs[0]), scratch);
            }
        }
        Op::GatherRows => {
            let sx = shape(0);
            let si = g.shape(node.inputs[1]);
            let (dims, bi) = if sx.len() == 2 {
                ((1, sx[0], sx[1]), 1)
            } else {
                ((sx[0], sx[1], sx[2]), si[0])
            };
            tokens::gather_rows(ins[0], dims, idx[1], bi, outs[0])?;
        }
        Op::ScatterRows { len } => {
            let ss = shape(0);
            let si = g.shape(node.inputs[1]);
            let (dims, bi) = if ss.len() == 2 {
                ((1, ss[0], ss[1]), 1)
            } else {
                ((ss[0], ss[1], ss[2]), si[0])
            };
            tokens::scatter_rows(ins[0], dims, idx[1], bi, outs[0], *len)?;
        }
        Op::Concat { axis } => {
            let (_, n_dst, inner) = tokens::around(out_shape, *axis);
            let mut off = 0;
            for (j, input) in ins.iter().enumerate().take(node.inputs.len()) {
                let n = shape(j)[*axis];
                tokens::copy_blocks(input, n, 0, outs[0], n_dst, off, n, inner);
                off += n;
            }
        }
        Op::Slice { axis, start } => {
            let (_, n_src, inner) = tokens::around(shape(0), *axis);
            let n = out_shape[*axis];
            tokens::copy_blocks(ins[0], n_src, *start, outs[0], n, 0, n, inner);
        }
        Op::Pad { axis, before } => {
            let (_, n_dst, inner) = tokens::around(out_shape, *axis);
            let n = shape(0)[*axis];
            outs[0].fill(E::zero());
            tokens::copy_blocks(ins[0], n, 0, outs[0], n_dst, *before, n, inner);
        }
        Op::Permute { axes } => layout::permute(ins[0], shape(0), axes, outs[0]),
        Op::Roll { shifts } => layout::roll(ins[0], shape(0), shifts, outs[0]),
        Op::SumTo => reduce::sum_to(ins[0], shape(0), out_shape, outs[0]),
        Op::MaskedMse => {
            let p = *shape(0).last().unwrap_or(&1);
            outs[0][0] = loss::masked_mse(ins[0], ins[1], ins[2], p);
        }
        Op::MaskedMseGrad => {
            let p = *shape(0).last().unwrap_or(&1);
            loss::masked_mse_grad(ins[0], ins[1], ins[2], ins[3][0], p, outs[0]);
        }
        Op::CrossEntropy => {
            let v = shape(0)[1];
            outs[0][0] = loss::cross_entropy(ins[0], idx[1], ins[2], v)?;
        }
        Op::CrossEntropyGrad => {
            let v = shape(0)[1];
            loss::cross_entropy_grad(ins[0], idx[1], ins[2], ins[3][0], v, outs[0])?;
        }
        Op::AdamW {
            beta1,
            beta2,
            eps,
            weight_decay,
            lr_scale,
        } => {
            let h = adamw::Hyper {
                lr: ins[4][0].to_f64() * lr_scale,
                t: ins[5][0].to_f64(),
                beta1: *beta1,
                beta2: *beta2,
                eps: *eps,
                wd: *weight_decay,
            };
            let [p, m, v, ..] = &mut outs;
            adamw::update(p, ins[1], m, v, h);
        }
    }
    Ok(())
}
