//! Launcher of `fill` (`shaders/wgsl/fill.wgsl`): every element of a view set to one value.
use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::{BackendError, GpuContext, PipelineCache};
use super::support::{groups_1d, WG};
use super::{registered, word};

/// `out[..len] = value`.
pub fn prepare_fill(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    out: View<'_>,
    value: f32,
) -> Result<Dispatch, BackendError> {
    let params = [Word::U(word("fill length", out.len)?), Word::F(value)];
    let groups = groups_1d(ctx, "fill", out.len, WG)?;
    prepare(ctx, cache, registered("fill"), &[], &params, &[out], groups)
}
