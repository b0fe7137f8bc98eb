//! Window attention: multi-head self-attention inside non-overlapping `w x w` windows of a
//! `[N, H, W, C]` map, optionally after a cyclic shift (Swin's SW-MSA), with a relative
//! position bias (a learned table as Swin, or UM-MAE's MLP of the true coordinates) and an
//! optional extra additive mask per window (MixMIM keeps the two mixed images apart with one).
use tessera_dsl::graph::{GResult, NodeId};

use super::{
    conv1x1, linear, relative_position_bias, shift_mask, ConvInit, Linear, LinearInit, Scope,
};

/// The relative position bias of a window attention.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RelPos {
    None,
    /// Swin's learned table `relative_position_bias_table` indexed by the offset.
    Table,
    /// UM-MAE's continuous bias `posmlp`: `Conv1x1(2 → hidden) → ReLU → Conv1x1(hidden →
    /// heads)` on the log-spaced coordinate differences `sign(d)·log(1 + |d|)` of every
    /// (query, key) pair, given per window as `coords` `[N·windows, w²·w², 2]` (query-major,
    /// channels `(dh, dw)` = key minus query). Per sample, since the tokens' true positions
    /// depend on the mask.
    Mlp {
        hidden: usize,
        coords: NodeId,
    },
}

/// A window-attention layer's sizes and choices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowAttention {
    pub dim: usize,
    pub heads: usize,
    /// Window side `w` (already clamped to the grid).
    pub window: usize,
    /// Cyclic shift of the map before partitioning (0: none).
    pub shift: usize,
    pub rel_pos: RelPos,
    pub init: LinearInit,
}

/// `x [N, H, W, C] → [N, H, W, C]`, declaring `qkv`, `proj` (and the bias table) in `s`.
/// `mask`, if given, is added to the scores and broadcasts to `[windows, 1, w², w²]` (per
/// window, shared by the batch and the heads).
pub fn window_attention(
    s: &mut Scope,
    x: NodeId,
    a: WindowAttention,
    mask: Option<NodeId>,
) -> GResult<NodeId> {
    let shape = s.g().shape(x).to_vec();
    let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3]);
    let (ws, heads) = (a.window, a.heads);
    let (windows, len) = ((h / ws) * (w / ws), ws * ws);
    let mut bias = match a.rel_pos {
        RelPos::None => None,
        RelPos::Table => {
            let b = relative_position_bias(s, ws, heads)?; // [heads, L, L]
            Some(s.g().reshape(b, &[1, heads, len, len])?)
        }
        RelPos::Mlp { hidden, coords } => {
            let mut mlp = s.pp("posmlp");
            let h = conv1x1(&mut mlp.pp(0), coords, 2, hidden, ConvInit::KaimingOut)?;
            let h = mlp.g().relu(h)?;
            let b = conv1x1(&mut mlp.pp(2), h, hidden, heads, ConvInit::KaimingOut)?;
            let g = s.g();
            let per = g.shape(coords)[0]; // 1 or N
            let b = g.reshape(b, &[per, windows, len, len, heads])?;
            Some(g.permute(b, &[0, 1, 4, 2, 3])?) // [1 or N, windows, heads, L, L]
        }
    };
    if a.shift > 0 {
        let m = shift_mask(h, ws, a.shift);
        let m = s.constant_f32("attn_mask", &[windows, 1, len, len], m)?;
        bias = Some(add_opt(s, bias, m)?);
    }
    if let Some(m) = mask {
        bias = Some(add_opt(s, bias, m)?);
    }
    let g = s.g();
    let x = if a.shift > 0 {
        g.cyclic_shift(x, a.shift as isize)?
    } else {
        x
    };
    let x = g.window_partition(x, ws)?; // [N·windows, L, C]
    let qkv = linear(&mut s.pp("qkv"), x, Linear::new(c, 3 * c, a.init))?;
    let scale = ((c / heads) as f64).powf(-0.5);
    let g = s.g();
    let o = match bias {
        // No bias: the packed kernel over every window at once.
        None => g.self_attention(qkv, heads, None, scale)?,
        // A per-window bias broadcasts over the batch only with windows as their own axis.
        Some(b) => {
            let (q, k, v) = g.split_qkv(qkv, heads)?; // [N·windows, heads, L, d]
            let d = c / heads;
            let split = [n, windows, heads, len, d];
            let (q, k, v) = (
                g.reshape(q, &split)?,
                g.reshape(k, &split)?,
                g.reshape(v, &split)?,
            );
            let o = g.attention(q, k, v, Some(b), scale)?;
            let o = g.reshape(o, &[n * windows, heads, len, d])?;
            g.merge_heads(o)?
        }
    };
    let o = linear(&mut s.pp("proj"), o, Linear::new(c, c, a.init))?;
    let g = s.g();
    let o = g.window_reverse(o, ws, (h, w))?;
    if a.shift > 0 {
        g.cyclic_shift(o, -(a.shift as isize))
    } else {
        Ok(o)
    }
}

fn add_opt(s: &mut Scope, a: Option<NodeId>, b: NodeId) -> GResult<NodeId> {
    match a {
        Some(a) => s.g().add(a, b),
        None => Ok(b),
    }
}
