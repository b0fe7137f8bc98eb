//! Launcher of `fill` (`shaders/wgsl/fill.wgsl`): every element of a view set to one value.
use tessera_dsl::graph::{misrouted, Op};

use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::lowering::GpuLowering;
use super::super::{BackendError, GpuContext, PipelineCache};
use super::support::{groups_1d, WG};
use super::word;
use tessera_shaders as kernels;

/// `out[..len] = value`.
pub fn prepare_fill(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    out: View<'_>,
    value: f32,
) -> Result<Dispatch, BackendError> {
    let params = [Word::U(word("fill length", out.len)?), Word::F(value)];
    let groups = groups_1d(ctx, "fill", out.len, WG)?;
    prepare(ctx, cache, &kernels::FILL, &[], &params, &[out], groups)
}

/// `Fill`.
pub(crate) const FILL: GpuLowering = GpuLowering::new(|l, cache| {
    let Op::Fill { value } = l.node.op else {
        misrouted(&l.node.op)
    };
    Ok(vec![prepare_fill(l.ctx, cache, l.output(0), value as f32)?])
});
