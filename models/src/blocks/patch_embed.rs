//! Patch embeddings: a `Conv2d(C, D, k=p, s=p)` over images (`proj.weight [D, C, p, p]`) and a
//! `Conv3d(C, D, k=s=(t, p, p))` over clips (`proj.weight [D, C, t, p, p]`), each computed as
//! a Linear over patches flattened in `(c, [t,] p, q)` order, which is the weight's layout.
use tessera_dsl::graph::{GResult, NodeId, PatchOrder};

use super::Scope;
use crate::params::Init;

/// How the projection starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PatchInit {
    /// MAE: xavier_uniform over the weight viewed as `[D, C·p·p]`; PyTorch's default bias.
    XavierFlat,
    /// UM-MAE: the same weight, a zero bias (its `_init_weights` zeroes conv biases first).
    XavierFlatZeroBias,
    /// PyTorch's Conv default (VideoMAE leaves its Conv3d so): weight and bias
    /// `U(±1/sqrt(C·[t·]p·p))`.
    Torch,
}

fn proj(
    s: &mut Scope,
    weight: &[usize],
    fan_in: usize,
    dim: usize,
    init: PatchInit,
) -> GResult<(NodeId, NodeId)> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let xavier = Init::XavierUniform {
        fan_in,
        fan_out: dim,
    };
    let (w_init, b_init) = match init {
        PatchInit::XavierFlat => (xavier, Init::Uniform { bound }),
        PatchInit::XavierFlatZeroBias => (xavier, Init::Zeros),
        PatchInit::Torch => (Init::Uniform { bound }, Init::Uniform { bound }),
    };
    let w = s.param("weight", weight, w_init)?;
    let b = s.param("bias", &[dim], b_init)?;
    let w = s.g().reshape(w, &[dim, fan_in])?;
    Ok((w, b))
}

/// `imgs [N, C, H, W] → [N, (H/p)·(W/p), D]`, declaring `proj` in `s`.
pub fn patch_embed_2d(
    s: &mut Scope,
    imgs: NodeId,
    channels: usize,
    patch: usize,
    dim: usize,
    init: PatchInit,
) -> GResult<NodeId> {
    let fan_in = channels * patch * patch;
    let (w, b) = proj(
        &mut s.pp("proj"),
        &[dim, channels, patch, patch],
        fan_in,
        dim,
        init,
    )?;
    let patches = s.g().patchify(imgs, patch, PatchOrder::Cpq)?;
    s.g().linear(patches, w, Some(b))
}

/// `clips [N, C, T, H, W] → [N, (T/t)·(H/p)·(W/p), D]` (token index `t·H'W' + h·W' + w`),
/// declaring `proj` in `s`.
pub fn patch_embed_3d(
    s: &mut Scope,
    clips: NodeId,
    tubelet: usize,
    patch: usize,
    dim: usize,
    init: PatchInit,
) -> GResult<NodeId> {
    let shape = s.g().shape(clips).to_vec();
    let [n, c, t, h, w] = shape[..] else {
        return Err(tessera_dsl::graph::GraphError::Argument {
            op: "patch_embed_3d",
            message: format!("expects clips [N, C, T, H, W], got {shape:?}"),
        });
    };
    let (tt, hh, ww) = (t / tubelet, h / patch, w / patch);
    let fan_in = c * tubelet * patch * patch;
    let (wt, b) = proj(
        &mut s.pp("proj"),
        &[dim, c, tubelet, patch, patch],
        fan_in,
        dim,
        init,
    )?;
    let g = s.g();
    // [N, C, T', t, H', p, W', p] → [N, T', H', W', C, t, p, p] → [N, L, C·t·p·p].
    let x = g.reshape(clips, &[n * c, tt, tubelet, hh, patch, ww, patch])?;
    let x = g.permute(x, &[0, 1, 3, 5, 2, 4, 6])?;
    let x = g.reshape(x, &[n, c, tt * hh * ww, tubelet * patch * patch])?;
    let x = g.permute(x, &[0, 2, 1, 3])?;
    let x = g.reshape(x, &[n, tt * hh * ww, fan_in])?;
    g.linear(x, wt, Some(b))
}
