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

/// The bias `[heads, w², w²]`, declaring the table (trunc-normal .02, as Swin) in `s` and the
/// index as a constant.
pub fn relative_position_bias(s: &mut Scope, window: usize, heads: usize) -> GResult<NodeId> {
    let rows = (2 * window - 1) * (2 * window - 1);
    let n = window * window;
    let init = Init::TruncNormal {
        std: 0.02,
        bound: 2.0,
    };
    let table = s.param("relative_position_bias_table", &[rows, heads], init)?;
    let index = s.constant_u32(
        "relative_position_index",
        &[1, n * n],
        relative_position_index(window),
    )?;
    let g = s.g();
    let table = g.reshape(table, &[1, rows, heads])?;
    let bias = g.gather_rows(table, index)?; // [1, n², heads]
    let bias = g.reshape(bias, &[n, n, heads])?;
    g.permute(bias, &[2, 0, 1])
}
