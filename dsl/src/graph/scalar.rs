//! Scalar definitions of the elementwise ops, generic over the float type: the single source
//! of truth that the CPU kernels (f32 and f64) and the reference tests share.
use num_traits::Float;

use super::op::{BinaryOp, UnaryOp};

/// An f64 constant in `F`.
#[inline(always)]
pub fn c<F: Float>(x: f64) -> F {
    F::from(x).unwrap_or_else(F::nan)
}

/// A float type with the functions the ops need beyond `Float`. f64 uses libm (exact to an
/// ulp: the oracle); f32 uses branch-free approximations that vectorize (GELU runs on every
/// MLP activation, so a libm call per element would cost more than the MLP's matmuls).
pub trait Real: Float + Send + Sync + 'static {
    /// `exp(x)`, possibly approximated (relative error < 2e-7 for f32).
    fn exp_fast(self) -> Self;
    /// Exact GELU `x·Φ(x)` (PyTorch `nn.GELU()`).
    fn gelu_erf(self) -> Self;
    /// `dy · d/dx [x·Φ(x)] = dy · (Φ(x) + x·φ(x))`.
    fn gelu_erf_grad(self, dy: Self) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn exp_fast(self) -> f32 {
        exp_f32(self)
    }
    #[inline(always)]
    fn gelu_erf(self) -> f32 {
        let (cdf, _) = normal_cdf_pdf_f32(self, false);
        self * cdf
    }
    #[inline(always)]
    fn gelu_erf_grad(self, dy: f32) -> f32 {
        let (cdf, pdf) = normal_cdf_pdf_f32(self, true);
        dy * self.mul_add(pdf, cdf)
    }
}

impl Real for f64 {
    fn exp_fast(self) -> f64 {
        self.exp()
    }
    fn gelu_erf(self) -> f64 {
        self * normal_cdf_f64(self)
    }
    fn gelu_erf_grad(self, dy: f64) -> f64 {
        let pdf = INV_SQRT_2PI * libm::exp(-0.5 * self * self);
        dy * (normal_cdf_f64(self) + self * pdf)
    }
}

/// Φ(x) in f64 through erfc, accurate relative to Φ in the lower tail too (where
/// `1 + erf` would cancel).
fn normal_cdf_f64(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// exp for f32 by range reduction to [-ln2/2, ln2/2] and a degree-6 polynomial; inputs are
/// clamped to the finite range (exp(-88) ≈ 6e-39, exp(88) ≈ 1.7e38).
#[inline(always)]
#[allow(clippy::manual_clamp)]
pub fn exp_f32(x: f32) -> f32 {
    let x = x.max(-87.0).min(88.0);
    // Round to nearest by the 1.5·2^23 trick (no floor call, which SSE2 lacks).
    const MAGIC: f32 = 12_582_912.0;
    let n = (x * core::f32::consts::LOG2_E + MAGIC) - MAGIC;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let mut p = 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `exp(a + c)` for f32 where `a` is exact and large (down to -170) and `c` a small
/// correction (|c| < 4): the range reduction works on `a` alone, exactly (Cody–Waite with
/// fused multiply-adds), and `c` joins the small remainder, so the result has the relative
/// error of the polynomial (< 1e-8) and of `c`, not the 1e-5 that rounding `a + c` to f32
/// would cost at |a| ≈ 100. Results below f32's range go through the subnormals to 0.
#[inline(always)]
fn exp_parts_f32(a: f32, c: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    let k = (a + c).mul_add(core::f32::consts::LOG2_E, MAGIC);
    let n = k.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
    let nf = k - MAGIC;
    let r = (-nf).mul_add(0.693_145_75, a);
    let r = (-nf).mul_add(1.428_606_8e-6, r) + c;
    let mut p = 1.0 / 5040.0;
    for coef in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p.mul_add(r, coef);
    }
    // 2^n in two normal halves (n reaches -250), so that tiny results round gradually.
    let half = n >> 1;
    let pow2 = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    p * pow2(half) * pow2(n - half)
}

/// Coefficients of Numerical Recipes' `erfcc` (W. H. Press et al., 2nd ed., §6.2):
/// `erfc(z) = t·exp(−z² + P(t))`, `t = 1 / (1 + z/2)`, relative error below 1.2e-7 for every
/// z ≥ 0 (a Chebyshev fit), highest degree first.
// As published (more digits than f32 holds).
#[allow(clippy::excessive_precision)]
const ERFC_P: [f32; 10] = [
    0.170_872_77,
    -0.822_152_23,
    1.488_515_87,
    -1.135_203_98,
    0.278_868_07,
    -0.186_288_06,
    0.096_784_18,
    0.374_091_96,
    1.000_023_68,
    -1.265_512_23,
];

/// Φ(x) and (if `with_pdf`) φ(x) for f32, branch-free so that loops over them vectorize.
///
/// Φ comes from the upper tail `Q = ½·erfc(|x|/√2)` (Φ = Q below 0, 1 − Q above), with the
/// tail relative-accurate: erfc by [`ERFC_P`], and exp(−x²/2) of the exact square (x² split
/// into its f32 value and the rounding error, which a fused multiply-add gives) so that
/// rounding x² cannot cost 1e-5 in the far tail. Relative error of Φ below 1e-6 down to
/// x = −12 (where Φ ≈ 2e-33), 2e-6 below; |x| is clamped at 18, beyond which Q rounds to 0.
#[inline(always)]
#[allow(clippy::manual_clamp)]
fn normal_cdf_pdf_f32(x: f32, with_pdf: bool) -> (f32, f32) {
    let xc = x.max(-18.0).min(18.0);
    let z = xc.abs() * FRAC_1_SQRT_2 as f32;
    let t = 1.0 / 0.5f32.mul_add(z, 1.0);
    let mut p = ERFC_P[0];
    for &coef in &ERFC_P[1..] {
        p = p.mul_add(t, coef);
    }
    // x²/2 = hi + lo exactly (halving is exact).
    let sq = xc * xc;
    let (hi, lo) = (0.5 * sq, 0.5 * xc.mul_add(xc, -sq));
    let q = 0.5 * t * exp_parts_f32(-hi, p - lo);
    let cdf = if x < 0.0 { q } else { 1.0 - q };
    let pdf = if with_pdf {
        INV_SQRT_2PI as f32 * exp_parts_f32(-hi, -lo)
    } else {
        0.0
    };
    (cdf, pdf)
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
/// 1/sqrt(2π), the standard normal density at 0.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Exact GELU `x·Φ(x)`.
#[inline(always)]
pub fn gelu_erf<F: Real>(x: F) -> F {
    x.gelu_erf()
}

/// `dy · d/dx [x·Φ(x)] = dy · (Φ(x) + x·φ(x))`.
#[inline(always)]
pub fn gelu_erf_grad<F: Real>(x: F, dy: F) -> F {
    x.gelu_erf_grad(dy)
}

/// GELU, tanh approximation: `0.5·x·(1 + tanh u)` with `u = √(2/π)·(x + 0.044715·x³)`,
/// computed as `x·σ(2u) = x·e/(e + 1)` with `e = exp(2u)`: `1 + tanh u` cancels for negative
/// u (relative error 1e-5 in f32 at x ≈ −3), this form does not.
#[inline(always)]
pub fn gelu_tanh<F: Real>(x: F) -> F {
    let u = c::<F>(SQRT_2_OVER_PI) * (x + c::<F>(0.044715) * x * x * x);
    let e = (c::<F>(2.0) * u).exp_fast();
    x * (e / (e + F::one()))
}

/// Gradient of the tanh-approximated GELU times `dy`: with `s = σ(2u)` and
/// `1 − s = 1/(e + 1)` (no cancellation), `s + 2·x·s·(1 − s)·du/dx`.
#[inline(always)]
pub fn gelu_tanh_grad<F: Real>(x: F, dy: F) -> F {
    let k = c::<F>(SQRT_2_OVER_PI);
    let a = c::<F>(0.044715);
    let u = k * (x + a * x * x * x);
    let e = (c::<F>(2.0) * u).exp_fast();
    let inv = F::one() / (e + F::one());
    let s = e * inv;
    let du = k * (F::one() + c::<F>(3.0) * a * x * x);
    dy * (s + c::<F>(2.0) * x * s * inv * du)
}

/// `f(x)` for a unary op.
pub fn unary<F: Real>(op: UnaryOp, x: F) -> F {
    match op {
        UnaryOp::Affine { mul, add } => x * c(mul) + c(add),
        UnaryOp::GeluErf => gelu_erf(x),
        UnaryOp::GeluTanh => gelu_tanh(x),
        UnaryOp::Relu => x.max(F::zero()),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Recip => x.recip(),
        UnaryOp::Square => x * x,
        UnaryOp::Tanh => x.tanh(),
    }
}

/// `dy · f'(x)` for a unary op.
pub fn unary_grad<F: Real>(op: UnaryOp, x: F, dy: F) -> F {
    let d = match op {
        UnaryOp::Affine { mul, .. } => c(mul),
        UnaryOp::GeluErf => gelu_erf_grad(x, F::one()),
        UnaryOp::GeluTanh => gelu_tanh_grad(x, F::one()),
        UnaryOp::Relu => {
            if x > F::zero() {
                F::one()
            } else {
                F::zero()
            }
        }
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.recip(),
        UnaryOp::Sqrt => c::<F>(0.5) / x.sqrt(),
        UnaryOp::Recip => -(x * x).recip(),
        UnaryOp::Square => c::<F>(2.0) * x,
        UnaryOp::Tanh => {
            let t = x.tanh();
            F::one() - t * t
        }
    };
    dy * d
}

/// `a ∘ b` for a binary op.
pub fn binary<F: Float>(op: BinaryOp, a: F, b: F) -> F {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_libm() {
        let mut worst: f64 = 0.0;
        for i in 0..=200_000 {
            // Compare at the f32 input itself (rounding x would dominate for large |x|).
            let y = (-80.0 + 160.0 * i as f64 / 200_000.0) as f32 as f64;
            let r = ((exp_f32(y as f32) as f64 - libm::exp(y)) / libm::exp(y)).abs();
            worst = worst.max(r);
        }
        assert!(worst < 1e-6, "exp rel error {worst}");
    }

    /// The f32 GELU and its gradient against f64 (libm's erfc) at every 997th f32 bit
    /// pattern, which visits every binade of both signs: relative error below 1e-6 (the
    /// gradient: of its two terms Φ(x) and x·φ(x), which cancel near x = −0.75; measured
    /// worst 4.3e-7 and 4.6e-7), and an
    /// absolute 2^-110 (8e-34) for results below f32's full precision in the far negative
    /// tail (x < −11.5). NaN stays NaN, +∞ gives +∞, −∞ gives the formula's −∞·0 = NaN.
    #[test]
    fn gelu_erf_f32_error_is_bounded_over_the_whole_f32_range() {
        let floor = (-110f64).exp2();
        let (mut worst_rel, mut worst_grad_rel) = (0f64, 0f64);
        for bits in (0..=u32::MAX).step_by(997) {
            let x = f32::from_bits(bits);
            if !x.is_finite() {
                continue;
            }
            let xd = f64::from(x);
            let cdf = 0.5 * libm::erfc(-xd * FRAC_1_SQRT_2);
            let x_pdf = xd * INV_SQRT_2PI * libm::exp(-0.5 * xd * xd);
            let want = xd * cdf;
            let got = f64::from(x.gelu_erf());
            let err = (got - want).abs();
            assert!(
                err <= 1e-6 * want.abs() + floor,
                "gelu({x:e}) = {got:e}, want {want:e}"
            );
            if want.abs() > 1e3 * floor {
                worst_rel = worst_rel.max(err / want.abs());
            }
            let (want_d, mag_d) = (cdf + x_pdf, cdf.abs() + x_pdf.abs());
            let got_d = f64::from(x.gelu_erf_grad(1.0));
            let err_d = (got_d - want_d).abs();
            assert!(
                err_d <= 1e-6 * mag_d + floor,
                "gelu'({x:e}) = {got_d:e}, want {want_d:e}"
            );
            if mag_d > 1e3 * floor {
                worst_grad_rel = worst_grad_rel.max(err_d / mag_d);
            }
        }
        assert!(worst_rel < 1e-6 && worst_grad_rel < 1e-6);
        assert!(f32::NAN.gelu_erf().is_nan() && f32::NAN.gelu_erf_grad(1.0).is_nan());
        assert_eq!(f32::INFINITY.gelu_erf(), f32::INFINITY);
        assert!(f32::NEG_INFINITY.gelu_erf().is_nan());
    }

    /// The f32 tanh GELU relative to the same formula in f64, where `1 + tanh u` used to
    /// cancel (x < 0): rounding x to u in f32 moves 2u by a few ulp of |2u|, which exp turns
    /// into a relative error of that size: bound 2.4e-7·(1 + |2u|) (4 ulp of 2u plus the
    /// polynomial's). Down to x = −9.5 (2u ≈ −77): below 2u = −87 `exp_fast` clamps, and the
    /// result (< 1e-37) is floored there.
    #[test]
    fn gelu_tanh_f32_keeps_its_relative_precision_for_negative_x() {
        for i in 0..=20000 {
            let x = -9.5 + 9.5 * i as f64 / 20000.0;
            let xf = x as f32;
            let xd = f64::from(xf);
            let two_u = 2.0 * SQRT_2_OVER_PI * (xd + 0.044715 * xd * xd * xd);
            let (got, want) = (f64::from(gelu_tanh(xf)), gelu_tanh(xd));
            let bound = 2.4e-7 * (1.0 + two_u.abs());
            assert!(
                (got - want).abs() <= bound * want.abs(),
                "gelu_tanh({x}) = {got:e}, want {want:e}"
            );
            let (got_d, want_d) = (f64::from(gelu_tanh_grad(xf, 1.0)), gelu_tanh_grad(xd, 1.0));
            let mag = want_d.abs().max(1e-30);
            assert!(
                (got_d - want_d).abs() <= 2.0 * bound * mag + 1e-7,
                "gelu_tanh'({x}) = {got_d:e}, want {want_d:e}"
            );
        }
    }

    #[test]
    fn gelu_f32_matches_f64() {
        for i in 0..=4000 {
            let x = -8.0 + 16.0 * i as f64 / 4000.0;
            for op in [UnaryOp::GeluErf, UnaryOp::GeluTanh] {
                let (a, b) = (unary(op, x as f32) as f64, unary(op, x));
                assert!(
                    (a - b).abs() < 2e-6 * (1.0 + b.abs()),
                    "{op:?}({x}): {a} vs {b}"
                );
                let (a, b) = (unary_grad(op, x as f32, 1.0) as f64, unary_grad(op, x, 1.0));
                assert!((a - b).abs() < 2e-6, "{op:?}'({x}): {a} vs {b}");
            }
        }
    }
}
