//! Convolutions that are Linear layers in disguise: `Conv2d(in, out, 1)` applied along the last
//! dim (UM-MAE's position MLP), and UM-MAE Swin's patch merging, `LayerNorm(C)` then
//! `Conv2d(C, 2C, k=2, s=2)` over each 2x2 neighbourhood. Weights keep PyTorch's conv shapes
//! (`[out, in, kh, kw]`) so the state dict is the official one.
use tessera_dsl::graph::{GResult, NodeId, PatchOrder};

use super::{layer_norm, Scope};
use crate::params::Init;

/// How a convolution starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConvInit {
    /// UM-MAE's `_init_weights`: weight `normal(0, sqrt(2 / (kh·kw·out)))`, zero bias.
    KaimingOut,
}

fn conv_params(
    s: &mut Scope,
    out: usize,
    inp: usize,
    k: usize,
    init: ConvInit,
) -> GResult<(NodeId, NodeId)> {
    let ConvInit::KaimingOut = init;
    let std = (2.0 / (k * k * out) as f64).sqrt();
    let w = s.param("weight", &[out, inp, k, k], Init::Normal { std })?;
    let b = s.param("bias", &[out], Init::Zeros)?;
    let w = s.g().reshape(w, &[out, inp * k * k])?;
    Ok((w, b))
}

/// `x [.., in] → [.., out]` as `Conv2d(in, out, 1)` on channels-last data.
pub fn conv1x1(
    s: &mut Scope,
    x: NodeId,
    inp: usize,
    out: usize,
    init: ConvInit,
) -> GResult<NodeId> {
    let (w, b) = conv_params(s, out, inp, 1, init)?;
    s.g().linear(x, w, Some(b))
}

/// UM-MAE Swin's `PatchMerge`: `x [N, H, W, C] → [N, H/2, W/2, 2C]`, declaring `norm` and
/// `proj` (a 2x2 stride-2 convolution) in `s`.
pub fn patch_merge_conv(s: &mut Scope, x: NodeId, eps: f64, init: ConvInit) -> GResult<NodeId> {
    let shape = s.g().shape(x).to_vec();
    let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3]);
    let x = layer_norm(&mut s.pp("norm"), x, c, eps)?;
    let (wt, b) = conv_params(&mut s.pp("proj"), 2 * c, c, 2, init)?;
    let g = s.g();
    // Channels-last map to channels-first images, then 2x2 patches in (c, p, q) order: the
    // conv weight's layout.
    let img = g.permute(x, &[0, 3, 1, 2])?;
    let patches = g.patchify(img, 2, PatchOrder::Cpq)?; // [N, (H/2)(W/2), 4C]
    let y = g.linear(patches, wt, Some(b))?;
    g.reshape(y, &[n, h / 2, w / 2, 2 * c])
}
