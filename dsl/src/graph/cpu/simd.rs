//! Loops compiled for the widest SIMD the CPU has, chosen when the program runs: the
//! binary targets baseline x86-64, so a plain loop would use SSE2 only. `pulp` detects the
//! instruction set once (AVX-512, AVX2 + FMA, or the baseline) and calls the loop from a
//! function compiled with those features enabled; the code inlined into it vectorizes for
//! them (and `mul_add` becomes one FMA instruction instead of a libm call).
//!
//! A loop is a value implementing [`SimdLoop`] whose `run` is `#[inline(always)]`, as is
//! everything it calls: a closure would not do, since the compiler is free not to inline a
//! large closure, and then its body is baseline code.

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
