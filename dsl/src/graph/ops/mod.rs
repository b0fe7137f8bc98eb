//! The ops of the IR, one file per op (or per small family of ops that share a kernel). A
//! file holds everything the graph knows about its ops: the builder methods on
//! [`Graph`](super::Graph) with their shape rules (typed [`GraphError`](super::GraphError)s,
//! never panics) and the gradient rule; the tables below find them by [`OpKind`].
//!
//! # Adding an op
//!
//! A new op touches exactly these places:
//!
//! 1. `op.rs`: its [`Op`](super::Op) variant and its [`OpKind`], with their one-line arms in
//!    `Op::kind` and `OpKind::name` (and in the flags beside them if it has extra outputs,
//!    index inputs or side effects);
//! 2. its file here, `ops/<op>.rs`: its builder methods with the shape rule, its gradient
//!    rule ([`VjpRule`]) and, in a `#[cfg(feature = "cpu")] mod cpu`, its CPU kernel
//!    ([`CpuKernel`](super::cpu::CpuKernel));
//! 3. one row in each table below, `VJP` and `CPU`;
//! 4. its GPU lowering beside its launcher in tessera-runtime's `gpu/ops/<op>.rs`, and one row
//!    in that crate's `GPU` table (`gpu/ops/mod.rs`); a fused kernel only the CPU backend
//!    has is listed in `Op::is_cpu_only`, made by `passes/cpu_fusion.rs` for plans compiled
//!    for `Target::Cpu`, and its GPU row is `GpuLowering::CPU_ONLY`;
//! 5. its WGSL file `shaders/wgsl/<op>.wgsl` and its kernel constant in tessera-shaders'
//!    registry (listed in `KERNELS`).
//!
//! The reverse pass, the planner and both executors are generic over ops. A table without a
//! row for the new kind does not compile (see [`OpKind::table`]).
pub(crate) mod adamw;
pub mod attention;
mod elementwise;
mod extra;
mod fill;
mod layer_norm;
mod layout;
mod linear;
mod loss;
mod matmul;
mod norm_pix;
mod reduce;
mod softmax;
mod tokens;
mod vision;

pub use vision::PatchOrder;

use super::autodiff::VjpRule;
#[cfg(feature = "cpu")]
use super::cpu::CpuKernel;
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
    (OpKind::LinearAct, linear::FUSED_VJP),
    (OpKind::LinearResidual, linear::FUSED_VJP),
    (OpKind::LinearActGrad, linear::FUSED_VJP),
    (OpKind::LayerNormGrad, VjpRule::MISSING),
    (OpKind::LinearInputSums, linear::FUSED_VJP),
]);

/// The CPU kernel of every op kind (feature `cpu`).
#[cfg(feature = "cpu")]
pub(crate) static CPU: [CpuKernel; OpKind::COUNT] = OpKind::table([
    (OpKind::Leaf, CpuKernel::NOTHING),
    (OpKind::Fill, fill::cpu::FILL),
    (OpKind::Unary, elementwise::cpu::UNARY),
    (OpKind::UnaryGrad, elementwise::cpu::UNARY_GRAD),
    (OpKind::Binary, elementwise::cpu::BINARY),
    (OpKind::Expand, elementwise::cpu::EXPAND),
    (OpKind::Fused, elementwise::cpu::FUSED),
    (OpKind::MatMul, matmul::cpu::MATMUL),
    (OpKind::MatMulBias, matmul::cpu::MATMUL),
    (OpKind::LayerNorm, layer_norm::cpu::LAYER_NORM),
    (OpKind::LayerNormGradX, layer_norm::cpu::LAYER_NORM_GRAD_X),
    (OpKind::LayerNormGradW, layer_norm::cpu::LAYER_NORM_GRAD_W),
    (OpKind::Softmax, softmax::cpu::SOFTMAX),
    (OpKind::SoftmaxGrad, softmax::cpu::SOFTMAX_GRAD),
    (OpKind::Attention, attention::cpu::FORWARD),
    (OpKind::AttentionGrad, attention::cpu::BACKWARD),
    (OpKind::AttentionGradBias, attention::cpu::BACKWARD_BIAS),
    (OpKind::SelfAttention, attention::cpu::FORWARD),
    (OpKind::SelfAttentionGrad, attention::cpu::BACKWARD),
    (OpKind::SelfAttentionGradBias, attention::cpu::BACKWARD_BIAS),
    (OpKind::Extra, CpuKernel::NOTHING),
    (OpKind::GatherRows, tokens::cpu::GATHER_ROWS),
    (OpKind::ScatterRows, tokens::cpu::SCATTER_ROWS),
    (OpKind::Concat, layout::cpu::CONCAT),
    (OpKind::Slice, layout::cpu::SLICE),
    (OpKind::Pad, layout::cpu::PAD),
    (OpKind::Reshape, CpuKernel::NOTHING),
    (OpKind::Permute, layout::cpu::PERMUTE),
    (OpKind::Roll, layout::cpu::ROLL),
    (OpKind::SumTo, reduce::cpu::SUM_TO),
    (OpKind::NormPix, norm_pix::cpu::NORM_PIX),
    (OpKind::MaskedMse, loss::cpu::MASKED_MSE),
    (OpKind::MaskedMseGrad, loss::cpu::MASKED_MSE_GRAD),
    (OpKind::CrossEntropy, loss::cpu::CROSS_ENTROPY),
    (OpKind::CrossEntropyGrad, loss::cpu::CROSS_ENTROPY_GRAD),
    (OpKind::AdamW, adamw::cpu::ADAMW),
    (OpKind::LinearAct, linear::cpu::LINEAR_ACT),
    (OpKind::LinearResidual, linear::cpu::LINEAR_RESIDUAL),
    (OpKind::LinearActGrad, linear::cpu::LINEAR_ACT_GRAD),
    (OpKind::LayerNormGrad, layer_norm::cpu::LAYER_NORM_GRAD),
    (OpKind::LinearInputSums, linear::cpu::LINEAR_INPUT_SUMS),
]);
