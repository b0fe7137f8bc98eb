//! The arithmetic of the probe for a few classes over many features: per row, `k` dot
//! products (logits) and, for the gradient, `k` scaled additions of the row, fused so each
//! evaluation streams the feature matrix once. A general GEMM (tried: matrixmultiply through
//! ndarray) packs the whole 60000 x 784 matrix for a 10-column product and was several times
//! slower here. Rows are cut into fixed blocks whose partial sums are added in block order,
//! so results do not depend on the number of threads.

/// Rows per block of work.
const BLOCK: usize = 512;

/// Dot product with 8 independent lanes (lets the compiler vectorize the reduction).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `y += a * x`.
pub fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

/// Dot products of four rows with one vector: reads `w` once for all four.
pub fn dot4(x: [&[f64]; 4], w: &[f64]) -> [f64; 4] {
    let d = w.len();
    let body = d - d % 4;
    let mut acc = [[0f64; 4]; 4];
    for f in (0..body).step_by(4) {
        let wv = &w[f..f + 4];
        for (a, row) in acc.iter_mut().zip(&x) {
            let xv = &row[f..f + 4];
            for l in 0..4 {
                a[l] += xv[l] * wv[l];
            }
        }
    }
    let mut out = [0f64; 4];
    for ((o, a), row) in out.iter_mut().zip(&acc).zip(&x) {
        let tail: f64 = (body..d).map(|f| row[f] * w[f]).sum();
        *o = ((a[0] + a[2]) + (a[1] + a[3])) + tail;
    }
    out
}

/// `y += a[0] x[0] + a[1] x[1] + a[2] x[2] + a[3] x[3]`: one pass over `y` for four rows.
pub fn axpy4(a: [f64; 4], x: [&[f64]; 4], y: &mut [f64]) {
    for (f, y) in y.iter_mut().enumerate() {
        *y += (a[0] * x[0][f] + a[1] * x[1][f]) + (a[2] * x[2][f] + a[3] * x[3][f]);
    }
}

/// `out[j] = bias[j] + coef[j] . x` for one row.
pub fn row_logits(x: &[f64], coef: &[f64], bias: &[f64], out: &mut [f64]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        *o = bias[j] + dot(x, &coef[j * d..(j + 1) * d]);
    }
}

/// Number of threads to use when the caller says 0.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work(block_index, first_row, rows)` over all blocks of `rows` rows on `threads`
/// threads and returns the results in block order.
pub fn for_blocks<T, F>(rows: usize, threads: usize, work: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, usize) -> T + Sync,
{
    let blocks = rows.div_ceil(BLOCK);
    let threads = threads.clamp(1, blocks.max(1));
    let run = |t: usize| -> Vec<(usize, T)> {
        (t..blocks)
            .step_by(threads)
            .map(|b| {
                let first = b * BLOCK;
                (b, work(first, (rows - first).min(BLOCK)))
            })
            .collect()
    };
    let mut all: Vec<(usize, T)> = if threads == 1 {
        run(0)
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || run(t))).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    all.sort_by_key(|(b, _)| *b);
    all.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_plain_sum_for_all_tail_lengths() {
        for n in [0, 1, 7, 8, 9, 31, 784] {
            let a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..n).map(|i| (i as f64 * 1.1).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-12, "n = {n}");
        }
    }

    #[test]
    fn blocks_come_back_in_order_for_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            let got = for_blocks(1500, threads, |first, rows| (first, rows));
            assert_eq!(got, vec![(0, 512), (512, 512), (1024, 476)]);
        }
    }
}
