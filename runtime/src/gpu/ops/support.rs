//! What the launchers of this crate's elementwise-style kernels share: the workgroup grid of a
//! one-invocation-per-item launch, and uniform words laid out as WGSL `array<vec4<u32>, N>`.
use super::super::launch::Word;
use super::super::{grid, BackendError, GpuContext};

/// Invocations per workgroup of the one-dimensional kernels (their `WORKGROUP_SIZE` default).
pub const WG: u32 = 64;

/// Most dims a strided kernel indexes (the WGSL side's `array<vec4<u32>, 2>`).
pub const MAX_RANK: usize = 8;

/// The grid of `items` invocations in workgroups of `wg`: one row of workgroups when it fits
/// the device's per-dimension limit, otherwise rows (the kernels fold `gid.y` back in).
pub fn groups_1d(
    ctx: &GpuContext,
    what: &str,
    items: usize,
    wg: u32,
) -> Result<[u32; 3], BackendError> {
    let max = ctx.device.limits().max_compute_workgroups_per_dimension;
    let n = super::word(what, items.div_ceil(wg as usize))?;
    grid(n, max).ok_or_else(|| BackendError::Limit {
        what: format!("workgroups of {what}"),
        needed: n.into(),
        allowed: u64::from(max).pow(2),
    })
}

/// Appends `values` as u32 words padded with zeros to `slots` words: a WGSL array of
/// `slots / 4` `vec4<u32>` in a uniform.
pub fn push_u32s(words: &mut Vec<Word>, values: &[u32], slots: usize) {
    debug_assert!(values.len() <= slots && slots.is_multiple_of(4));
    words.extend(values.iter().map(|&v| Word::U(v)));
    words.extend(std::iter::repeat_n(Word::U(0), slots - values.len()));
}

/// `values` (dims, strides) as u32 words, or a limit error naming `what`.
pub fn u32s(what: &str, values: &[usize]) -> Result<Vec<u32>, BackendError> {
    values.iter().map(|&v| super::word(what, v)).collect()
}

/// Rejects index spaces of more dims than the strided kernels take.
pub fn check_rank(what: &str, rank: usize) -> Result<(), BackendError> {
    if rank > MAX_RANK {
        return Err(BackendError::Limit {
            what: format!("dims of {what}"),
            needed: rank as u64,
            allowed: MAX_RANK as u64,
        });
    }
    Ok(())
}

/// Row-major strides of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![0; shape.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        s[i] = acc;
        acc *= shape[i];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(contiguous_strides(&[]), Vec::<usize>::new());
    }

    #[test]
    fn padded_words() {
        let mut w = Vec::new();
        push_u32s(&mut w, &[7, 8], 8);
        assert_eq!(w.len(), 8);
        assert!(matches!(w[1], Word::U(8)) && matches!(w[7], Word::U(0)));
    }
}
