//! The one `unsafe` call of the CPU kernels: `matrixmultiply`'s raw-pointer GEMM, behind
//! checks that make it sound for any arguments. A matrix is a slice with dims and element
//! strides; every element the GEMM reads or writes must lie inside its slice, and distinct
//! elements of `c` must be distinct places (the GEMM may write them from several threads).

/// A strided matrix over a slice: element (i, j) is `slice[i·rs + j·cs]`.
pub type Strided<S> = (S, isize, isize);

/// `sgemm` or `dgemm`.
pub type RawGemm<E> = unsafe fn(
    usize,
    usize,
    usize,
    E,
    *const E,
    isize,
    isize,
    *const E,
    isize,
    isize,
    E,
    *mut E,
    isize,
    isize,
);

/// Whether every element of a `rows × cols` matrix with strides `rs`, `cs` lies in a slice
/// of `len` elements. Strides must not be negative (`matrixmultiply` allows them; nothing
/// here needs them).
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

/// `c = alpha·a·b + beta·c` for `a [m, k]`, `b [k, n]`, `c [m, n]` by `gemm`.
///
/// # Panics
///
/// If a matrix does not fit its slice, has a negative stride, or `c` maps two of its
/// elements to one place.
#[allow(unsafe_code, clippy::too_many_arguments)]
pub fn checked_gemm<E>(
    gemm: RawGemm<E>,
    (m, k, n): (usize, usize, usize),
    alpha: E,
    a: Strided<&[E]>,
    b: Strided<&[E]>,
    beta: E,
    c: Strided<&mut [E]>,
) {
    assert!(
        fits(a.0.len(), m, k, a.1, a.2) && fits(b.0.len(), k, n, b.1, b.2),
        "gemm: an operand's view is out of bounds"
    );
    assert!(
        fits(c.0.len(), m, n, c.1, c.2) && injective(m, n, c.1, c.2),
        "gemm: the destination's view is out of bounds or overlaps itself"
    );
    // SAFETY: every element (i, p) of `a`, (p, j) of `b` and (i, j) of `c` that the GEMM
    // touches is at a non-negative offset inside its slice (checked above); `c` is an
    // exclusive borrow, so it aliases neither `a` nor `b`, and its elements are distinct
    // places, so no two writes (or threads) share one.
    unsafe {
        gemm(
            m,
            k,
            n,
            alpha,
            a.0.as_ptr(),
            a.1,
            a.2,
            b.0.as_ptr(),
            b.1,
            b.2,
            beta,
            c.0.as_mut_ptr(),
            c.1,
            c.2,
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
            matrixmultiply::dgemm,
            (2, 3, 2),
            1.0,
            (&a, 3, 1),
            (&b, 2, 1),
            0.0,
            (&mut c, 2, 1),
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
            matrixmultiply::sgemm,
            (2, 3, 2),
            1.0,
            (&a, 3, 1),
            (&b, 2, 1),
            0.0,
            (&mut c, 2, 1),
        );
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
    }
}
