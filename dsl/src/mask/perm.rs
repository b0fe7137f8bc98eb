//! Orderings shared by every strategy: the stable argsort of noise and inverse permutations.
use super::MaskError;
use alloc::vec::Vec;

/// Indices that sort `noise` ascending; equal values keep their index order (stable), so a
/// mask built from noise is a pure function of the noise. On distinct values this is exactly
/// `torch.argsort(noise)` / `jnp.argsort(noise)`, which is how MAE and M3AE order tokens.
pub fn stable_argsort(noise: &[f32]) -> Result<Vec<usize>, MaskError> {
    if let Some(index) = noise.iter().position(|v| !v.is_finite()) {
        return Err(MaskError::NonFiniteNoise { index });
    }
    let mut ids: Vec<usize> = (0..noise.len()).collect();
    // `sort_by` is stable; finite values are totally ordered by `partial_cmp` (and -0 == +0,
    // as in torch, unlike `total_cmp`).
    ids.sort_by(|&a, &b| {
        noise[a]
            .partial_cmp(&noise[b])
            .unwrap_or(core::cmp::Ordering::Equal)
    });
    Ok(ids)
}

/// The inverse of a permutation: `inv[perm[i]] = i` (MAE's `ids_restore = argsort(ids_shuffle)`).
/// An error unless `perm` holds each of `0..perm.len()` exactly once.
pub fn invert_permutation(perm: &[usize]) -> Result<Vec<usize>, MaskError> {
    let len = perm.len();
    let mut inv = alloc::vec![usize::MAX; len];
    for (i, &p) in perm.iter().enumerate() {
        if p >= len || inv[p] != usize::MAX {
            return Err(MaskError::NotPermutation { len });
        }
        inv[p] = i;
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn argsort_is_ascending_and_stable_on_ties() {
        let noise = [0.5f32, 0.1, 0.5, -0.0, 0.0, 0.9];
        // -0.0 == 0.0, so they keep index order 3, 4; the two 0.5 keep 0, 2.
        assert_eq!(stable_argsort(&noise).unwrap(), vec![3, 4, 1, 0, 2, 5]);
        assert_eq!(
            stable_argsort(&[0.1, f32::NAN]),
            Err(MaskError::NonFiniteNoise { index: 1 })
        );
    }

    #[test]
    fn inverse_undoes_the_permutation() {
        let perm = [3usize, 0, 4, 1, 2];
        let inv = invert_permutation(&perm).unwrap();
        assert_eq!(inv, vec![1, 3, 4, 0, 2]);
        for i in 0..perm.len() {
            assert_eq!(inv[perm[i]], i);
        }
        assert!(invert_permutation(&[0, 0, 1]).is_err());
        assert!(invert_permutation(&[0, 3, 1]).is_err());
    }
}
