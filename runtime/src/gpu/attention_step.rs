//! How the wgpu executor launches the attention family of the IR: separate q, k, v
//! (`Attention*`) or one packed qkv projection (`SelfAttention*`, read in place through strided
//! views), with an optional additive bias broadcast to the scores.
use tessera_dsl::graph::{Graph, Node, Op, Plan, Step};

use super::arena::Arena;
use super::launch::{Dispatch, View};
use super::ops::attention::{
    attention_grad_bias_scratch, prepare_attention, prepare_attention_grad,
    prepare_attention_grad_bias_with_scratch, AttentionDims, BiasMap,
};
use super::{BackendError, GpuContext, PipelineCache};

/// The geometry of one attention node.
struct Geometry {
    dims: AttentionDims,
    /// q, k and v are one packed qkv tensor (input 0).
    packed: bool,
    /// Input number of the bias and how it broadcasts.
    bias: Option<(usize, BiasMap)>,
    /// Input number of `o` (followed by `lse` and `dO`) in a backward op.
    saved: usize,
}

fn geometry(g: &Graph, node: &Node) -> Result<Geometry, BackendError> {
    let sq = g.shape(node.inputs[0]);
    let (dims, scores, has_bias, packed) = match node.op {
        Op::SelfAttention {
            heads,
            scale,
            has_bias,
        }
        | Op::SelfAttentionGrad {
            heads,
            scale,
            has_bias,
        } => packed_dims(sq, heads, scale, has_bias),
        Op::SelfAttentionGradBias { heads, scale } => packed_dims(sq, heads, scale, true),
        Op::Attention { scale, has_bias } | Op::AttentionGrad { scale, has_bias } => {
            split_dims(g, node, scale, has_bias)
        }
        Op::AttentionGradBias { scale } => split_dims(g, node, scale, true),
        _ => unreachable!("only attention ops have an attention geometry"),
    };
    let bias_at = if packed { 1 } else { 3 };
    let bias = if has_bias {
        Some((
            bias_at,
            BiasMap::new(g.shape(node.inputs[bias_at]), &scores)?,
        ))
    } else {
        None
    };
    Ok(Geometry {
        dims,
        packed,
        saved: bias_at + usize::from(has_bias),
        bias,
    })
}

/// `SelfAttention*` over `qkv [B, L, 3·H·d]`: scores `[B, H, L, L]`.
fn packed_dims(
    sq: &[usize],
    heads: usize,
    scale: f64,
    has_bias: bool,
) -> (AttentionDims, Vec<usize>, bool, bool) {
    let (b, l, d) = (sq[0], sq[1], sq[2] / 3 / heads.max(1));
    let dims = AttentionDims::packed(b, l, heads, d, scale);
    (dims, vec![b, heads, l, l], has_bias, true)
}

/// `Attention*` over `q [.., lq, d]`, `k [.., lk, d]`, `v [.., lk, dv]`: scores `[.., lq, lk]`.
fn split_dims(
    g: &Graph,
    node: &Node,
    scale: f64,
    has_bias: bool,
) -> (AttentionDims, Vec<usize>, bool, bool) {
    let (sq, sk, sv) = (
        g.shape(node.inputs[0]),
        g.shape(node.inputs[1]),
        g.shape(node.inputs[2]),
    );
    let r = sq.len();
    let groups = sq[..r - 2].iter().product();
    let (lq, d, lk, dv) = (sq[r - 2], sq[r - 1], sk[r - 2], sv[r - 1]);
    let dims = AttentionDims::split(groups, lq, lk, d, dv, scale);
    let mut scores = sq[..r - 1].to_vec();
    scores.push(lk);
    (dims, scores, has_bias, false)
}

/// Scratch (element counts) the bias gradient uses to sum its parts in parallel.
pub(super) fn scratch_need(g: &Graph, node: &Node) -> Vec<usize> {
    if !matches!(
        node.op,
        Op::AttentionGradBias { .. } | Op::SelfAttentionGradBias { .. }
    ) {
        return vec![];
    }
    // A bias that does not broadcast fails again, with its message, when the step is lowered.
    match geometry(g, node) {
        Ok(Geometry {
            dims,
            bias: Some((_, map)),
            ..
        }) => match attention_grad_bias_scratch(&dims, &map) {
            0 => vec![],
            n => vec![n],
        },
        _ => vec![],
    }
}

/// The launches of one attention step.
pub(super) fn lower(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    plan: &Plan,
    step: &Step,
    arena: &Arena,
    scratch: &[View<'_>],
) -> Result<Vec<Dispatch>, BackendError> {
    let node = plan.graph.node(step.node);
    let geo = geometry(&plan.graph, node)?;
    let input = |j: usize| arena.view(step.inputs[j]);
    let output = |k: usize| arena.view(step.outputs[k]);
    let (q, k, v) = if geo.packed {
        (input(0), input(0), input(0))
    } else {
        (input(0), input(1), input(2))
    };
    let bias = geo.bias.as_ref().map(|(at, m)| (input(*at), m));
    let dims = &geo.dims;
    // The forward's outputs and the incoming gradient, inputs of the backward ops only.
    let saved = || (input(geo.saved), input(geo.saved + 1), input(geo.saved + 2));
    match node.op {
        Op::Attention { .. } | Op::SelfAttention { .. } => {
            prepare_attention(ctx, cache, dims, None, q, k, v, bias, output(0), output(1))
        }
        Op::AttentionGrad { .. } | Op::SelfAttentionGrad { .. } => {
            // The packed layout writes dq, dk and dv into their thirds of one dqkv tensor.
            let (dq, dk, dv) = if geo.packed {
                (output(0), output(0), output(0))
            } else {
                (output(0), output(1), output(2))
            };
            let (o, lse, d_o) = saved();
            prepare_attention_grad(
                ctx, cache, dims, None, q, k, v, bias, o, lse, d_o, dq, dk, dv,
            )
        }
        _ => {
            let bias = bias.expect("a bias gradient has a bias");
            let (o, lse, d_o) = saved();
            prepare_attention_grad_bias_with_scratch(
                ctx,
                cache,
                dims,
                q,
                k,
                v,
                bias,
                o,
                lse,
                d_o,
                output(0),
                scratch.first().copied(),
            )
        }
    }
}
