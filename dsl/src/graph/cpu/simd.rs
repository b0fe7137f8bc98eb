//! Loops compiled for the widest SIMD the CPU has, chosen when the program runs: the
//! binary targets baseline x86-64, so a plain loop would use SSE2 only. `pulp` detects the
//! instruction set once (AVX-512, AVX2 + FMA, or the baseline) and calls the loop from a
//! function compiled with those features enabled; the code inlined into it vectorizes for
//! them (and `mul_add` becomes one FMA instruction instead of a libm call).
//!
//! A loop is a value implementing [`SimdLoop`] whose `run` is `#[inline(always)]`, as is
//! everything it calls: a closure would not do, since the compiler is free not to inline a
//! large closure, and then its body is baseline code.

use super::Element;

/// A loop to run with [`vectorized`]. Implementations mark `run` `#[inline(always)]`.
pub trait SimdLoop {
    type Output;
    fn run(self) -> Self::Output;
}

struct Dispatch<L>(L);

impl<L: SimdLoop> pulp::WithSimd for Dispatch<L> {
    type Output = L::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> L::Output {
        self.0.run()
    }
}

/// Runs `l` compiled for the best instruction set of this CPU.
#[inline(always)]
pub fn vectorized<L: SimdLoop>(l: L) -> L::Output {
    pulp::Arch::new().dispatch(Dispatch(l))
}

/// Independent partial sums of the reductions below: 16 f32 fill one AVX-512 register. A
/// float reduction into one accumulator has a fixed order, so the compiler may not
/// vectorize it; lanes added at the end can be.
const LANES: usize = 16;

/// `Σ f(a[i], b[i])` (`b` as long as `a`), in [`LANES`] partial sums. Inline into a
/// [`SimdLoop`] to vectorize.
#[inline(always)]
pub fn lane_sum2<E: Element>(a: &[E], b: &[E], f: impl Fn(E, E) -> E) -> E {
    let b = &b[..a.len()];
    let mut acc = [E::zero(); LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            acc[l] = acc[l] + f(x[l], y[l]);
        }
    }
    let mut s = E::zero();
    for (&x, &y) in ar.iter().zip(br) {
        s = s + f(x, y);
    }
    acc.iter().fold(s, |s, &v| s + v)
}

/// `Σ a[i]`, in [`LANES`] partial sums.
#[inline(always)]
pub fn lane_sum<E: Element>(a: &[E]) -> E {
    lane_sum2(a, a, |x, _| x)
}

/// `max a[i]` (−∞ for none), in [`LANES`] partial maxima.
#[inline(always)]
pub fn lane_max<E: Element>(a: &[E]) -> E {
    let mut acc = [E::neg_infinity(); LANES];
    let chunks = a.chunks_exact(LANES);
    let rest = chunks.remainder();
    for x in chunks {
        for l in 0..LANES {
            acc[l] = acc[l].max(x[l]);
        }
    }
    let m = rest.iter().fold(E::neg_infinity(), |m, &x| m.max(x));
    acc.iter().fold(m, |m, &v| m.max(v))
}
