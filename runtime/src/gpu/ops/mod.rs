//! Kernel launchers, one file per WGSL kernel family: each turns an op's shapes and arena
//! views into prepared [`Dispatch`](super::launch::Dispatch)es (see `launch.rs` for the
//! binding convention), and lowers the IR's ops that run on it; the `GPU` table finds each
//! op's lowering by kind.

pub mod adamw;
pub mod attention;
pub mod elementwise;
pub mod fill;
pub mod layer_norm;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod matmul_bench;
pub mod norm_pix;
pub mod reduce;
pub mod softmax;
pub(crate) mod support;
pub mod tokens;

use tessera_dsl::graph::OpKind;

use super::launch::View;
use super::lowering::GpuLowering;
use super::BackendError;

/// The GPU lowering of every op kind, grouped by launcher file.
pub(crate) static GPU: [GpuLowering; OpKind::COUNT] = OpKind::table([
    (OpKind::AdamW, adamw::ADAMW),
    (OpKind::Attention, attention::FORWARD),
    (OpKind::SelfAttention, attention::FORWARD),
    (OpKind::AttentionGrad, attention::BACKWARD),
    (OpKind::SelfAttentionGrad, attention::BACKWARD),
    (OpKind::AttentionGradBias, attention::BACKWARD_BIAS),
    (OpKind::SelfAttentionGradBias, attention::BACKWARD_BIAS),
    (OpKind::Unary, elementwise::UNARY),
    (OpKind::UnaryGrad, elementwise::UNARY_GRAD),
    (OpKind::Binary, elementwise::BINARY),
    (OpKind::Expand, elementwise::EXPAND),
    (OpKind::Fused, elementwise::FUSED),
    (OpKind::Fill, fill::FILL),
    (OpKind::LayerNorm, layer_norm::LAYER_NORM),
    (OpKind::LayerNormGradX, layer_norm::LAYER_NORM_GRAD_X),
    (OpKind::LayerNormGradW, layer_norm::LAYER_NORM_GRAD_W),
    (OpKind::Concat, layout::CONCAT),
    (OpKind::Slice, layout::SLICE),
    (OpKind::Pad, layout::PAD),
    (OpKind::Permute, layout::PERMUTE),
    (OpKind::Roll, layout::ROLL),
    (OpKind::MaskedMse, loss::MASKED_MSE),
    (OpKind::MaskedMseGrad, loss::MASKED_MSE_GRAD),
    (OpKind::CrossEntropy, loss::CROSS_ENTROPY),
    (OpKind::CrossEntropyGrad, loss::CROSS_ENTROPY_GRAD),
    (OpKind::MatMul, matmul::MATMUL),
    (OpKind::MatMulBias, matmul::MATMUL),
    (OpKind::NormPix, norm_pix::NORM_PIX),
    (OpKind::SumTo, reduce::SUM_TO),
    (OpKind::Softmax, softmax::SOFTMAX),
    (OpKind::SoftmaxGrad, softmax::SOFTMAX_GRAD),
    (OpKind::GatherRows, tokens::GATHER_ROWS),
    (OpKind::ScatterRows, tokens::SCATTER_ROWS),
    // The CPU backend's fused kernels; plans for wgpu keep the ops they fuse.
    (OpKind::LinearAct, GpuLowering::CPU_ONLY),
    (OpKind::LinearResidual, GpuLowering::CPU_ONLY),
    (OpKind::LinearActGrad, GpuLowering::CPU_ONLY),
    (OpKind::LayerNormGrad, GpuLowering::CPU_ONLY),
    (OpKind::LinearInputSums, GpuLowering::CPU_ONLY),
    // Leaves, views and extra outputs (which their producer writes) launch nothing.
    (OpKind::Leaf, GpuLowering::NOTHING),
    (OpKind::Reshape, GpuLowering::NOTHING),
    (OpKind::Extra, GpuLowering::NOTHING),
]);

/// `n` as a u32 uniform word, or a limit error naming `what`.
pub(crate) fn word(what: &str, n: usize) -> Result<u32, BackendError> {
    u32::try_from(n).map_err(|_| BackendError::Limit {
        what: what.to_string(),
        needed: n as u64,
        allowed: u32::MAX.into(),
    })
}

/// Panics unless `view` holds at least `need` elements: plans size views from the same shapes
/// the launchers receive, so a short view is a planner bug that would otherwise read clamped
/// (wrong) values silently.
pub(crate) fn check_view(what: &str, view: &View<'_>, need: usize) {
    assert!(
        view.len >= need,
        "{what}: view of {} elements, the shapes need {need}",
        view.len
    );
}

/// Threads per row (a power of two, 32..=256) and rows per workgroup for the row kernels
/// (layer norm, softmax): about 4 elements per thread, and short rows packed several to a
/// workgroup so that it still has 128 threads.
pub(crate) fn row_tiling(d: usize) -> (u32, u32) {
    let t_row = d.div_ceil(4).next_power_of_two().clamp(32, 256) as u32;
    (t_row, (128 / t_row).max(1))
}

/// The grid for `groups` workgroups: one row of them, or a 2-D grid when one dimension cannot
/// hold them all (kernels linearize `wid.x + wid.y · num_workgroups.x` and skip the excess).
pub(crate) fn grid_2d(
    ctx: &super::GpuContext,
    what: &str,
    groups: usize,
) -> Result<[u32; 3], BackendError> {
    let max = ctx.device.limits().max_compute_workgroups_per_dimension;
    let needed = word(what, groups)?;
    super::grid(needed, max).ok_or_else(|| BackendError::Limit {
        what: what.to_string(),
        needed: needed.into(),
        allowed: u64::from(max).pow(2),
    })
}

#[cfg(test)]
mod tests {
    use super::row_tiling;

    #[test]
    fn row_tiling_gives_about_four_elements_per_thread() {
        assert_eq!(row_tiling(1), (32, 4));
        assert_eq!(row_tiling(197), (64, 2));
        assert_eq!(row_tiling(768), (256, 1));
        assert_eq!(row_tiling(100_000), (256, 1));
        for d in 1..3000 {
            let (t, rows) = row_tiling(d);
            assert!(
                t.is_power_of_two() && t * rows <= 256 && t * rows >= 128,
                "{d}"
            );
        }
    }
}
