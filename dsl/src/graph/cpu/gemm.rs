//! The GEMM of the CPU kernels: the `gemm` crate's kernels (whose one raw-pointer call, in
//! `raw_gemm.rs`, checks every view itself; AVX-512 where the CPU has it), with what the
//! fused ops need around them: a destination that starts from a bias row (and a residual)
//! instead of zero, and an epilogue that finishes each panel of rows while it is still in
//! cache (an activation, column sums).
use rayon::prelude::*;

use super::Element;

/// A strided read-only matrix view: element (i, j) is `data[i·rs + j·cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, E> {
    pub data: &'a [E],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a, E> MatRef<'a, E> {
    /// Row-major `[rows, cols]`, optionally viewed transposed.
    pub fn row_major(data: &'a [E], rows: usize, cols: usize, transposed: bool) -> Self {
        if transposed {
            Self {
                data,
                rows: cols,
                cols: rows,
                rs: 1,
                cs: cols,
            }
        } else {
            Self {
                data,
                rows,
                cols,
                rs: cols,
                cs: 1,
            }
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }

    /// Rows `r0 .. r0 + rows` of the view.
    fn rows_from(&self, r0: usize, rows: usize) -> Self {
        Self {
            data: if rows == 0 {
                &self.data[..0]
            } else {
                &self.data[r0 * self.rs..]
            },
            rows,
            ..*self
        }
    }
}

/// What the destination holds before `alpha·a·b` is added to it.
#[derive(Clone, Copy, Debug)]
pub enum Start<'a, E> {
    /// Nothing: `dst = alpha·a·b`.
    Zero,
    /// Its values: `dst += alpha·a·b`.
    Current,
    /// `dst = bias (on every row) + residual (if any, [m, n]) + alpha·a·b`: the bias add and
    /// residual add of a linear layer done by the GEMM's own accumulation.
    Bias {
        bias: &'a [E],
        residual: Option<&'a [E]>,
    },
}

/// Output elements of a panel of rows: small enough that the panel is still in L2 when the
/// epilogue reads it back (the 2 cores here have 1 MiB each).
const PANEL_ELEMS: usize = 64 * 1024;

/// Products smaller than this many multiply-adds run on the calling thread.
const PARALLEL_MACS: usize = 1 << 18;

/// `dst[m×n] (row-major, row stride dst_rs) = alpha·a·b (+ dst if accumulate)`.
/// Large products run on the rayon pool (unless called from one of its workers).
pub fn gemm<E: Element>(
    dst: &mut [E],
    dst_rs: usize,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    alpha: E,
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    check(dst, dst_rs, &a, &b);
    if m == 0 || n == 0 {
        return;
    }
    let parallel = m * n * k >= PARALLEL_MACS && rayon::current_thread_index().is_none();
    // A transposed left operand (a weight gradient, Xᵀ·dY with the long dimension inside)
    // runs faster as one single-threaded product per thread over its share of the rows than
    // with the crate's own threading: measured +15 to +27 % at 192×1088×576, 192×1088×768
    // and 768×1088×192 on 2 threads, where a square 1024³ product lost 14 % this way.
    if parallel && a.rs == 1 && a.cols > 1 {
        let threads = rayon::current_num_threads().max(1);
        let rows = m.div_ceil(threads);
        dst[..(m - 1) * dst_rs + n]
            .par_chunks_mut(rows * dst_rs)
            .enumerate()
            .for_each(|(t, d)| {
                let r0 = t * rows;
                let rr = rows.min(m - r0);
                one_gemm(d, dst_rs, a.rows_from(r0, rr), b, alpha, accumulate, false)
            });
        return;
    }
    one_gemm(dst, dst_rs, a, b, alpha, accumulate, parallel);
}

/// One panel of rows of a [`gemm_fused`] product, as its epilogue sees it.
pub struct Panel<'p, E> {
    /// The panel's number and its first row.
    pub index: usize,
    pub r0: usize,
    /// The panel's rows of the destination, final.
    pub rows: &'p mut [E],
    /// The panel's part of the side buffer (empty without one).
    pub side: &'p mut [E],
}

/// A second buffer the epilogue writes, split between the panels.
pub enum Side<'s, E> {
    None,
    /// Row `i` of the product owns `buf[i·cols .. (i + 1)·cols]` (a second output).
    Rows {
        buf: &'s mut [E],
        cols: usize,
    },
    /// Panel `p` owns `buf[p·len .. (p + 1)·len]` (partial sums, added up afterwards in
    /// panel order, so results do not depend on which thread ran what).
    Panels {
        buf: &'s mut [E],
        len: usize,
    },
}

/// `dst[m×n]` (row-major, contiguous) = start + alpha·a·b, then `epilogue` on each panel of
/// rows ([`panel_rows`] of them) right after the panel's product, while it is in cache.
/// Panels run in parallel on the rayon pool (unless called from one of its workers).
#[allow(clippy::too_many_arguments)]
pub fn gemm_fused<E: Element>(
    dst: &mut [E],
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    alpha: E,
    start: Start<'_, E>,
    side: Side<'_, E>,
    epilogue: &(dyn Fn(Panel<'_, E>) + Sync),
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    check(dst, n, &a, &b);
    if m == 0 || n == 0 {
        return;
    }
    let panel = panel_rows(m, n, k);
    let run = |index: usize, d: &mut [E], side: &mut [E]| {
        let r0 = index * panel;
        let rows = d.len() / n;
        let accumulate = match start {
            Start::Zero => false,
            Start::Current => true,
            Start::Bias { bias, residual } => {
                assert_eq!(bias.len(), n, "gemm: bias length");
                for (i, row) in d.chunks_exact_mut(n).enumerate() {
                    match residual {
                        Some(r) => {
                            let rr = &r[(r0 + i) * n..(r0 + i + 1) * n];
                            for ((o, &x), &c) in row.iter_mut().zip(rr).zip(bias) {
                                *o = x + c;
                            }
                        }
                        None => row.copy_from_slice(bias),
                    }
                }
                true
            }
        };
        one_gemm(d, n, a.rows_from(r0, rows), b, alpha, accumulate, false);
        epilogue(Panel {
            index,
            r0,
            rows: d,
            side,
        });
    };
    let panels = m.div_ceil(panel);
    let (side_buf, side_len) = match side {
        Side::None => (&mut [][..], 0),
        Side::Rows { buf, cols } => (buf, panel * cols),
        Side::Panels { buf, len } => (buf, len),
    };
    assert!(
        side_len == 0 || side_buf.len() >= (panels - 1) * side_len,
        "gemm: side buffer too short"
    );
    let d = &mut dst[..m * n];
    if panels == 1 || rayon::current_thread_index().is_some() {
        let mut sides = side_buf.chunks_mut(side_len.max(1));
        for (index, d) in d.chunks_mut(panel * n).enumerate() {
            let s = if side_len == 0 {
                &mut [][..]
            } else {
                sides.next().expect("side buffer checked")
            };
            run(index, d, s);
        }
    } else if side_len == 0 {
        d.par_chunks_mut(panel * n)
            .enumerate()
            .for_each(|(index, d)| run(index, d, &mut []));
    } else {
        d.par_chunks_mut(panel * n)
            .zip(side_buf.par_chunks_mut(side_len))
            .enumerate()
            .for_each(|(index, (d, s))| run(index, d, s));
    }
}

/// Rows per panel of [`gemm_fused`]: all of them for a small product; else as few panels
/// as keep the product's right operand re-read no more than the rest is read and written
/// (each panel is its own GEMM, which packs all of `b`, k·n values, again: at most
/// m·(k + n) / (k·n) panels), an even number of them, at least 2, so that two threads share
/// them evenly; larger panels where [`PANEL_ELEMS`] allows, for fewer calls. A function of
/// the shapes alone, so partial sums per panel add up the same way on any thread count.
///
/// Measured: small panels that kept each one in L2 for the epilogue (21 rows at ViT-B's
/// 400×768×3072) re-read the 9 MiB `b` from memory 19 times and ran at a third of the
/// unfused GEMM's speed.
pub fn panel_rows(m: usize, n: usize, k: usize) -> usize {
    if m * n * k < PARALLEL_MACS {
        return m.max(1);
    }
    let panels = ((m * (k + n)) / (k * n).max(1)).max(2) & !1;
    let by_reuse = m.div_ceil(panels);
    let by_cache = PANEL_ELEMS / n.max(1);
    by_reuse.max(by_cache).min(m.div_ceil(2)).max(1)
}

fn check<E>(dst: &[E], dst_rs: usize, a: &MatRef<'_, E>, b: &MatRef<'_, E>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "gemm: inner dimensions");
    assert!(a.fits() && b.fits(), "gemm: operand view out of bounds");
    assert!(
        m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst.len(),
        "gemm: destination out of bounds"
    );
}

/// One call of the crate's GEMM (k = 0 handled here: the product is zero).
fn one_gemm<E: Element>(
    dst: &mut [E],
    dst_rs: usize,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    alpha: E,
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].fill(E::zero());
            }
        }
        return;
    }
    E::matmul_raw(
        m,
        k,
        n,
        alpha,
        (a.data, a.rs as isize, a.cs as isize),
        (b.data, b.rs as isize, b.cs as isize),
        accumulate,
        (dst, dst_rs as isize, 1),
        parallel,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn fused_starts_and_epilogues_cover_every_row_once() {
        // Large enough for parallel panels; the epilogue doubles each row it is handed.
        let (m, k, n) = (301, 64, 40);
        let a: Vec<f64> = (0..m * k)
            .map(|i| ((i * 31) % 17) as f64 / 8.0 - 1.0)
            .collect();
        let b: Vec<f64> = (0..k * n)
            .map(|i| ((i * 7) % 11) as f64 / 5.0 - 1.0)
            .collect();
        let bias: Vec<f64> = (0..n).map(|j| j as f64 * 0.25).collect();
        let res: Vec<f64> = (0..m * n).map(|i| (i % 5) as f64).collect();
        let mut got = vec![f64::NAN; m * n];
        let (av, bv) = (
            MatRef::row_major(&a, m, k, false),
            MatRef::row_major(&b, k, n, false),
        );
        let start = Start::Bias {
            bias: &bias,
            residual: Some(&res),
        };
        // The epilogue doubles each row it is handed and counts each panel's rows aside.
        let panels = m.div_ceil(panel_rows(m, n, k));
        let mut counts = vec![0.0; panels];
        let side = Side::Panels {
            buf: &mut counts,
            len: 1,
        };
        gemm_fused(&mut got, av, bv, 0.5, start, side, &|p| {
            assert_eq!(p.r0, p.index * panel_rows(m, n, k));
            p.rows.iter_mut().for_each(|x| *x *= 2.0);
            p.side[0] += (p.rows.len() / n) as f64;
        });
        assert!(panels > 1 && counts.iter().sum::<f64>() == m as f64);
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                let want = 2.0 * (res[i * n + j] + bias[j] + 0.5 * s);
                assert!((got[i * n + j] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn matches_naive_with_transposes_and_accumulate() {
        // Small (one call) and large enough to run as parallel row blocks.
        for (m, k, n) in [(37, 23, 29), (301, 40, 57)] {
            check(m, k, n);
        }
    }

    fn check(m: usize, k: usize, n: usize) {
        let a: Vec<f64> = (0..m * k)
            .map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0)
            .collect();
        let b: Vec<f64> = (0..k * n)
            .map(|i| ((i * 104729) % 97) as f64 / 48.0 - 1.0)
            .collect();
        // bt holds bᵀ row-major [n, k].
        let mut bt = vec![0.0; k * n];
        for i in 0..k {
            for j in 0..n {
                bt[j * k + i] = b[i * n + j];
            }
        }
        let mut want = vec![0.5; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                want[i * n + j] += 2.0 * s;
            }
        }
        let mut got = vec![0.5; m * n];
        let av = MatRef::row_major(&a, m, k, false);
        let bv = MatRef::row_major(&bt, n, k, true);
        gemm(&mut got, n, av, bv, 2.0, true);
        for (x, y) in got.iter().zip(&want) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        // aᵀ as a transposed view of a stored [k, m] matrix.
        let mut at = vec![0.0; m * k];
        for i in 0..m {
            for p in 0..k {
                at[p * m + i] = a[i * k + p];
            }
        }
        let mut got2 = vec![0.5; m * n];
        let atv = MatRef::row_major(&at, k, m, true);
        gemm(&mut got2, n, atv, bv, 2.0, true);
        assert_eq!(got, got2);
    }
}
