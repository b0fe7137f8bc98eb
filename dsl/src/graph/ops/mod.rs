//! The ops of the IR, one file per op (or per small family of ops that share a kernel). A
//! file holds everything the graph knows about its ops: the builder methods on
//! [`Graph`](super::Graph) with their shape rules (typed [`GraphError`](super::GraphError)s,
//! never panics) and the gradient rule; the tables below find them by [`OpKind`].
//!
//! # Adding an op
//!
//! A new op touches exactly these places:
//!
//! 1. `op.rs`: its variant of [`Op`](super::Op), its [`OpKind`] and the one-line arms of
//!    `Op::kind` and `OpKind::name`;
//! 2. its file here, `ops/<op>.rs`: builder and shape rule, gradient rule;
//! 3. one row in each table below;
//! 4. in tessera-runtime, its GPU lowering beside its launcher in `gpu/ops/<op>.rs`, and one
//!    row in that crate's `gpu::ops::GPU` table;
//! 5. in tessera-shaders, its WGSL file `wgsl/<op>.wgsl` and its kernel constant in the
//!    registry.
pub(crate) mod adamw;
mod attention;
mod elementwise;
mod extra;
mod fill;
mod layer_norm;
mod layout;
mod loss;
mod matmul;
mod norm_pix;
mod reduce;
mod softmax;
mod tokens;
mod vision;

pub use vision::PatchOrder;

use super::autodiff::VjpRule;
use super::OpKind;

/// The gradient rule of every op kind.
pub(crate) static VJP: [VjpRule; OpKind::COUNT] = OpKind::table([
    (OpKind::Leaf, VjpRule::CONSTANT),
    (OpKind::Fill, VjpRule::CONSTANT),
    (OpKind::Unary, elementwise::UNARY_VJP),
    (OpKind::UnaryGrad, VjpRule::MISSING),
    (OpKind::Binary, elementwise::BINARY_VJP),
    (OpKind::Expand, elementwise::EXPAND_VJP),
    (OpKind::Fused, VjpRule::MISSING),
    (OpKind::MatMul, matmul::MATMUL_VJP),
    (OpKind::MatMulBias, VjpRule::MISSING),
    (OpKind::LayerNorm, layer_norm::LAYER_NORM_VJP),
    (OpKind::LayerNormGradX, VjpRule::MISSING),
    (OpKind::LayerNormGradW, VjpRule::MISSING),
    (OpKind::Softmax, softmax::SOFTMAX_VJP),
    (OpKind::SoftmaxGrad, VjpRule::MISSING),
    (OpKind::Attention, attention::ATTENTION_VJP),
    (OpKind::AttentionGrad, VjpRule::MISSING),
    (OpKind::AttentionGradBias, VjpRule::MISSING),
    (OpKind::SelfAttention, attention::SELF_ATTENTION_VJP),
    (OpKind::SelfAttentionGrad, VjpRule::MISSING),
    (OpKind::SelfAttentionGradBias, VjpRule::MISSING),
    // The producer's rule covers its extra outputs (the backward reads none of them).
    (OpKind::Extra, VjpRule::CONSTANT),
    (OpKind::GatherRows, tokens::GATHER_ROWS_VJP),
    (OpKind::ScatterRows, tokens::SCATTER_ROWS_VJP),
    (OpKind::Concat, layout::CONCAT_VJP),
    (OpKind::Slice, layout::SLICE_VJP),
    (OpKind::Pad, layout::PAD_VJP),
    (OpKind::Reshape, layout::RESHAPE_VJP),
    (OpKind::Permute, layout::PERMUTE_VJP),
    (OpKind::Roll, layout::ROLL_VJP),
    (OpKind::SumTo, reduce::SUM_TO_VJP),
    (OpKind::NormPix, VjpRule::CONSTANT),
    (OpKind::MaskedMse, loss::MASKED_MSE_VJP),
    (OpKind::MaskedMseGrad, VjpRule::MISSING),
    (OpKind::CrossEntropy, loss::CROSS_ENTROPY_VJP),
    (OpKind::CrossEntropyGrad, VjpRule::MISSING),
    (OpKind::AdamW, VjpRule::MISSING),
]);
