//! Fused scaled-dot-product attention over separate q, k, v (`Attention`) or one packed qkv
//! projection (`SelfAttention`), with an optional additive bias, and the kernels of their
//! gradients (`*Grad`: dq, dk, dv; `*GradBias`: the bias gradient).
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::autodiff::{Contributions, Vjp, VjpRule};
use crate::graph::shape::{broadcasts_to, shape_err};
use crate::graph::{misrouted, GResult, Graph, GraphError, Node, NodeId, Op, MAX_RANK};

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

/// Where group (b, h)'s rows of one operand live: row i at `off + b·bs + h·hs + i·rs`
/// (elements), its columns contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub off: usize,
    pub bs: usize,
    pub hs: usize,
    pub rs: usize,
}

impl Place {
    /// Where the rows of group (b, h) start.
    pub fn at(&self, b: usize, h: usize) -> usize {
        self.off + b * self.bs + h * self.hs
    }

    /// Elements a buffer must hold for `batch · heads` groups of `rows × cols`.
    pub fn extent(&self, batch: usize, heads: usize, rows: usize, cols: usize) -> usize {
        if batch == 0 || heads == 0 || rows == 0 || cols == 0 {
            return 0;
        }
        self.off + (batch - 1) * self.bs + (heads - 1) * self.hs + (rows - 1) * self.rs + cols
    }
}

/// Geometry and layout of one attention op, which every backend's kernels follow. Groups are
/// (b, h), `g = b·heads + h`; `o` and `dO` share a layout, as do `dq`/`dk`/`dv` and
/// `q`/`k`/`v`; `lse` is `[groups, lq]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionDims {
    pub batch: usize,
    pub heads: usize,
    pub lq: usize,
    pub lk: usize,
    pub d: usize,
    pub dv: usize,
    pub scale: f64,
    pub q: Place,
    pub k: Place,
    pub v: Place,
    pub o: Place,
}

impl AttentionDims {
    /// Separate contiguous `[g, lq, d]`, `[g, lk, d]`, `[g, lk, dv]` operands and output
    /// `[g, lq, dv]` (the IR's `Attention`; `g` = the product of the leading dims).
    pub fn split(g: usize, lq: usize, lk: usize, d: usize, dv: usize, scale: f64) -> Self {
        let place = |rows: usize, cols: usize| Place {
            off: 0,
            bs: rows * cols,
            hs: 0,
            rs: cols,
        };
        AttentionDims {
            batch: g,
            heads: 1,
            lq,
            lk,
            d,
            dv,
            scale,
            q: place(lq, d),
            k: place(lk, d),
            v: place(lk, dv),
            o: place(lq, dv),
        }
    }

    /// Self-attention on a packed `qkv [batch, l, 3·heads·d]` (timm channel order
    /// `s·D + h·d + i`), output `[batch, l, heads·d]` (the IR's `SelfAttention`).
    pub fn packed(batch: usize, l: usize, heads: usize, d: usize, scale: f64) -> Self {
        let dd = heads * d;
        let part = |s: usize| Place {
            off: s * dd,
            bs: l * 3 * dd,
            hs: d,
            rs: 3 * dd,
        };
        AttentionDims {
            batch,
            heads,
            lq: l,
            lk: l,
            d,
            dv: d,
            scale,
            q: part(0),
            k: part(1),
            v: part(2),
            o: Place {
                off: 0,
                bs: l * dd,
                hs: d,
                rs: dd,
            },
        }
    }

    pub fn groups(&self) -> usize {
        self.batch * self.heads
    }
}

/// The geometry of one node of the attention family, read from its op and input shapes.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionGeometry {
    pub dims: AttentionDims,
    /// q, k and v are one packed qkv tensor (input 0).
    pub packed: bool,
    /// Input number of the additive bias, if there is one.
    pub bias: Option<usize>,
    /// The scores `[lead.., lq, lk]` the bias broadcasts to (the first `scores_rank` dims),
    /// held inline so that kernels can read the geometry without allocating.
    scores: [usize; MAX_RANK],
    scores_rank: usize,
    /// Input number of `o` (followed by `lse` and `dO`) in a backward op.
    pub saved: usize,
}

impl AttentionGeometry {
    /// The scores `[lead.., lq, lk]` the bias broadcasts to; the lead dims are the groups.
    pub fn scores(&self) -> &[usize] {
        &self.scores[..self.scores_rank]
    }

    pub fn of(g: &Graph, node: &Node) -> Self {
        let sq = g.shape(node.inputs[0]);
        let (dims, scores, has_bias, packed) = match node.op {
            Op::SelfAttention {
                heads,
                scale,
                has_bias,
            }
            | Op::SelfAttentionGrad {
                heads,
                scale,
                has_bias,
            } => packed_dims(sq, heads, scale, has_bias),
            Op::SelfAttentionGradBias { heads, scale } => packed_dims(sq, heads, scale, true),
            Op::Attention { scale, has_bias } | Op::AttentionGrad { scale, has_bias } => {
                split_dims(g, node, scale, has_bias)
            }
            Op::AttentionGradBias { scale } => split_dims(g, node, scale, true),
            ref op => misrouted(op),
        };
        let bias_at = if packed { 1 } else { 3 };
        AttentionGeometry {
            dims,
            packed,
            bias: has_bias.then_some(bias_at),
            scores: scores.0,
            scores_rank: scores.1,
            saved: bias_at + usize::from(has_bias),
        }
    }
}

/// A score shape held inline: dims and rank.
type Scores = ([usize; MAX_RANK], usize);

/// `SelfAttention*` over `qkv [B, L, 3·H·d]`: scores `[B, H, L, L]`.
fn packed_dims(
    sq: &[usize],
    heads: usize,
    scale: f64,
    has_bias: bool,
) -> (AttentionDims, Scores, bool, bool) {
    let (b, l, d) = (sq[0], sq[1], sq[2] / 3 / heads.max(1));
    let dims = AttentionDims::packed(b, l, heads, d, scale);
    let mut scores = [0; MAX_RANK];
    scores[..4].copy_from_slice(&[b, heads, l, l]);
    (dims, (scores, 4), has_bias, true)
}

/// `Attention*` over `q [.., lq, d]`, `k [.., lk, d]`, `v [.., lk, dv]`: scores `[.., lq, lk]`.
fn split_dims(
    g: &Graph,
    node: &Node,
    scale: f64,
    has_bias: bool,
) -> (AttentionDims, Scores, bool, bool) {
    let (sq, sk, sv) = (
        g.shape(node.inputs[0]),
        g.shape(node.inputs[1]),
        g.shape(node.inputs[2]),
    );
    let r = sq.len();
    let groups = sq[..r - 2].iter().product();
    let (lq, d, lk, dv) = (sq[r - 2], sq[r - 1], sk[r - 2], sv[r - 1]);
    let dims = AttentionDims::split(groups, lq, lk, d, dv, scale);
    let mut scores = [0; MAX_RANK];
    scores[..r - 1].copy_from_slice(&sq[..r - 1]);
    scores[r - 1] = lk;
    (dims, (scores, r), has_bias, false)
}

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    //! Fused attention: per (batch, head) group, scores are computed into a per-task scratch
    //! tile (never into the plan's arena), the forward keeps only the row log-sum-exp, and the
    //! backward recomputes the probabilities from it (FlashAttention's recipe, with whole-row
    //! tiles because CPU rows are short). Operands are strided views ([`Place`]s), so the
    //! packed self-attention reads q, k, v straight out of the qkv projection and writes
    //! `[B, L, H, d]` without any permute copies.
    use rayon::prelude::*;

    use super::{AttentionDims, AttentionGeometry, Place};
    use crate::graph::cpu::gemm::{gemm, MatRef};
    use crate::graph::cpu::simd::{lane_max, lane_sum, lane_sum2, vectorized, SimdLoop};
    use crate::graph::cpu::{CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::{Graph, Node};

    /// `Attention` and `SelfAttention`: `o` and the row log-sum-exp.
    pub(crate) const FORWARD: CpuKernel =
        CpuKernel::new(forward::<f32>, forward::<f64>).with_scratch(scratch);
    /// `AttentionGrad` (dq, dk, dv) and `SelfAttentionGrad` (d qkv).
    pub(crate) const BACKWARD: CpuKernel =
        CpuKernel::new(backward::<f32>, backward::<f64>).with_scratch(scratch);
    /// `AttentionGradBias` and `SelfAttentionGradBias`.
    pub(crate) const BACKWARD_BIAS: CpuKernel =
        CpuKernel::new(backward_bias::<f32>, backward_bias::<f64>).with_scratch(scratch);

    /// Parallel tasks of an attention launch (fixed so scratch size depends only on the plan).
    const TASKS: usize = 8;

    /// Scratch elements a launch needs: two score tiles per task.
    fn scratch(g: &Graph, node: &Node) -> usize {
        let dm = AttentionGeometry::of(g, node).dims;
        TASKS * 2 * dm.lq * dm.lk
    }

    /// q, k, v: three inputs, or the one packed qkv input three times.
    fn qkv<'a, E>(geo: &AttentionGeometry, ins: &[&'a [E]]) -> [&'a [E]; 3] {
        if geo.packed {
            [ins[0]; 3]
        } else {
            [ins[0], ins[1], ins[2]]
        }
    }

    fn bias_map<E: Element>(geo: &AttentionGeometry, a: &KernelArgs<'_, E>) -> Option<BiasMap> {
        geo.bias.map(|j| BiasMap::new(a.in_shape(j), geo.scores()))
    }

    fn forward<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let geo = AttentionGeometry::of(a.graph, a.node);
        let [q, k, v] = qkv(&geo, &a.ins);
        let map = bias_map(&geo, &a);
        let bias = geo.bias.zip(map.as_ref()).map(|(j, m)| (a.ins[j], m));
        let [o, lse, ..] = a.outs;
        flash_forward(&geo.dims, q, k, v, bias, o, lse, a.scratch);
        Ok(())
    }

    /// The backward's inputs: the forward's inputs, output, log-sum-exp and dO.
    fn saved<'a, E: Element>(geo: &AttentionGeometry, a: &KernelArgs<'a, E>) -> Saved<'a, E> {
        let [q, k, v] = qkv(geo, &a.ins);
        Saved {
            q,
            k,
            v,
            bias: geo.bias.zip(bias_map(geo, a)).map(|(j, m)| (a.ins[j], m)),
            o: a.ins[geo.saved],
            lse: a.ins[geo.saved + 1],
            d_o: a.ins[geo.saved + 2],
        }
    }

    fn backward<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let geo = AttentionGeometry::of(a.graph, a.node);
        let sv = saved(&geo, &a);
        let [dq, dk, dv, _] = a.outs;
        let grads = if geo.packed {
            Grads::Packed(dq)
        } else {
            Grads::Split(dq, dk, dv)
        };
        flash_backward(&geo.dims, &sv, grads, a.scratch);
        Ok(())
    }

    fn backward_bias<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let geo = AttentionGeometry::of(a.graph, a.node);
        let sv = saved(&geo, &a);
        let [dbias, ..] = a.outs;
        flash_backward_bias(&geo.dims, &sv, dbias, a.scratch);
        Ok(())
    }

    /// What only the CPU kernel asks of the geometry.
    impl AttentionDims {
        /// Batches per parallel task.
        fn per_task(&self) -> usize {
            self.batch.div_ceil(TASKS).max(1)
        }

        fn mat<'a, E>(
            &self,
            data: &'a [E],
            p: &Place,
            b: usize,
            h: usize,
            rows: usize,
            cols: usize,
        ) -> MatRef<'a, E> {
            MatRef {
                data: &data[p.at(b, h)..],
                rows,
                cols,
                rs: p.rs,
                cs: 1,
            }
        }
    }

    /// Where the additive bias of group `g`, row `i`, key `j` lives: `base(g) + i·si + j·sj`.
    #[derive(Clone, Copy, Debug)]
    struct BiasMap {
        lead_dims: [usize; 6],
        lead_strides: [usize; 6],
        rank: usize,
        si: usize,
        sj: usize,
    }

    impl BiasMap {
        /// `bias` broadcast to `scores = [lead.., Lq, Lk]` whose flattened lead dims are the groups.
        fn new(bias: &[usize], scores: &[usize]) -> Self {
            let r = scores.len();
            assert!(r <= 8, "attention with more than 6 leading dims");
            let off = r - bias.len();
            let mut strides = [0usize; 8];
            let mut st = 1;
            for i in (0..bias.len()).rev() {
                if !(bias[i] == 1 && scores[i + off] != 1) {
                    strides[i + off] = st;
                }
                st *= bias[i];
            }
            let mut lead_dims = [1; 6];
            let mut lead_strides = [0; 6];
            lead_dims[..r - 2].copy_from_slice(&scores[..r - 2]);
            lead_strides[..r - 2].copy_from_slice(&strides[..r - 2]);
            Self {
                lead_dims,
                lead_strides,
                rank: r - 2,
                si: strides[r - 2],
                sj: strides[r - 1],
            }
        }

        fn base(&self, g: usize) -> usize {
            let (mut rem, mut off) = (g, 0);
            for d in (0..self.rank).rev() {
                off += (rem % self.lead_dims[d]) * self.lead_strides[d];
                rem /= self.lead_dims[d];
            }
            off
        }
    }

    /// `s = scale·q kᵀ + bias` for group (b, h) into `s [lq, lk]`.
    #[inline(always)]
    fn scores<E: Element>(
        dm: &AttentionDims,
        q: &[E],
        k: &[E],
        bias: Option<(&[E], &BiasMap)>,
        (b, h): (usize, usize),
        s: &mut [E],
    ) {
        let qv = dm.mat(q, &dm.q, b, h, dm.lq, dm.d);
        let mut kv = dm.mat(k, &dm.k, b, h, dm.lk, dm.d);
        (kv.rows, kv.cols, kv.rs, kv.cs) = (dm.d, dm.lk, 1, dm.k.rs);
        gemm(s, dm.lk, qv, kv, E::from_f64(dm.scale), false);
        if let Some((bv, map)) = bias {
            let base = map.base(b * dm.heads + h);
            for i in 0..dm.lq {
                let row = &mut s[i * dm.lk..(i + 1) * dm.lk];
                let rb = base + i * map.si;
                if map.sj == 1 {
                    for (x, &v) in row.iter_mut().zip(&bv[rb..rb + dm.lk]) {
                        *x = *x + v;
                    }
                } else {
                    for (j, x) in row.iter_mut().enumerate() {
                        *x = *x + bv[rb + j * map.sj];
                    }
                }
            }
        }
    }

    /// Forward: `o` and the row log-sum-exp `lse [B·H, lq]`.
    #[allow(clippy::too_many_arguments)]
    fn flash_forward<E: Element>(
        dm: &AttentionDims,
        q: &[E],
        k: &[E],
        v: &[E],
        bias: Option<(&[E], &BiasMap)>,
        o: &mut [E],
        lse: &mut [E],
        scratch: &mut [E],
    ) {
        let pt = dm.per_task();
        let tile = 2 * dm.lq * dm.lk;
        o.par_chunks_mut(pt * dm.o.bs)
            .zip(lse.par_chunks_mut(pt * dm.heads * dm.lq))
            .zip(scratch.par_chunks_mut(tile))
            .enumerate()
            .for_each(|(t, ((o, lse), sc))| {
                vectorized(ForwardTask {
                    dm,
                    q,
                    k,
                    v,
                    bias,
                    b0: t * pt,
                    o,
                    lse,
                    s: &mut sc[..dm.lq * dm.lk],
                })
            });
    }

    /// The forward of one task's batches, compiled for the CPU's SIMD (the softmax's
    /// exponentials and reductions vectorize; the products are the GEMM's).
    struct ForwardTask<'a, 'o, E> {
        dm: &'a AttentionDims,
        q: &'a [E],
        k: &'a [E],
        v: &'a [E],
        bias: Option<(&'a [E], &'a BiasMap)>,
        b0: usize,
        o: &'o mut [E],
        lse: &'o mut [E],
        s: &'o mut [E],
    }

    impl<E: Element> SimdLoop for ForwardTask<'_, '_, E> {
        type Output = ();

        #[inline(always)]
        fn run(self) {
            let ForwardTask {
                dm,
                q,
                k,
                v,
                bias,
                b0,
                o,
                lse,
                s,
            } = self;
            let nb = lse.len() / (dm.heads * dm.lq);
            for bl in 0..nb {
                let b = b0 + bl;
                for h in 0..dm.heads {
                    scores(dm, q, k, bias, (b, h), s);
                    let lg = &mut lse[(bl * dm.heads + h) * dm.lq..][..dm.lq];
                    for (row, l) in s.chunks_mut(dm.lk).zip(lg.iter_mut()) {
                        let mx = lane_max(row);
                        row.iter_mut().for_each(|x| *x = (*x - mx).exp_fast());
                        let sum = lane_sum(row);
                        let inv = sum.recip();
                        row.iter_mut().for_each(|x| *x = *x * inv);
                        *l = mx + sum.ln();
                    }
                    let pv = MatRef::row_major(&*s, dm.lq, dm.lk, false);
                    let vv = dm.mat(v, &dm.v, b, h, dm.lk, dm.dv);
                    let at = dm.o.off + bl * dm.o.bs + h * dm.o.hs;
                    gemm(&mut o[at..], dm.o.rs, pv, vv, E::one(), false);
                }
            }
        }
    }

    /// Inputs of the backward of one attention op.
    struct Saved<'a, E> {
        q: &'a [E],
        k: &'a [E],
        v: &'a [E],
        bias: Option<(&'a [E], BiasMap)>,
        o: &'a [E],
        lse: &'a [E],
        d_o: &'a [E],
    }

    /// Recomputes P and dS = P ∘ (dO vᵀ − rowsum(dO ∘ O)) of group (b, h) into `p`, `ds`.
    #[inline(always)]
    fn probs_and_dscores<E: Element>(
        dm: &AttentionDims,
        sv: &Saved<'_, E>,
        (b, h): (usize, usize),
        p: &mut [E],
        ds: &mut [E],
    ) {
        let bias = sv.bias.as_ref().map(|(bv, m)| (*bv, m));
        scores(dm, sv.q, sv.k, bias, (b, h), p);
        let g = b * dm.heads + h;
        let lse = &sv.lse[g * dm.lq..(g + 1) * dm.lq];
        for (row, &l) in p.chunks_mut(dm.lk).zip(lse) {
            row.iter_mut().for_each(|x| *x = (*x - l).exp_fast());
        }
        let dov = dm.mat(sv.d_o, &dm.o, b, h, dm.lq, dm.dv);
        let mut vt = dm.mat(sv.v, &dm.v, b, h, dm.lk, dm.dv);
        (vt.rows, vt.cols, vt.rs, vt.cs) = (dm.dv, dm.lk, 1, dm.v.rs);
        gemm(ds, dm.lk, dov, vt, E::one(), false);
        let base = dm.o.at(b, h);
        for i in 0..dm.lq {
            let r = base + i * dm.o.rs;
            let di = lane_sum2(&sv.d_o[r..r + dm.dv], &sv.o[r..r + dm.dv], |a, b| a * b);
            let (pr, dr) = (
                &p[i * dm.lk..(i + 1) * dm.lk],
                &mut ds[i * dm.lk..(i + 1) * dm.lk],
            );
            for (d, &pv) in dr.iter_mut().zip(pr) {
                *d = pv * (*d - di);
            }
        }
    }

    /// Destinations of the backward: three buffers laid out like q, k, v (split), or one
    /// buffer laid out like the packed qkv.
    enum Grads<'a, E> {
        Split(&'a mut [E], &'a mut [E], &'a mut [E]),
        Packed(&'a mut [E]),
    }

    /// The per-task destinations of the backward (`w` = 0: dq, 1: dk, 2: dv).
    enum Dst<'a, E> {
        Split([&'a mut [E]; 3]),
        Packed(&'a mut [E]),
    }

    impl<E> Dst<'_, E> {
        fn get(&mut self, w: usize) -> &mut [E] {
            match self {
                Dst::Split(bufs) => &mut *bufs[w],
                Dst::Packed(buf) => buf,
            }
        }
    }

    /// Backward of batches `b0 ..` (`nb` of them) into the task's destination chunks,
    /// compiled for the CPU's SIMD.
    fn backward_task<E: Element>(
        dm: &AttentionDims,
        sv: &Saved<'_, E>,
        b0: usize,
        nb: usize,
        dst: &mut Dst<'_, E>,
        sc: &mut [E],
    ) {
        struct Task<'a, 'b, 'c, E>(
            &'a AttentionDims,
            &'a Saved<'a, E>,
            usize,
            usize,
            &'b mut Dst<'c, E>,
            &'b mut [E],
        );
        impl<E: Element> SimdLoop for Task<'_, '_, '_, E> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                let Task(dm, sv, b0, nb, dst, sc) = self;
                backward_batches(dm, sv, b0, nb, dst, sc)
            }
        }
        vectorized(Task(dm, sv, b0, nb, dst, sc))
    }

    #[inline(always)]
    fn backward_batches<E: Element>(
        dm: &AttentionDims,
        sv: &Saved<'_, E>,
        b0: usize,
        nb: usize,
        dst: &mut Dst<'_, E>,
        sc: &mut [E],
    ) {
        let scale = E::from_f64(dm.scale);
        let (p, ds) = sc.split_at_mut(dm.lq * dm.lk);
        let places = [dm.q, dm.k, dm.v];
        let at = |w: usize, bl: usize, h: usize| {
            let pl: Place = places[w];
            (pl.off + bl * pl.bs + h * pl.hs, pl.rs)
        };
        for bl in 0..nb {
            let b = b0 + bl;
            for h in 0..dm.heads {
                probs_and_dscores(dm, sv, (b, h), p, ds);
                let pt_ = MatRef::row_major(&*p, dm.lq, dm.lk, true);
                let dov = dm.mat(sv.d_o, &dm.o, b, h, dm.lq, dm.dv);
                let (o, rs) = at(2, bl, h);
                gemm(&mut dst.get(2)[o..], rs, pt_, dov, E::one(), false);
                let dsv = MatRef::row_major(&*ds, dm.lq, dm.lk, false);
                let kv = dm.mat(sv.k, &dm.k, b, h, dm.lk, dm.d);
                let (o, rs) = at(0, bl, h);
                gemm(&mut dst.get(0)[o..], rs, dsv, kv, scale, false);
                let dst_ = MatRef::row_major(&*ds, dm.lq, dm.lk, true);
                let qv = dm.mat(sv.q, &dm.q, b, h, dm.lq, dm.d);
                let (o, rs) = at(1, bl, h);
                gemm(&mut dst.get(1)[o..], rs, dst_, qv, scale, false);
            }
        }
    }

    /// Backward: dq, dk, dv.
    fn flash_backward<E: Element>(
        dm: &AttentionDims,
        sv: &Saved<'_, E>,
        out: Grads<'_, E>,
        scratch: &mut [E],
    ) {
        let pt = dm.per_task();
        let tile = 2 * dm.lq * dm.lk;
        match out {
            Grads::Split(dq, dk, dv) => {
                dq.par_chunks_mut(pt * dm.q.bs)
                    .zip(dk.par_chunks_mut(pt * dm.k.bs))
                    .zip(dv.par_chunks_mut(pt * dm.v.bs))
                    .zip(scratch.par_chunks_mut(tile))
                    .enumerate()
                    .for_each(|(t, (((dq, dk), dv), sc))| {
                        let nb = dq.len() / dm.q.bs;
                        backward_task(dm, sv, t * pt, nb, &mut Dst::Split([dq, dk, dv]), sc);
                    });
            }
            Grads::Packed(dqkv) => {
                dqkv.par_chunks_mut(pt * dm.q.bs)
                    .zip(scratch.par_chunks_mut(tile))
                    .enumerate()
                    .for_each(|(t, (chunk, sc))| {
                        let nb = chunk.len() / dm.q.bs;
                        backward_task(dm, sv, t * pt, nb, &mut Dst::Packed(chunk), sc);
                    });
            }
        }
    }

    /// Gradient of the additive bias: dS summed into the bias's own (broadcast) shape. Serial
    /// over groups because groups share bias entries.
    fn flash_backward_bias<E: Element>(
        dm: &AttentionDims,
        sv: &Saved<'_, E>,
        dbias: &mut [E],
        scratch: &mut [E],
    ) {
        let map = sv.bias.as_ref().expect("a bias gradient has a bias").1;
        dbias.fill(E::zero());
        let (p, ds) = scratch[..2 * dm.lq * dm.lk].split_at_mut(dm.lq * dm.lk);
        for g in 0..dm.groups() {
            let (b, h) = (g / dm.heads, g % dm.heads);
            probs_and_dscores(dm, sv, (b, h), p, ds);
            let base = map.base(g);
            for i in 0..dm.lq {
                for j in 0..dm.lk {
                    let d = &mut dbias[base + i * map.si + j * map.sj];
                    *d = *d + ds[i * dm.lk + j];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AttentionDims;

    #[test]
    fn packed_places_address_the_qkv_projection() {
        // qkv [B=2, L=3, 3·H·d] with H=4, d=8: row i of head h of q[b] is at b·3·96·… .
        let dm = AttentionDims::packed(2, 3, 4, 8, 0.5);
        let (dd, l) = (32, 3);
        assert_eq!(dm.k.off, dd);
        assert_eq!(dm.v.off, 2 * dd);
        assert_eq!((dm.q.bs, dm.q.hs, dm.q.rs), (l * 3 * dd, 8, 3 * dd));
        // The last element of the last v row of the last head of the last batch is the
        // projection's last element.
        assert_eq!(dm.v.extent(2, 4, 3, 8), 2 * l * 3 * dd);
        assert_eq!(dm.o.extent(2, 4, 3, 8), 2 * l * dd);
    }
}
