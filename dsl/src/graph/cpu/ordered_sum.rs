//! Parallel sums whose value does not depend on thread scheduling.
//!
//! rayon's `sum` adds the terms in the tree its work stealing happens to build, so the same
//! data gave a different last bit from run to run: a 100-epoch M3AE run and its stopped and
//! resumed twin ended with identical parameters but losses differing in the 8th digit. These
//! add fixed chunks in parallel, then the partial sums in order.
use alloc::vec::Vec;

use rayon::prelude::*;

use super::Element;

/// Terms per parallel chunk of [`sum_slice`].
const CHUNK: usize = 4096;

/// `Σ x`, the same value on every run.
pub fn sum_slice<E: Element>(x: &[E]) -> E {
    let partials: Vec<E> = x
        .par_chunks(CHUNK)
        .map(|c| c.iter().fold(E::zero(), |a, &b| a + b))
        .collect();
    partials.into_iter().fold(E::zero(), |a, b| a + b)
}

/// The sum of `terms` (one per row, say) in their order, computed in parallel.
pub fn sum_in_order<E: Element>(terms: impl IndexedParallelIterator<Item = E>) -> E {
    let all: Vec<E> = terms.collect();
    all.into_iter().fold(E::zero(), |a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The association is pinned: chunks of [`CHUNK`] left to right, then their sums left to
    /// right, exactly (f32 terms of mixed sign and size, where any other order differs).
    #[test]
    fn sums_associate_in_a_fixed_order() {
        let mut rng = Rng::seed_from_u64(3);
        let x: Vec<f32> = (0..50_000)
            .map(|i| (rng.next_f32() - 0.5) * if i % 7 == 0 { 1e4 } else { 1.0 })
            .collect();
        let expected = x
            .chunks(CHUNK)
            .map(|c| c.iter().fold(0.0f32, |a, &b| a + b))
            .fold(0.0f32, |a, b| a + b);
        assert_eq!(sum_slice(&x).to_bits(), expected.to_bits());
        let rows = sum_in_order(
            x.par_chunks(10)
                .map(|c| c.iter().fold(0.0f32, |a, &b| a + b)),
        );
        let rows_expected = x
            .chunks(10)
            .map(|c| c.iter().fold(0.0f32, |a, &b| a + b))
            .fold(0.0f32, |a, b| a + b);
        assert_eq!(rows.to_bits(), rows_expected.to_bits());
    }
}
