//! Launcher of `norm_pix` (`shaders/wgsl/norm_pix.wgsl`): per-row target normalization.
use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::{BackendError, GpuContext, PipelineCache};
use super::support::{groups_1d, WG};
use super::{registered, word};

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
    prepare(
        ctx,
        cache,
        registered("norm_pix"),
        &[],
        &w,
        &[x, out],
        groups,
    )
}
