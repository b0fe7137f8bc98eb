//! Fused attention: per (batch, head) group, scores are computed into a per-task scratch tile
//! (never into the plan's arena), the forward keeps only the row log-sum-exp, and the
//! backward recomputes the probabilities from it (FlashAttention's recipe, with whole-row
//! tiles because CPU rows are short). Operands are strided views described by a [`Layout`],
//! so the packed self-attention reads q, k, v straight out of the qkv projection
//! `[B, L, 3, H, d]` and writes `[B, L, H, d]` without any permute copies.
use rayon::prelude::*;

use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::Element;

/// Parallel tasks of an attention launch (fixed so scratch size depends only on the plan).
pub const TASKS: usize = 8;

/// Where group (b, h)'s rows of one operand live: row i at `off + b·bs + h·hs + i·rs`.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub off: usize,
    pub bs: usize,
    pub hs: usize,
    pub rs: usize,
}

impl Place {
    fn at(&self, b: usize, h: usize) -> usize {
        self.off + b * self.bs + h * self.hs
    }
}

/// Geometry and layout of one attention op. Groups are (b, h) with `g = b·heads + h`.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
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
    /// Layout of `o`, `do` (and of nothing else).
    pub o: Place,
}

impl Dims {
    /// Separate `[G, L, d]` operands (G = product of the leading dims).
    pub fn split(g: usize, lq: usize, lk: usize, d: usize, dv: usize, scale: f64) -> Self {
        let p = |l: usize, w: usize| Place {
            off: 0,
            bs: l * w,
            hs: 0,
            rs: w,
        };
        Self {
            batch: g,
            heads: 1,
            lq,
            lk,
            d,
            dv,
            scale,
            q: p(lq, d),
            k: p(lk, d),
            v: p(lk, dv),
            o: p(lq, dv),
        }
    }

    /// Self-attention on a packed `qkv [B, L, 3·H·d]` (timm channel order s·D + h·d + i),
    /// output `[B, L, H·d]`.
    pub fn packed(batch: usize, l: usize, heads: usize, d: usize, scale: f64) -> Self {
        let dd = heads * d;
        let p = |s: usize| Place {
            off: s * dd,
            bs: l * 3 * dd,
            hs: d,
            rs: 3 * dd,
        };
        Self {
            batch,
            heads,
            lq: l,
            lk: l,
            d,
            dv: d,
            scale,
            q: p(0),
            k: p(1),
            v: p(2),
            o: Place {
                off: 0,
                bs: l * dd,
                hs: d,
                rs: dd,
            },
        }
    }

    fn groups(&self) -> usize {
        self.batch * self.heads
    }

    /// Scratch elements a launch needs: two score tiles per task.
    pub fn scratch(&self) -> usize {
        TASKS * 2 * self.lq * self.lk
    }

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
pub struct BiasMap {
    lead_dims: [usize; 6],
    lead_strides: [usize; 6],
    rank: usize,
    si: usize,
    sj: usize,
}

impl BiasMap {
    /// `bias` broadcast to `scores = [lead.., Lq, Lk]` whose flattened lead dims are the groups.
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

/// `s = scale·q kᵀ + bias` for group (b, h) into `s [lq, lk]`.
fn scores<E: Element>(
    dm: &Dims,
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
    o.par_chunks_mut(pt * dm.o.bs)
        .zip(lse.par_chunks_mut(pt * dm.heads * dm.lq))
        .zip(scratch.par_chunks_mut(tile))
        .enumerate()
        .for_each(|(t, ((o, lse), sc))| {
            let s = &mut sc[..dm.lq * dm.lk];
            let nb = lse.len() / (dm.heads * dm.lq);
            for bl in 0..nb {
                let b = t * pt + bl;
                for h in 0..dm.heads {
                    scores(dm, q, k, bias, (b, h), s);
                    let lg = &mut lse[(bl * dm.heads + h) * dm.lq..][..dm.lq];
                    for (row, l) in s.chunks_mut(dm.lk).zip(lg.iter_mut()) {
                        let mx = row.iter().copied().fold(E::neg_infinity(), E::max);
                        let mut sum = E::zero();
                        for x in row.iter_mut() {
                            *x = (*x - mx).exp_fast();
                            sum = sum + *x;
                        }
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

/// Recomputes P and dS = P ∘ (dO vᵀ − rowsum(dO ∘ O)) of group (b, h) into `p`, `ds`.
fn probs_and_dscores<E: Element>(
    dm: &Dims,
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
        let di: E = (0..dm.dv).map(|c| sv.d_o[r + c] * sv.o[r + c]).sum();
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
pub enum Grads<'a, E> {
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

/// Backward of batches `t·pt ..` (`nb` of them) into the task's destination chunks.
fn backward_task<E: Element>(
    dm: &Dims,
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
pub fn backward<E: Element>(dm: &Dims, sv: &Saved<'_, E>, out: Grads<'_, E>, scratch: &mut [E]) {
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
pub fn backward_bias<E: Element>(dm: &Dims, sv: &Saved<'_, E>, dbias: &mut [E], scratch: &mut [E]) {
    let map = sv.bias.as_ref().expect("bias gradient without a bias").1;
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
