//! `sum_to`: summing over broadcast dims (bias gradients, `sum`, `mean`).
use rayon::prelude::*;

use crate::cpu::Element;

const MAXR: usize = 8;

/// Sums `x [in_shape]` into `out [out_shape]` (out broadcasts to in).
pub fn sum_to<E: Element>(x: &[E], in_shape: &[usize], out_shape: &[usize], out: &mut [E]) {
    // Collapse into runs of kept / reduced dims (aligned right).
    let r = in_shape.len();
    let off = r - out_shape.len();
    let kept = |i: usize| i >= off && out_shape[i - off] == in_shape[i];
    let mut dims = [0usize; MAXR];
    let mut keep = [false; MAXR];
    let mut n = 0;
    for (i, &len) in in_shape.iter().enumerate() {
        if len == 1 {
            continue;
        }
        let k = kept(i);
        if n > 0 && keep[n - 1] == k {
            dims[n - 1] *= len;
        } else {
            assert!(n < MAXR, "sum_to over too many dim runs");
            dims[n] = len;
            keep[n] = k;
            n += 1;
        }
    }
    match (n, &keep[..n]) {
        (0, _) => out.copy_from_slice(&x[..out.len()]),
        (1, [false]) => out[0] = x.par_iter().copied().sum(),
        (1, [true]) => out.copy_from_slice(x),
        (2, [false, true]) => column_sums(x, dims[0], dims[1], out),
        (2, [true, false]) => {
            let c = dims[1];
            out.par_iter_mut()
                .enumerate()
                .for_each(|(i, o)| *o = x[i * c..(i + 1) * c].iter().copied().sum());
        }
        _ => general(x, &dims[..n], &keep[..n], out),
    }
}

/// `out[c] = Σ_r x[r, c]`, parallel over column ranges.
fn column_sums<E: Element>(x: &[E], rows: usize, cols: usize, out: &mut [E]) {
    let per = (cols / 4).max(64);
    out.par_chunks_mut(per).enumerate().for_each(|(t, o)| {
        let c0 = t * per;
        o.fill(E::zero());
        for r in 0..rows {
            let xr = &x[r * cols + c0..r * cols + c0 + o.len()];
            for (a, &v) in o.iter_mut().zip(xr) {
                *a = *a + v;
            }
        }
    });
}

fn general<E: Element>(x: &[E], dims: &[usize], keep: &[bool], out: &mut [E]) {
    let n = dims.len();
    let mut ost = [0usize; MAXR];
    let mut acc = 1;
    for i in (0..n).rev() {
        if keep[i] {
            ost[i] = acc;
            acc *= dims[i];
        }
    }
    out.fill(E::zero());
    for (flat, &v) in x.iter().enumerate() {
        let (mut rem, mut o) = (flat, 0);
        for i in (0..n).rev() {
            o += (rem % dims[i]) * ost[i];
            rem /= dims[i];
        }
        out[o] = out[o] + v;
    }
}
