//! Swin's relative position bias: a learned table `relative_position_bias_table`
//! `[(2w-1)², heads]` gathered by the fixed index of every (query, key) pair of a `w x w`
//! window into a bias `[heads, w², w²]`.
use tessera_dsl::graph::{GResult, NodeId};

use super::Scope;
use crate::params::Init;

/// Swin's `relative_position_index` for a `w x w` window: pair `(i, j)` of tokens
/// `i = (r1, c1)`, `j = (r2, c2)` reads table row `(r1 - r2 + w - 1) · (2w - 1) + c1 - c2 + w - 1`.
pub fn relative_position_index(w: usize) -> Vec<u32> {
    let n = w * w;
    let mut out = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let (r1, c1) = (i / w, i % w);
            let (r2, c2) = (j / w, j % w);
            let dr = r1 + w - 1 - r2;
            let dc = c1 + w - 1 - c2;
            out.push((dr * (2 * w - 1) + dc) as u32);
        }
    }
    out
}

/// The bias `[heads, w², w²]`, declaring the table (trunc-normal .02, as Swin) in `s` and its
/// row and column offsets as constants.
///
/// The table row of a pair is `dr · (2w − 1) + dc` with `dr = r1 − r2 + w − 1` and
/// `dc = c1 − c2 + w − 1`, so the lookup separates: one gather picks the `2w − 1` entries of
/// `dr` for every row pair, a second the entry of `dc` for every column pair, and a permute
/// interleaves them into `(query, key)` order. The same values as one gather by
/// [`relative_position_index`], but the gradients scatter over `w²` indices per table row
/// instead of `w⁴` (a GPU thread scans every index of its row; lavapipe ends a thread's loops
/// after 65535 iterations, which `w⁴` passes at window 16).
pub fn relative_position_bias(s: &mut Scope, window: usize, heads: usize) -> GResult<NodeId> {
    let span = 2 * window - 1;
    let init = Init::TruncNormal {
        std: 0.02,
        bound: 2.0,
    };
    let table = s.param("relative_position_bias_table", &[span * span, heads], init)?;
    let pairs = window * window;
    // Offset + w − 1 of every (first, second) coordinate pair, first-major.
    let offsets: Vec<u32> = (0..pairs)
        .map(|p| (p / window + window - 1 - p % window) as u32)
        .collect();
    let rows = s.constant_u32("relative_position_rows", &[pairs], offsets.clone())?;
    let cols = s.constant_u32("relative_position_cols", &[1, pairs], offsets)?;
    let g = s.g();
    let table = g.reshape(table, &[span, span * heads])?;
    let by_rows = g.gather_rows(table, rows)?; // [(r1, r2), dc · heads]
    let by_rows = g.reshape(by_rows, &[pairs, span, heads])?;
    let bias = g.gather_rows(by_rows, cols)?; // [(r1, r2), (c1, c2), heads]
    let bias = g.reshape(bias, &[window, window, window, window, heads])?;
    let bias = g.permute(bias, &[4, 0, 2, 1, 3])?; // [heads, r1, c1, r2, c2]
    g.reshape(bias, &[heads, pairs, pairs])
}
