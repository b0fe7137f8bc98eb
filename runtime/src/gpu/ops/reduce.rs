//! Launcher of `sum_to` (`shaders/wgsl/reduce.wgsl`): x summed over its broadcast dims down
//! to the output's shape, one workgroup per output element.
use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::lowering::GpuLowering;
use super::super::{BackendError, GpuContext, PipelineCache};
use super::support::{check_rank, push_u32s, u32s};
use super::word;
use tessera_shaders as kernels;

/// Invocations per workgroup (reduce.wgsl's default).
const WG: u32 = 64;

/// Reduced points one invocation sums at most: each costs at most 9 loop iterations (the point
/// and its dims), well inside the 65535 loop iterations lavapipe runs per invocation.
const PER_INVOCATION: usize = 2048;

/// Points one workgroup sums at most.
const PART_LEN: usize = WG as usize * PER_INVOCATION;

/// Scratch elements [`prepare_sum_to`] needs for `in_shape` → `out_shape`: one partial sum
/// per output element and part when a reduction is longer than one workgroup's share.
pub fn sum_to_scratch(in_shape: &[usize], out_shape: &[usize]) -> usize {
    let [(kd, _), (rd, _)] = split_dims(in_shape, out_shape);
    let (n_out, n_red) = (kd.iter().product::<usize>(), rd.iter().product::<usize>());
    match n_red.div_ceil(PART_LEN) {
        0 | 1 => 0,
        parts => n_out * parts,
    }
}

/// The reduction of `x [in_shape]` to `out_shape` as (kept dims, their strides in x) and
/// (reduced dims, their strides in x), adjacent dims of the same kind merged (x is
/// contiguous, so a merged run is one stride) and size-1 dims dropped.
pub fn split_dims(in_shape: &[usize], out_shape: &[usize]) -> [(Vec<usize>, Vec<usize>); 2] {
    let off = in_shape.len() - out_shape.len();
    let mut runs: Vec<(usize, bool)> = Vec::new();
    for (i, &d) in in_shape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let keep = i >= off && out_shape[i - off] == d;
        match runs.last_mut() {
            Some((n, k)) if *k == keep => *n *= d,
            _ => runs.push((d, keep)),
        }
    }
    let mut kept = (Vec::new(), Vec::new());
    let mut red = (Vec::new(), Vec::new());
    let mut stride = 1;
    for &(n, keep) in runs.iter().rev() {
        let side = if keep { &mut kept } else { &mut red };
        side.0.insert(0, n);
        side.1.insert(0, stride);
        stride *= n;
    }
    [kept, red]
}

/// One `sum_to` launch: `parts` workgroups per output element, each summing `part_len`
/// reduced points, into `out[o · parts + part]`.
#[allow(clippy::too_many_arguments)]
fn launch(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    x: View<'_>,
    [(kd, ks), (rd, rs)]: &[(Vec<usize>, Vec<usize>); 2],
    parts: usize,
    part_len: usize,
    out: View<'_>,
) -> Result<Dispatch, BackendError> {
    check_rank("a sum_to output", kd.len())?;
    check_rank("the reduced dims of a sum_to", rd.len())?;
    let n_out: usize = kd.iter().product();
    let n_red: usize = rd.iter().product();
    let mut w = vec![
        Word::U(word("sum_to outputs", n_out)?),
        Word::U(word("sum_to reduction length", n_red)?),
        Word::U(kd.len() as u32),
        Word::U(rd.len() as u32),
        Word::U(word("sum_to parts", parts)?),
        Word::U(word("sum_to part length", part_len)?),
        Word::U(0),
        Word::U(0),
    ];
    for v in [kd, ks, rd, rs] {
        push_u32s(&mut w, &u32s("a sum_to stride", v)?, 8);
    }
    // One workgroup per output element and part, folded into rows past the dimension limit.
    let groups = super::support::groups_1d(ctx, "sum_to", n_out * parts * WG as usize, WG)?;
    prepare(ctx, cache, &kernels::SUM_TO, &[], &w, &[x, out], groups)
}

/// `out [out_shape] = sum_to(x [in_shape])`. A long reduction is summed in parts into
/// `scratch` ([`sum_to_scratch`] elements), then the parts in order into `out`; without enough
/// scratch that is an error (a single pass would exceed lavapipe's loop limit).
pub fn prepare_sum_to(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    x: View<'_>,
    in_shape: &[usize],
    out: View<'_>,
    out_shape: &[usize],
    scratch: Option<View<'_>>,
) -> Result<Vec<Dispatch>, BackendError> {
    let dims = split_dims(in_shape, out_shape);
    let n_out: usize = dims[0].0.iter().product();
    let n_red: usize = dims[1].0.iter().product();
    let parts = n_red.div_ceil(PART_LEN).max(1);
    if parts == 1 {
        return Ok(vec![launch(ctx, cache, x, &dims, 1, n_red, out)?]);
    }
    let scratch = match scratch {
        Some(s) if s.len >= n_out * parts => s,
        _ => {
            return Err(BackendError::Limit {
                what: format!("scratch elements of a sum_to over {in_shape:?}"),
                needed: (n_out * parts) as u64,
                allowed: scratch.map_or(0, |s| s.len as u64),
            })
        }
    };
    let first = launch(ctx, cache, x, &dims, parts, PART_LEN, scratch)?;
    // The parts, `[n_out, parts]` in scratch, summed in order.
    let second = split_dims(&[n_out, parts], &[n_out, 1]);
    let second = launch(ctx, cache, scratch, &second, 1, parts, out)?;
    Ok(vec![first, second])
}

/// `SumTo`, its long reductions in parts through scratch.
pub(crate) const SUM_TO: GpuLowering = GpuLowering::new(|l, cache| {
    let (x, out) = (l.input(0), l.output(0));
    let scratch = l.scratch.first().copied();
    prepare_sum_to(l.ctx, cache, x, l.in_shape(0), out, l.out_shape(), scratch)
})
.with_scratch(
    |g, node| match sum_to_scratch(g.shape(node.inputs[0]), &node.shape) {
        0 => vec![],
        n => vec![n],
    },
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reductions_need_scratch_for_their_parts() {
        assert_eq!(sum_to_scratch(&[64, 100], &[100]), 0);
        assert_eq!(sum_to_scratch(&[PART_LEN, 3], &[3]), 0);
        assert_eq!(sum_to_scratch(&[PART_LEN + 1, 3], &[3]), 6);
        assert_eq!(sum_to_scratch(&[5 * PART_LEN], &[]), 5);
    }

    #[test]
    fn dims_split_into_kept_and_reduced_runs() {
        // Bias gradient: [B, L, D] -> [D].
        let [k, r] = split_dims(&[4, 5, 6], &[6]);
        assert_eq!(k, (vec![6], vec![1]));
        assert_eq!(r, (vec![20], vec![6]));
        // Position-table gradient: [B, L, D] -> [1, L, D].
        let [k, r] = split_dims(&[4, 5, 6], &[1, 5, 6]);
        assert_eq!(k, (vec![30], vec![1]));
        assert_eq!(r, (vec![4], vec![30]));
        // Interleaved: [2, 3, 4] -> [2, 1, 4].
        let [k, r] = split_dims(&[2, 3, 4], &[2, 1, 4]);
        assert_eq!(k, (vec![2, 4], vec![12, 1]));
        assert_eq!(r, (vec![3], vec![4]));
        // Everything to a scalar, and nothing reduced.
        assert_eq!(
            split_dims(&[3, 4], &[]),
            [(vec![], vec![]), (vec![12], vec![1])]
        );
        assert_eq!(
            split_dims(&[3, 1], &[3, 1]),
            [(vec![3], vec![1]), (vec![], vec![])]
        );
    }
}
