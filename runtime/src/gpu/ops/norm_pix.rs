//! Launcher of `norm_pix` (`shaders/wgsl/norm_pix.wgsl`): per-row target normalization.
use tessera_dsl::graph::{misrouted, Op};

use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::lowering::{rows_of, GpuLowering};
use super::super::{BackendError, GpuContext, PipelineCache};
use super::support::{groups_1d, WG};
use super::word;
use tessera_shaders as kernels;

/// `out = norm_pix(x)` over rows of length `d` (`x` holds `rows · d` elements).
#[allow(clippy::too_many_arguments)]
pub fn prepare_norm_pix(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    x: View<'_>,
    out: View<'_>,
    rows: usize,
    d: usize,
    eps: f64,
    eps_on_std: bool,
) -> Result<Dispatch, BackendError> {
    let w = [
        Word::U(word("norm_pix rows", rows)?),
        Word::U(word("norm_pix row length", d)?),
        Word::U(eps_on_std.into()),
        Word::F(eps as f32),
    ];
    let groups = groups_1d(ctx, "norm_pix", rows, WG)?;
    prepare(ctx, cache, &kernels::NORM_PIX, &[], &w, &[x, out], groups)
}

/// `NormPix`.
pub(crate) const NORM_PIX: GpuLowering = GpuLowering::new(|l, cache| {
    let Op::NormPix { eps, eps_on_std } = l.node.op else {
        misrouted(&l.node.op)
    };
    let (rows, d) = rows_of(l.out_shape());
    let (x, out) = (l.input(0), l.output(0));
    let launch = prepare_norm_pix(l.ctx, cache, x, out, rows, d, eps, eps_on_std)?;
    Ok(vec![launch])
});
