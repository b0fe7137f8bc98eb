//! The GEMM of the CPU kernels: `matrixmultiply`'s kernels (whose one raw-pointer call,
//! in `raw_gemm.rs`, checks every view itself) in row blocks on the rayon pool.
//! `matrixmultiply` with its `threading` feature measured 110–130 GFLOP/s on the
//! mae_tiny_32 shapes here against 80–95 for the `gemm` crate (examples/cpu_gemm_bench.rs).
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
}

/// `dst[m×n] (row-major, row stride dst_rs) = alpha·a·b (+ dst if accumulate)`.
/// Large products run as row blocks in parallel on the rayon pool.
pub fn gemm<E: Element>(
    dst: &mut [E],
    dst_rs: usize,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    alpha: E,
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "gemm: inner dimensions");
    assert!(a.fits() && b.fits(), "gemm: operand view out of bounds");
    assert!(
        m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst.len(),
        "gemm: destination out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].fill(E::zero());
            }
        }
        return;
    }
    // Large products are split into row blocks on the rayon pool, so one thread pool serves
    // every kernel (a second GEMM-owned pool would fight rayon's workers for the 2 cores).
    let threads = rayon::current_num_threads();
    let big = m * n * k >= 1 << 18 && m >= 32 && threads > 1;
    if big && rayon::current_thread_index().is_none() {
        let blocks = threads.min(m / 16).max(1);
        let rows = m.div_ceil(blocks);
        dst[..(m - 1) * dst_rs + n]
            .par_chunks_mut(rows * dst_rs)
            .enumerate()
            .for_each(|(t, d)| {
                let i0 = t * rows;
                let sub = MatRef {
                    data: &a.data[i0 * a.rs..],
                    rows: rows.min(m - i0),
                    ..a
                };
                one_gemm(d, dst_rs, sub, b, alpha, accumulate);
            });
    } else {
        one_gemm(dst, dst_rs, a, b, alpha, accumulate);
    }
}

/// One single-threaded `matrixmultiply` call.
fn one_gemm<E: Element>(
    dst: &mut [E],
    dst_rs: usize,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    alpha: E,
    accumulate: bool,
) {
    let beta = if accumulate { E::one() } else { E::zero() };
    E::matmul_raw(
        a.rows,
        a.cols,
        b.cols,
        alpha,
        (a.data, a.rs as isize, a.cs as isize),
        (b.data, b.rs as isize, b.cs as isize),
        beta,
        (dst, dst_rs as isize, 1),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

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
