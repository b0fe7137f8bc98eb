//! HiViT's patch embedding: a `Conv2d(C, D, k=s=patch/inner)` (`proj`) whose output keeps each
//! patch's own `inner x inner` grid of sub-tokens, `[N, L, inner, inner, D]` (the official
//! `view(B, D, Hp, inner, Wp, inner).permute(0, 2, 4, 3, 5, 1)`), then an optional LayerNorm
//! (`norm`, HiViT's `patch_norm`). Keeping the patches apart is what lets HiViT drop masked
//! patches before its first layer.
use tessera_dsl::graph::{GResult, NodeId};

use super::{layer_norm, patch_embed_2d, PatchInit, Scope};

/// An inner-patch embedding's sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InnerPatchEmbed {
    pub channels: usize,
    /// The masking unit's side in pixels.
    pub patch: usize,
    /// Sub-tokens per patch side.
    pub inner: usize,
    pub dim: usize,
    /// LayerNorm epsilon of `norm`, when there is one.
    pub norm_eps: Option<f64>,
}

/// `imgs [N, C, H, W] → [N, (H/patch)·(W/patch), inner, inner, dim]`, patches in raster order,
/// declaring `proj` (PyTorch's default Conv init, which HiViT keeps) and `norm` in `s`.
pub fn inner_patch_embed(s: &mut Scope, imgs: NodeId, e: InnerPatchEmbed) -> GResult<NodeId> {
    let shape = s.g().shape(imgs).to_vec();
    let (n, h, w) = (shape[0], shape[2], shape[3]);
    let kernel = e.patch / e.inner;
    // The convolution as a Linear over kernel x kernel pixel patches, in raster order of the
    // fine grid: [N, (H/k)·(W/k), D].
    let x = patch_embed_2d(s, imgs, e.channels, kernel, e.dim, PatchInit::Torch)?;
    let (gh, gw) = (h / e.patch, w / e.patch);
    let g = s.g();
    // Fine index (gi·inner + ii)·(gw·inner) + gj·inner + ij → [N, gi, gj, ii, ij, D].
    let x = g.reshape(x, &[n, gh, e.inner, gw, e.inner, e.dim])?;
    let x = g.permute(x, &[0, 1, 3, 2, 4, 5])?;
    let x = g.reshape(x, &[n, gh * gw, e.inner, e.inner, e.dim])?;
    match e.norm_eps {
        Some(eps) => layer_norm(&mut s.pp("norm"), x, e.dim, eps),
        None => Ok(x),
    }
}
