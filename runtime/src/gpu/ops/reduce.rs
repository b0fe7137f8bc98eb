//! Launcher of `sum_to` (`shaders/wgsl/reduce.wgsl`): x summed over its broadcast dims down
//! to the output's shape, one workgroup per output element.
use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::{GpuContext, GpuError, PipelineCache};
use super::support::{check_rank, push_u32s, u32s};
use super::{registered, word};

/// Invocations per workgroup (reduce.wgsl's default).
const WG: u32 = 64;

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

/// `out [out_shape] = sum_to(x [in_shape])`.
pub fn prepare_sum_to(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    x: View<'_>,
    in_shape: &[usize],
    out: View<'_>,
    out_shape: &[usize],
) -> Result<Dispatch, GpuError> {
    let [(kd, ks), (rd, rs)] = split_dims(in_shape, out_shape);
    check_rank("a sum_to output", kd.len())?;
    check_rank("the reduced dims of a sum_to", rd.len())?;
    let n_out: usize = kd.iter().product();
    let n_red: usize = rd.iter().product();
    let mut w = vec![
        Word::U(word("sum_to outputs", n_out)?),
        Word::U(word("sum_to reduction length", n_red)?),
        Word::U(kd.len() as u32),
        Word::U(rd.len() as u32),
    ];
    for v in [&kd, &ks, &rd, &rs] {
        push_u32s(&mut w, &u32s("a sum_to stride", v)?, 8);
    }
    // One workgroup per output element, folded into rows past the per-dimension limit.
    let groups = super::support::groups_1d(ctx, "sum_to", n_out * WG as usize, WG)?;
    prepare(ctx, cache, registered("sum_to"), &[], &w, &[x, out], groups)
}

#[cfg(test)]
mod tests {
    use super::*;

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
