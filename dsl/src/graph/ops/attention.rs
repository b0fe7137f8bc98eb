//! Fused scaled-dot-product attention over separate q, k, v (`Attention`) or one packed qkv
//! projection (`SelfAttention`), with an optional additive bias, and the kernels of their
//! gradients (`*Grad`: dq, dk, dv; `*GradBias`: the bias gradient).
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::autodiff::{Contributions, Vjp, VjpRule};
use crate::graph::shape::{broadcasts_to, shape_err};
use crate::graph::{misrouted, GResult, Graph, GraphError, NodeId, Op};

impl Graph {
    /// `softmax(scale · q kᵀ + bias) · v` as one op. `q [.., Lq, d]`, `k [.., Lk, d]`,
    /// `v [.., Lk, dv]` with equal leading dims (`[B·H]` or `[B, H]`); `bias` (additive mask or
    /// relative-position bias) broadcasts to `[.., Lq, Lk]`. Output `[.., Lq, dv]`.
    pub fn attention(
        &mut self,
        q: NodeId,
        k: NodeId,
        v: NodeId,
        bias: Option<NodeId>,
        scale: f64,
    ) -> GResult<NodeId> {
        let sq = self.data_shape("attention", q)?;
        let sk = self.data_shape("attention", k)?;
        let sv = self.data_shape("attention", v)?;
        let r = sq.len();
        let bad = |why: &str| shape_err("attention", &[&sq, &sk, &sv], why.into());
        if r < 2 || sk.len() != r || sv.len() != r {
            return Err(bad("q, k, v need the same rank ≥ 2"));
        }
        if sq[..r - 2] != sk[..r - 2] || sq[..r - 2] != sv[..r - 2] {
            return Err(bad("q, k, v need equal leading dims"));
        }
        if sq[r - 1] != sk[r - 1] || sk[r - 2] != sv[r - 2] {
            return Err(bad("q and k need equal head dims, k and v equal lengths"));
        }
        let mut inputs = vec![q, k, v];
        if let Some(b) = bias {
            let sb = self.data_shape("attention", b)?;
            let mut scores: Vec<usize> = sq[..r - 1].to_vec();
            scores.push(sk[r - 2]);
            if !broadcasts_to(&sb, &scores) {
                return Err(shape_err(
                    "attention",
                    &[&sb, &scores],
                    "bias must broadcast to the score shape [.., Lq, Lk]".into(),
                ));
            }
            inputs.push(b);
        }
        let mut out = sq[..r - 1].to_vec();
        out.push(sv[r - 1]);
        let lse_shape = sq[..r - 1].to_vec();
        let op = Op::Attention {
            scale,
            has_bias: bias.is_some(),
        };
        let o = self.op(op, inputs, out)?;
        self.extra(o, 1, lse_shape);
        Ok(o)
    }

    /// Multi-head self-attention on a fused qkv projection `[B, L, 3·D]` (timm layout:
    /// channel `s·D + h·d + i` for s ∈ {q, k, v}), giving `[B, L, D]` with heads merged —
    /// the same values as `split_qkv` → `attention` → `merge_heads` without the copies.
    /// `bias` (mask or relative-position bias) broadcasts to `[B, H, L, L]`.
    pub fn self_attention(
        &mut self,
        qkv: NodeId,
        heads: usize,
        bias: Option<NodeId>,
        scale: f64,
    ) -> GResult<NodeId> {
        let s = self.data_shape("self_attention", qkv)?;
        if s.len() != 3 || heads == 0 || s[2] % (3 * heads) != 0 {
            return Err(shape_err(
                "self_attention",
                &[&s],
                alloc::format!("qkv [B, L, 3·D] with D divisible by {heads} heads"),
            ));
        }
        let (b, l, d) = (s[0], s[1], s[2] / 3);
        let mut inputs = vec![qkv];
        if let Some(bn) = bias {
            let sb = self.data_shape("self_attention", bn)?;
            let scores = [b, heads, l, l];
            if !broadcasts_to(&sb, &scores) {
                return Err(shape_err(
                    "self_attention",
                    &[&sb, &scores],
                    "bias must broadcast to the score shape [B, H, L, L]".into(),
                ));
            }
            inputs.push(bn);
        }
        let op = Op::SelfAttention {
            heads,
            scale,
            has_bias: bias.is_some(),
        };
        let o = self.op(op, inputs, vec![b, l, d])?;
        self.extra(o, 1, vec![b, heads, l]);
        Ok(o)
    }
}

/// `Attention`: one kernel for dq, dk, dv (the latter two as its extra outputs) and one for
/// the bias gradient, both recomputing the probabilities from the saved log-sum-exp.
pub(crate) const ATTENTION_VJP: VjpRule = VjpRule {
    through: |op, _| match op {
        Op::Attention { has_bias, .. } => 0..3 + usize::from(*has_bias),
        op => misrouted(op),
    },
    vjp: attention_vjp,
};

fn attention_vjp(g: &mut Graph, v: &Vjp<'_>) -> GResult<Contributions> {
    let Op::Attention { scale, has_bias } = v.node.op else {
        misrouted(&v.node.op)
    };
    let ins = saved_inputs(g, v, "attention without its lse output")?;
    let mut out = Vec::new();
    if v.need(0) || v.need(1) || v.need(2) {
        let op = Op::AttentionGrad { scale, has_bias };
        let dq = g.op(op, ins.clone(), v.shape(g, 0))?;
        let dk = g.extra(dq, 1, v.shape(g, 1));
        let dv = g.extra(dq, 2, v.shape(g, 2));
        for (j, d) in [dq, dk, dv].into_iter().enumerate() {
            if v.need(j) {
                out.push((v.x(j), d));
            }
        }
    }
    if has_bias && v.need(3) {
        let db = g.op(Op::AttentionGradBias { scale }, ins, v.shape(g, 3))?;
        out.push((v.x(3), db));
    }
    Ok(out)
}

/// `SelfAttention`: one kernel for d qkv and one for the bias gradient.
pub(crate) const SELF_ATTENTION_VJP: VjpRule = VjpRule {
    through: |op, _| match op {
        Op::SelfAttention { has_bias, .. } => 0..1 + usize::from(*has_bias),
        op => misrouted(op),
    },
    vjp: self_attention_vjp,
};

fn self_attention_vjp(g: &mut Graph, v: &Vjp<'_>) -> GResult<Contributions> {
    let Op::SelfAttention {
        heads,
        scale,
        has_bias,
    } = v.node.op
    else {
        misrouted(&v.node.op)
    };
    let ins = saved_inputs(g, v, "self_attention without its lse output")?;
    let mut out = Vec::new();
    if v.need(0) {
        let op = Op::SelfAttentionGrad {
            heads,
            scale,
            has_bias,
        };
        out.push((v.x(0), g.op(op, ins.clone(), v.shape(g, 0))?));
    }
    if has_bias && v.need(1) {
        let op = Op::SelfAttentionGradBias { heads, scale };
        out.push((v.x(1), g.op(op, ins, v.shape(g, 1))?));
    }
    Ok(out)
}

/// The inputs of the backward kernels: the forward's inputs, its output, its log-sum-exp
/// and the output gradient.
fn saved_inputs(g: &Graph, v: &Vjp<'_>, missing: &'static str) -> GResult<Vec<NodeId>> {
    let lse = g
        .extra_of(v.id, 1)
        .ok_or(GraphError::NotDifferentiable { op: missing })?;
    let mut ins = v.node.inputs.clone();
    ins.extend_from_slice(&[v.id, lse, v.dy]);
    Ok(ins)
}
