//! Fused scaled-dot-product attention.
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::shape::{broadcasts_to, shape_err};
use crate::graph::{DType, GResult, Graph, NodeId, Op, Role};

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
