//! Permute and roll: strided copies done a contiguous run at a time.
use rayon::prelude::*;

use crate::cpu::Element;

const MAXR: usize = 8;

/// Row-major strides.
fn strides(shape: &[usize]) -> [usize; MAXR] {
    let mut s = [0; MAXR];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        s[i] = acc;
        acc *= shape[i];
    }
    s
}

/// Output axis j is input axis `axes[j]`. Copies one output row (last dim) at a time.
pub fn permute<E: Element>(x: &[E], in_shape: &[usize], axes: &[usize], out: &mut [E]) {
    let r = in_shape.len();
    assert!(r <= MAXR, "permute of more than {MAXR} dims");
    let ist = strides(in_shape);
    let mut od = [1; MAXR];
    let mut os = [0; MAXR];
    for (j, &a) in axes.iter().enumerate() {
        od[j] = in_shape[a];
        os[j] = ist[a];
    }
    let inner = od[r - 1];
    let step = os[r - 1];
    let rows_per = (4096 / inner.max(1)).max(1);
    out.par_chunks_mut(rows_per * inner)
        .enumerate()
        .for_each(|(t, o)| {
            for (ri, orow) in o.chunks_mut(inner).enumerate() {
                let (mut rem, mut base) = (t * rows_per + ri, 0);
                for d in (0..r - 1).rev() {
                    base += (rem % od[d]) * os[d];
                    rem /= od[d];
                }
                if step == 1 {
                    orow.copy_from_slice(&x[base..base + inner]);
                } else {
                    for (c, v) in orow.iter_mut().enumerate() {
                        *v = x[base + c * step];
                    }
                }
            }
        });
}

/// `out[.., (i + s) mod n, ..] = x[.., i, ..]` for every `(axis, s)` (s already in 0..n).
pub fn roll<E: Element>(x: &[E], shape: &[usize], shifts: &[(usize, isize)], out: &mut [E]) {
    let r = shape.len();
    let st = strides(shape);
    let mut sh = [0usize; MAXR];
    for &(a, s) in shifts {
        sh[a] = s as usize;
    }
    let inner = shape[r - 1];
    let last_shift = sh[r - 1];
    let rows_per = (4096 / inner.max(1)).max(1);
    out.par_chunks_mut(rows_per * inner)
        .enumerate()
        .for_each(|(t, o)| {
            for (ri, orow) in o.chunks_mut(inner).enumerate() {
                let (mut rem, mut base) = (t * rows_per + ri, 0);
                for d in (0..r - 1).rev() {
                    let i = rem % shape[d];
                    rem /= shape[d];
                    // Output index i reads input index (i − s) mod n.
                    base += ((i + shape[d] - sh[d]) % shape[d]) * st[d];
                }
                let src = &x[base..base + inner];
                // out[c] = src[(c − s) mod n]: two contiguous pieces.
                let s = last_shift;
                orow[s..].copy_from_slice(&src[..inner - s]);
                orow[..s].copy_from_slice(&src[inner - s..]);
            }
        });
}
