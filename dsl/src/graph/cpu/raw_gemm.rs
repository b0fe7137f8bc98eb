//! The one `unsafe` call of the CPU kernels: the `gemm` crate's raw-pointer GEMM, behind
//! checks that make it sound for any arguments. A matrix is a slice with dims and element
//! strides; every element the GEMM reads or writes must lie inside its slice, and distinct
//! elements of `c` must be distinct places (the GEMM may write them from several threads).
//!
//! `gemm` picks its micro-kernels when it first runs, by the CPU's features (AVX-512 with
//! its `x86-v4` feature, AVX2 + FMA, or plain code), so one binary runs on any x86-64.

/// A strided matrix over a slice: element (i, j) is `slice[i·rs + j·cs]`.
pub type Strided<S> = (S, isize, isize);

/// Whether every element of a `rows × cols` matrix with strides `rs`, `cs` lies in a slice
/// of `len` elements. Strides must not be negative (`gemm` allows them; nothing here needs
/// them).
fn fits(len: usize, rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let (Ok(rs), Ok(cs)) = (usize::try_from(rs), usize::try_from(cs)) else {
        return false;
    };
    let last = (rows - 1)
        .checked_mul(rs)
        .zip((cols - 1).checked_mul(cs))
        .and_then(|(r, c)| r.checked_add(c));
    last.is_some_and(|last| last < len)
}

/// Whether distinct elements of a `rows × cols` matrix with strides `rs`, `cs` are distinct
/// places: rows (or columns) laid out one after another without overlap.
fn injective(rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
    let (rs, cs) = (rs.unsigned_abs(), cs.unsigned_abs());
    rows <= 1 && (cols <= 1 || cs >= 1)
        || cols <= 1 && rs >= 1
        || cs >= 1 && rs >= cols.saturating_mul(cs)
        || rs >= 1 && cs >= rows.saturating_mul(rs)
}

/// `c = alpha·a·b (+ c if accumulate)` for `a [m, k]`, `b [k, n]`, `c [m, n]` (f32 or f64),
/// on the calling thread or (`parallel`) on the rayon pool.
///
/// # Panics
///
/// If a matrix does not fit its slice, has a negative stride, or `c` maps two of its
/// elements to one place; if `E` is neither f32 nor f64.
#[allow(unsafe_code, clippy::too_many_arguments)]
pub fn checked_gemm<E: 'static + Copy + num_traits::One>(
    (m, k, n): (usize, usize, usize),
    alpha: E,
    a: Strided<&[E]>,
    b: Strided<&[E]>,
    accumulate: bool,
    c: Strided<&mut [E]>,
    parallel: bool,
) {
    assert!(
        fits(a.0.len(), m, k, a.1, a.2) && fits(b.0.len(), k, n, b.1, b.2),
        "gemm: an operand's view is out of bounds"
    );
    assert!(
        fits(c.0.len(), m, n, c.1, c.2) && injective(m, n, c.1, c.2),
        "gemm: the destination's view is out of bounds or overlaps itself"
    );
    let is_float = |t| t == core::any::TypeId::of::<f32>() || t == core::any::TypeId::of::<f64>();
    assert!(
        is_float(core::any::TypeId::of::<E>()),
        "gemm: f32 or f64 only"
    );
    let parallelism = if parallel {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every element (i, p) of `a`, (p, j) of `b` and (i, j) of `c` that the GEMM
    // touches is at a non-negative offset inside its slice (checked above); `c` is an
    // exclusive borrow, so it aliases neither `a` nor `b`, and its elements are distinct
    // places, so no two writes (or threads) share one. `E` is f32 or f64, the types the
    // crate computes in (it panics on any other). `gemm` computes
    // `dst = alpha·dst + beta·lhs·rhs` (dst read only if `read_dst`), with column strides
    // before row strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.0.as_mut_ptr(),
            c.2,
            c.1,
            accumulate,
            a.0.as_ptr(),
            a.2,
            a.1,
            b.0.as_ptr(),
            b.2,
            b.1,
            E::one(),
            alpha,
            false,
            false,
            false,
            parallelism,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_must_fit_their_slices() {
        // A row-major [2, 3] in 6 elements, its transpose, and one element short.
        assert!(fits(6, 2, 3, 3, 1) && fits(6, 3, 2, 1, 3));
        assert!(!fits(5, 2, 3, 3, 1));
        // Empty matrices touch nothing; negative or overflowing strides never fit.
        assert!(fits(0, 0, 3, 3, 1) && fits(0, 4, 0, 1, 1));
        assert!(!fits(100, 2, 2, -1, 1));
        assert!(!fits(usize::MAX, 4, 1, isize::MAX, 1));
    }

    #[test]
    fn destinations_must_not_overlap_themselves() {
        assert!(injective(4, 5, 5, 1) && injective(4, 5, 1, 4) && injective(4, 5, 8, 1));
        assert!(injective(1, 5, 0, 1) && injective(5, 1, 1, 0));
        assert!(!injective(4, 5, 0, 1) && !injective(4, 5, 3, 1) && !injective(2, 2, 1, 1));
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_short_operand_panics_instead_of_reading_past_it() {
        let (a, b, mut c) = ([1.0f64; 5], [1.0f64; 6], [0.0f64; 4]);
        checked_gemm::<f64>(
            (2, 3, 2),
            1.0,
            (&a, 3, 1),
            (&b, 2, 1),
            false,
            (&mut c, 2, 1),
            false,
        );
    }

    #[test]
    fn checked_products_are_the_plain_ones() {
        // [[1, 2, 3], [4, 5, 6]] · [[1, 0], [0, 1], [1, 1]] = [[4, 5], [10, 11]].
        let (a, b, mut c) = (
            [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0],
            [1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            [0.0f32; 4],
        );
        checked_gemm::<f32>(
            (2, 3, 2),
            1.0,
            (&a, 3, 1),
            (&b, 2, 1),
            false,
            (&mut c, 2, 1),
            false,
        );
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
        // Accumulating, scaled, on the pool: c + 0.5·a·b.
        checked_gemm::<f32>(
            (2, 3, 2),
            0.5,
            (&a, 3, 1),
            (&b, 2, 1),
            true,
            (&mut c, 2, 1),
            true,
        );
        assert_eq!(c, [6.0, 7.5, 15.0, 16.5]);
    }
}
