//! Vision layout helpers built from reshape/permute/roll: patchify, windows, patch merging,
//! attention heads. Each is one copy (a permute) at most.
use alloc::format;

use crate::graph::shape::{arg_err, shape_err};
use crate::graph::{GResult, Graph, NodeId};

/// Order of the values inside a patch vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchOrder {
    /// `(p, q, c)`, channel last: MAE's `patchify` target (`nhwpqc`).
    Pqc,
    /// `(c, p, q)`: matches a conv weight `[D, C, p, p]` reshaped to `[D, C·p·p]`, so patch
    /// embedding is `linear(patchify(imgs, p, Cpq), W.reshape(D, C·p·p))`.
    Cpq,
}

impl Graph {
    /// `[N, C, H, W]` images → `[N, (H/p)·(W/p), p·p·C]` patch vectors (raster order of patches).
    pub fn patchify(&mut self, imgs: NodeId, p: usize, order: PatchOrder) -> GResult<NodeId> {
        let s = self.data_shape("patchify", imgs)?;
        if s.len() != 4 || p == 0 || s[2] % p != 0 || s[3] % p != 0 {
            return Err(shape_err(
                "patchify",
                &[&s],
                format!("images [N, C, H, W] with H and W multiples of the patch {p}"),
            ));
        }
        let (n, c, h, w) = (s[0], s[1], s[2] / p, s[3] / p);
        let x = self.reshape(imgs, &[n, c, h, p, w, p])?;
        let axes = match order {
            PatchOrder::Pqc => [0, 2, 4, 3, 5, 1],
            PatchOrder::Cpq => [0, 2, 4, 1, 3, 5],
        };
        let x = self.permute(x, &axes)?;
        self.reshape(x, &[n, h * w, p * p * c])
    }

    /// Inverse of [`Graph::patchify`]: `[N, h·w, p·p·c]` → `[N, c, h·p, w·p]`.
    pub fn unpatchify(
        &mut self,
        x: NodeId,
        p: usize,
        grid: (usize, usize),
        order: PatchOrder,
    ) -> GResult<NodeId> {
        let s = self.data_shape("unpatchify", x)?;
        let (h, w) = grid;
        if s.len() != 3 || p == 0 || s[1] != h * w || s[2] % (p * p) != 0 {
            return Err(shape_err(
                "unpatchify",
                &[&s],
                format!("[N, {h}·{w}, p·p·C] with p = {p}"),
            ));
        }
        let (n, c) = (s[0], s[2] / (p * p));
        let (x, axes) = match order {
            PatchOrder::Pqc => (self.reshape(x, &[n, h, w, p, p, c])?, [0, 5, 1, 3, 2, 4]),
            PatchOrder::Cpq => (self.reshape(x, &[n, h, w, c, p, p])?, [0, 3, 1, 4, 2, 5]),
        };
        let x = self.permute(x, &axes)?;
        self.reshape(x, &[n, c, h * p, w * p])
    }

    /// Swin window partition: `[B, H, W, C]` → `[B·(H/ws)·(W/ws), ws·ws, C]`.
    pub fn window_partition(&mut self, x: NodeId, ws: usize) -> GResult<NodeId> {
        let s = self.data_shape("window_partition", x)?;
        if s.len() != 4 || ws == 0 || s[1] % ws != 0 || s[2] % ws != 0 {
            return Err(shape_err(
                "window_partition",
                &[&s],
                format!("[B, H, W, C] with H and W multiples of the window {ws}"),
            ));
        }
        let (b, h, w, c) = (s[0], s[1] / ws, s[2] / ws, s[3]);
        let x = self.reshape(x, &[b, h, ws, w, ws, c])?;
        let x = self.permute(x, &[0, 1, 3, 2, 4, 5])?;
        self.reshape(x, &[b * h * w, ws * ws, c])
    }

    /// Inverse of [`Graph::window_partition`] for a `[H, W]` grid.
    pub fn window_reverse(
        &mut self,
        x: NodeId,
        ws: usize,
        grid: (usize, usize),
    ) -> GResult<NodeId> {
        let s = self.data_shape("window_reverse", x)?;
        let (gh, gw) = grid;
        let nw = if ws > 0 && gh % ws == 0 && gw % ws == 0 {
            (gh / ws) * (gw / ws)
        } else {
            0
        };
        if s.len() != 3 || nw == 0 || s[0] % nw != 0 || s[1] != ws * ws {
            return Err(shape_err(
                "window_reverse",
                &[&s],
                format!("[B·windows, {ws}·{ws}, C] for a {gh}x{gw} grid"),
            ));
        }
        let (b, c) = (s[0] / nw, s[2]);
        let x = self.reshape(x, &[b, gh / ws, gw / ws, ws, ws, c])?;
        let x = self.permute(x, &[0, 1, 3, 2, 4, 5])?;
        self.reshape(x, &[b, gh, gw, c])
    }

    /// Swin's cyclic shift of a `[B, H, W, C]` map: `torch.roll(x, (-s, -s), (1, 2))`; the
    /// reverse shift is `cyclic_shift(x, -s)`.
    pub fn cyclic_shift(&mut self, x: NodeId, shift: isize) -> GResult<NodeId> {
        let s = self.data_shape("cyclic_shift", x)?;
        if s.len() != 4 {
            return Err(shape_err("cyclic_shift", &[&s], "[B, H, W, C]".into()));
        }
        self.roll(x, &[(1, -shift), (2, -shift)])
    }

    /// timm/Swin patch merging layout: `[B, H, W, C]` → `[B, (H/2)·(W/2), 4C]` with the 4C
    /// vector `cat(x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2])`. (The LayerNorm and
    /// the `Linear(4C, 2C)` that follow are separate ops.)
    pub fn patch_merge(&mut self, x: NodeId) -> GResult<NodeId> {
        let s = self.data_shape("patch_merge", x)?;
        if s.len() != 4 || s[1] % 2 != 0 || s[2] % 2 != 0 {
            return Err(shape_err(
                "patch_merge",
                &[&s],
                "[B, H, W, C] with even H and W".into(),
            ));
        }
        let (b, h, w, c) = (s[0], s[1] / 2, s[2] / 2, s[3]);
        let x = self.reshape(x, &[b, h, 2, w, 2, c])?;
        // [b, h, dh, w, dw, c] → [b, h, w, dw, dh, c]: index (dw·2 + dh)·C + c.
        let x = self.permute(x, &[0, 1, 3, 4, 2, 5])?;
        self.reshape(x, &[b, h * w, 4 * c])
    }

    /// Splits a fused qkv projection `[B, L, 3·H·d]` (timm layout, channel = s·D + h·d + i) into
    /// q, k, v of shape `[B, H, L, d]`.
    pub fn split_qkv(&mut self, qkv: NodeId, heads: usize) -> GResult<(NodeId, NodeId, NodeId)> {
        let s = self.data_shape("split_qkv", qkv)?;
        if s.len() != 3 || heads == 0 || s[2] % (3 * heads) != 0 {
            return Err(shape_err(
                "split_qkv",
                &[&s],
                format!("[B, L, 3·D] with D divisible by {heads} heads"),
            ));
        }
        let (b, l, d) = (s[0], s[1], s[2] / (3 * heads));
        let x = self.reshape(qkv, &[b, l, 3, heads, d])?;
        let x = self.permute(x, &[2, 0, 3, 1, 4])?;
        let x = self.reshape(x, &[3, b * heads * l * d])?;
        let mut parts = [NodeId(0); 3];
        for (i, part) in parts.iter_mut().enumerate() {
            let t = self.slice(x, 0, i, 1)?;
            *part = self.reshape(t, &[b, heads, l, d])?;
        }
        Ok((parts[0], parts[1], parts[2]))
    }

    /// `[B, H, L, d]` → `[B, L, H·d]` (inverse of the head split).
    pub fn merge_heads(&mut self, x: NodeId) -> GResult<NodeId> {
        let s = self.data_shape("merge_heads", x)?;
        if s.len() != 4 {
            return Err(arg_err(
                "merge_heads",
                format!("expects [B, H, L, d], got {s:?}"),
            ));
        }
        let x = self.permute(x, &[0, 2, 1, 3])?;
        self.reshape(x, &[s[0], s[2], s[1] * s[3]])
    }
}
