//! Row gather/scatter by u32 index and axis-wise concat/slice/pad copies.
use rayon::prelude::*;

use crate::cpu::Element;
use crate::BackendError;

/// `out[b, k] = x[b', idx[b'', k]]` (batch 1 operands broadcast); `x [bx, l, d]`, `idx [bi, kk]`.
pub fn gather_rows<E: Element>(
    x: &[E],
    (bx, l, d): (usize, usize, usize),
    idx: &[u32],
    bi: usize,
    out: &mut [E],
) -> Result<(), BackendError> {
    let kk = idx.len() / bi.max(1);
    if let Some(&bad) = idx.iter().find(|&&i| i as usize >= l) {
        return Err(BackendError::IndexOutOfRange {
            op: "gather_rows",
            index: bad,
            len: l,
        });
    }
    out.par_chunks_mut(kk * d).enumerate().for_each(|(b, ob)| {
        let xb = if bx == 1 { 0 } else { b };
        let ib = if bi == 1 { 0 } else { b };
        for (k, orow) in ob.chunks_mut(d).enumerate() {
            let r = idx[ib * kk + k] as usize;
            orow.copy_from_slice(&x[(xb * l + r) * d..(xb * l + r + 1) * d]);
        }
    });
    Ok(())
}

/// Zero `out [bo, len, d]`, then `out[b, idx[b, k]] += src[b, k]` (bo = 1 sums all batches).
pub fn scatter_rows<E: Element>(
    src: &[E],
    (bs, kk, d): (usize, usize, usize),
    idx: &[u32],
    bi: usize,
    out: &mut [E],
    len: usize,
) -> Result<(), BackendError> {
    if let Some(&bad) = idx.iter().find(|&&i| i as usize >= len) {
        return Err(BackendError::IndexOutOfRange {
            op: "scatter_rows",
            index: bad,
            len,
        });
    }
    let bo = out.len() / (len * d).max(1);
    let add_batch = |ob: &mut [E], b: usize| {
        let ib = if bi == 1 { 0 } else { b };
        for k in 0..kk {
            let r = idx[ib * kk + k] as usize;
            let s = &src[(b * kk + k) * d..(b * kk + k + 1) * d];
            for (o, &v) in ob[r * d..(r + 1) * d].iter_mut().zip(s) {
                *o = *o + v;
            }
        }
    };
    if bo == bs {
        out.par_chunks_mut(len * d).enumerate().for_each(|(b, ob)| {
            ob.fill(E::zero());
            add_batch(ob, b);
        });
    } else {
        out.fill(E::zero());
        for b in 0..bs {
            add_batch(out, b);
        }
    }
    Ok(())
}

/// Splits `shape` around `axis` into (outer, axis length, inner).
pub fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// Copies `src` (viewed `[outer, n_src·inner]`) into `dst` (viewed `[outer, n_dst·inner]`)
/// at axis offset `dst_off`, or out of `src` at `src_off` — one block copy per outer index.
#[allow(clippy::too_many_arguments)]
pub fn copy_blocks<E: Element>(
    src: &[E],
    n_src: usize,
    src_off: usize,
    dst: &mut [E],
    n_dst: usize,
    dst_off: usize,
    n: usize,
    inner: usize,
) {
    let outer = dst.len() / (n_dst * inner).max(1);
    let row = n * inner;
    for o in 0..outer {
        let s = (o * n_src + src_off) * inner;
        let d = (o * n_dst + dst_off) * inner;
        dst[d..d + row].copy_from_slice(&src[s..s + row]);
    }
}
