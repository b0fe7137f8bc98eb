//! Fixed 2-D sin-cos position tables as frozen parameters (MAE's `pos_embed`,
//! `decoder_pos_embed`: `[1, (1 +) grid², D]`, saved in the state dict, never trained).
use tessera_dsl::graph::{GResult, NodeId};

use super::Scope;
use crate::params::Init;

/// Declares the frozen table `name` for a `grid x grid` token grid, with a leading zero row
/// for the class token when `cls`.
pub fn sincos_table(
    s: &mut Scope,
    name: &str,
    dim: usize,
    grid: usize,
    cls: bool,
) -> GResult<NodeId> {
    let rows = grid * grid + usize::from(cls);
    s.frozen(name, &[1, rows, dim], Init::SinCos2d { dim, grid, cls })
}
