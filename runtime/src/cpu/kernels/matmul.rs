//! Batched matmul with transposes through the `gemm` crate (transposes are strides, never
//! copies); a shared 2-D right operand folds the batch into rows so one big GEMM runs.
use rayon::prelude::*;

use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::Element;

/// `out = alpha · op(a) · op(b) (+ bias[N] on every row)` for the shapes checked by the
/// graph builder. With a bias the rows are first filled with it and the GEMM accumulates.
#[allow(clippy::too_many_arguments)]
pub fn matmul<E: Element>(
    a: &[E],
    sa: &[usize],
    b: &[E],
    sb: &[usize],
    out: &mut [E],
    ta: bool,
    tb: bool,
    alpha: f64,
    bias: Option<&[E]>,
) {
    let alpha = E::from_f64(alpha);
    let acc = bias.is_some();
    if let Some(bias) = bias {
        out.par_chunks_mut(bias.len() * 64).for_each(|o| {
            o.chunks_mut(bias.len())
                .for_each(|r| r.copy_from_slice(bias))
        });
    }
    let (ra, rb) = (sa.len(), sb.len());
    let (a_r, a_c) = (sa[ra - 2], sa[ra - 1]);
    let (b_r, b_c) = (sb[rb - 2], sb[rb - 1]);
    let (m, k) = if ta { (a_c, a_r) } else { (a_r, a_c) };
    let n = if tb { b_r } else { b_c };
    if rb == 2 && !ta {
        let rows = a.len() / k.max(1);
        let av = MatRef::row_major(a, rows, k, false);
        let bv = MatRef::row_major(b, b_r, b_c, tb);
        gemm(out, n, av, bv, alpha, acc);
        return;
    }
    let batch = out.len() / (m * n).max(1);
    let (a_sz, b_sz, o_sz) = (a_r * a_c, if rb == 2 { 0 } else { b_r * b_c }, m * n);
    let one = |i: usize, o: &mut [E]| {
        let av = MatRef::row_major(&a[i * a_sz..(i + 1) * a_sz], a_r, a_c, ta);
        let bs = if b_sz == 0 {
            b
        } else {
            &b[i * b_sz..(i + 1) * b_sz]
        };
        let bv = MatRef::row_major(bs, b_r, b_c, tb);
        gemm(o, n, av, bv, alpha, acc);
    };
    if batch > 1 && m * n * k < 128 * 128 * 128 {
        out.par_chunks_mut(o_sz)
            .enumerate()
            .for_each(|(i, o)| one(i, o));
    } else {
        for (i, o) in out.chunks_mut(o_sz).enumerate() {
            one(i, o);
        }
    }
}
