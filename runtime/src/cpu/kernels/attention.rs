//! Fused attention: per (batch·head) group, scores are computed into a per-task scratch tile
//! (never into the plan's arena), the forward keeps only the row log-sum-exp, and the
//! backward recomputes the probabilities from it (FlashAttention's recipe, with whole-row
//! tiles because CPU rows are short).
use rayon::prelude::*;

use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::Element;

/// Parallel tasks of an attention launch (fixed so scratch size depends only on the plan).
pub const TASKS: usize = 8;

/// Geometry of one attention op.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    /// Number of (batch·head) groups.
    pub g: usize,
    pub lq: usize,
    pub lk: usize,
    pub d: usize,
    pub dv: usize,
    pub scale: f64,
}

impl Dims {
    /// Scratch elements a launch needs: two score tiles per task.
    pub fn scratch(&self) -> usize {
        TASKS * 2 * self.lq * self.lk
    }
    fn per_task(&self) -> usize {
        self.g.div_ceil(TASKS).max(1)
    }
}

/// Where the additive bias of group `g`, row `i`, key `j` lives: `base[g] + i·si + j·sj`.
#[derive(Clone, Copy, Debug)]
pub struct BiasMap {
    lead_dims: [usize; 6],
    lead_strides: [usize; 6],
    rank: usize,
    si: usize,
    sj: usize,
}

impl BiasMap {
    /// `bias` broadcast to `scores = [lead.., Lq, Lk]`.
    pub fn new(bias: &[usize], scores: &[usize]) -> Self {
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

/// `s = scale·q kᵀ + bias` for group `g` into `s [lq, lk]`.
fn scores<E: Element>(
    dm: &Dims,
    q: &[E],
    k: &[E],
    bias: Option<(&[E], &BiasMap)>,
    g: usize,
    s: &mut [E],
) {
    let qg = &q[g * dm.lq * dm.d..(g + 1) * dm.lq * dm.d];
    let kg = &k[g * dm.lk * dm.d..(g + 1) * dm.lk * dm.d];
    let qv = MatRef::row_major(qg, dm.lq, dm.d, false);
    let kv = MatRef::row_major(kg, dm.lk, dm.d, true);
    gemm(s, dm.lk, qv, kv, E::from_f64(dm.scale), false);
    if let Some((b, map)) = bias {
        let base = map.base(g);
        for i in 0..dm.lq {
            let row = &mut s[i * dm.lk..(i + 1) * dm.lk];
            let rb = base + i * map.si;
            if map.sj == 1 {
                for (x, &bv) in row.iter_mut().zip(&b[rb..rb + dm.lk]) {
                    *x = *x + bv;
                }
            } else {
                for (j, x) in row.iter_mut().enumerate() {
                    *x = *x + b[rb + j * map.sj];
                }
            }
        }
    }
}

/// Forward: `o [g, lq, dv]` and the row log-sum-exp `lse [g, lq]`.
#[allow(clippy::too_many_arguments)]
pub fn forward<E: Element>(
    dm: &Dims,
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
    o.par_chunks_mut(pt * dm.lq * dm.dv)
        .zip(lse.par_chunks_mut(pt * dm.lq))
        .zip(scratch.par_chunks_mut(tile))
        .enumerate()
        .for_each(|(t, ((o, lse), sc))| {
            let s = &mut sc[..dm.lq * dm.lk];
            for (gi, (og, lg)) in o
                .chunks_mut(dm.lq * dm.dv)
                .zip(lse.chunks_mut(dm.lq))
                .enumerate()
            {
                let g = t * pt + gi;
                scores(dm, q, k, bias, g, s);
                for (row, l) in s.chunks_mut(dm.lk).zip(lg.iter_mut()) {
                    let mx = row.iter().copied().fold(E::neg_infinity(), E::max);
                    let mut sum = E::zero();
                    for x in row.iter_mut() {
                        *x = (*x - mx).exp();
                        sum = sum + *x;
                    }
                    let inv = sum.recip();
                    row.iter_mut().for_each(|x| *x = *x * inv);
                    *l = mx + sum.ln();
                }
                let vg = &v[g * dm.lk * dm.dv..(g + 1) * dm.lk * dm.dv];
                let pv = MatRef::row_major(&*s, dm.lq, dm.lk, false);
                let vv = MatRef::row_major(vg, dm.lk, dm.dv, false);
                gemm(og, dm.dv, pv, vv, E::one(), false);
            }
        });
}

/// Inputs of the backward of one attention op.
pub struct Saved<'a, E> {
    pub q: &'a [E],
    pub k: &'a [E],
    pub v: &'a [E],
    pub bias: Option<(&'a [E], BiasMap)>,
    pub o: &'a [E],
    pub lse: &'a [E],
    pub d_o: &'a [E],
}

/// Recomputes P and dS = P ∘ (dO vᵀ − rowsum(dO ∘ O)) of group `g` into `p`, `ds`.
fn probs_and_dscores<E: Element>(
    dm: &Dims,
    sv: &Saved<'_, E>,
    g: usize,
    p: &mut [E],
    ds: &mut [E],
) {
    let bias = sv.bias.as_ref().map(|(b, m)| (*b, m));
    scores(dm, sv.q, sv.k, bias, g, p);
    let lse = &sv.lse[g * dm.lq..(g + 1) * dm.lq];
    for (row, &l) in p.chunks_mut(dm.lk).zip(lse) {
        row.iter_mut().for_each(|x| *x = (*x - l).exp());
    }
    let rows = g * dm.lq * dm.dv..(g + 1) * dm.lq * dm.dv;
    let dog = &sv.d_o[rows.clone()];
    let og = &sv.o[rows];
    let vg = &sv.v[g * dm.lk * dm.dv..(g + 1) * dm.lk * dm.dv];
    let dov = MatRef::row_major(dog, dm.lq, dm.dv, false);
    let vt = MatRef::row_major(vg, dm.lk, dm.dv, true);
    gemm(ds, dm.lk, dov, vt, E::one(), false);
    for i in 0..dm.lq {
        let di: E = (0..dm.dv)
            .map(|c| dog[i * dm.dv + c] * og[i * dm.dv + c])
            .sum();
        let (pr, dr) = (
            &p[i * dm.lk..(i + 1) * dm.lk],
            &mut ds[i * dm.lk..(i + 1) * dm.lk],
        );
        for (d, &pv) in dr.iter_mut().zip(pr) {
            *d = pv * (*d - di);
        }
    }
}

/// Backward: dq, dk, dv.
pub fn backward<E: Element>(
    dm: &Dims,
    sv: &Saved<'_, E>,
    dq: &mut [E],
    dk: &mut [E],
    dv: &mut [E],
    scratch: &mut [E],
) {
    let pt = dm.per_task();
    let tile = 2 * dm.lq * dm.lk;
    let scale = E::from_f64(dm.scale);
    dq.par_chunks_mut(pt * dm.lq * dm.d)
        .zip(dk.par_chunks_mut(pt * dm.lk * dm.d))
        .zip(dv.par_chunks_mut(pt * dm.lk * dm.dv))
        .zip(scratch.par_chunks_mut(tile))
        .enumerate()
        .for_each(|(t, (((dq, dk), dv), sc))| {
            let (p, ds) = sc.split_at_mut(dm.lq * dm.lk);
            let it = dq
                .chunks_mut(dm.lq * dm.d)
                .zip(dk.chunks_mut(dm.lk * dm.d))
                .zip(dv.chunks_mut(dm.lk * dm.dv))
                .enumerate();
            for (gi, ((dqg, dkg), dvg)) in it {
                let g = t * pt + gi;
                probs_and_dscores(dm, sv, g, p, ds);
                let dog = &sv.d_o[g * dm.lq * dm.dv..(g + 1) * dm.lq * dm.dv];
                let qg = &sv.q[g * dm.lq * dm.d..(g + 1) * dm.lq * dm.d];
                let kg = &sv.k[g * dm.lk * dm.d..(g + 1) * dm.lk * dm.d];
                let pt_ = MatRef::row_major(&*p, dm.lq, dm.lk, true);
                let dov = MatRef::row_major(dog, dm.lq, dm.dv, false);
                gemm(dvg, dm.dv, pt_, dov, E::one(), false);
                let dsv = MatRef::row_major(&*ds, dm.lq, dm.lk, false);
                let kv = MatRef::row_major(kg, dm.lk, dm.d, false);
                gemm(dqg, dm.d, dsv, kv, scale, false);
                let dst = MatRef::row_major(&*ds, dm.lq, dm.lk, true);
                let qv = MatRef::row_major(qg, dm.lq, dm.d, false);
                gemm(dkg, dm.d, dst, qv, scale, false);
            }
        });
}

/// Gradient of the additive bias: dS summed into the bias's own (broadcast) shape. Serial
/// over groups because groups share bias entries.
pub fn backward_bias<E: Element>(dm: &Dims, sv: &Saved<'_, E>, dbias: &mut [E], scratch: &mut [E]) {
    let map = sv.bias.as_ref().expect("bias gradient without a bias").1;
    dbias.fill(E::zero());
    let (p, ds) = scratch[..2 * dm.lq * dm.lk].split_at_mut(dm.lq * dm.lk);
    for g in 0..dm.g {
        probs_and_dscores(dm, sv, g, p, ds);
        let base = map.base(g);
        for i in 0..dm.lq {
            for j in 0..dm.lk {
                let b = &mut dbias[base + i * map.si + j * map.sj];
                *b = *b + ds[i * dm.lk + j];
            }
        }
    }
}
