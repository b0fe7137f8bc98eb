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
    fn erf(self) -> Self;
    /// `exp(x)`, possibly approximated (relative error < 2e-7 for f32).
    fn exp_fast(self) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn erf(self) -> f32 {
        erf_f32(self)
    }
    #[inline(always)]
    fn exp_fast(self) -> f32 {
        exp_f32(self)
    }
}

impl Real for f64 {
    fn erf(self) -> f64 {
        libm::erf(self)
    }
    fn exp_fast(self) -> f64 {
        self.exp()
    }
}

/// erf for f32 as a rational function of x on [-4, 4] (Eigen's `generic_fast_erf_float`
/// coefficients); |error| < 1e-6 against libm.
#[inline(always)]
#[allow(clippy::manual_clamp)] // max/min vectorize to packed ops; NaN propagates as NaN.
pub fn erf_f32(x: f32) -> f32 {
    // max/min rather than clamp: both lower to packed min/max, so the loop vectorizes.
    let x = x.max(-4.0).min(4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_600_5e-3;
    p = x2 * p + -1.609_603_3e-2;
    let p = x * p;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_3e-3;
    q = x2 * q + -1.426_474e-2;
    p / q
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

#[inline(always)]
fn erf<F: Real>(x: F) -> F {
    x.erf()
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
/// 1/sqrt(2π), the standard normal density at 0.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// tanh through `exp_fast`: `1 − 2 / (exp(2u) + 1)`, saturating cleanly at ±1.
#[inline(always)]
fn tanh<F: Real>(u: F) -> F {
    let two = c::<F>(2.0);
    F::one() - two / ((two * u).exp_fast() + F::one())
}

/// Exact GELU `x·Φ(x)`.
#[inline(always)]
pub fn gelu_erf<F: Real>(x: F) -> F {
    x * c::<F>(0.5) * (F::one() + erf(x * c(FRAC_1_SQRT_2)))
}

/// `dy · d/dx [x·Φ(x)] = dy · (Φ(x) + x·φ(x))`.
#[inline(always)]
pub fn gelu_erf_grad<F: Real>(x: F, dy: F) -> F {
    let cdf = c::<F>(0.5) * (F::one() + erf(x * c(FRAC_1_SQRT_2)));
    let pdf = c::<F>(INV_SQRT_2PI) * (-(x * x) * c(0.5)).exp_fast();
    dy * (cdf + x * pdf)
}

/// GELU, tanh approximation.
#[inline(always)]
pub fn gelu_tanh<F: Real>(x: F) -> F {
    let u = c::<F>(SQRT_2_OVER_PI) * (x + c::<F>(0.044715) * x * x * x);
    c::<F>(0.5) * x * (F::one() + tanh(u))
}

/// Gradient of the tanh-approximated GELU times `dy`.
#[inline(always)]
pub fn gelu_tanh_grad<F: Real>(x: F, dy: F) -> F {
    let k = c::<F>(SQRT_2_OVER_PI);
    let a = c::<F>(0.044715);
    let u = k * (x + a * x * x * x);
    let t = tanh(u);
    let du = k * (F::one() + c::<F>(3.0) * a * x * x);
    dy * (c::<F>(0.5) * (F::one() + t) + c::<F>(0.5) * x * (F::one() - t * t) * du)
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
    fn fast_f32_functions_match_libm() {
        let mut worst_erf: f64 = 0.0;
        let mut worst_exp: f64 = 0.0;
        for i in 0..=200_000 {
            let x = -6.0 + 12.0 * i as f64 / 200_000.0;
            let e = (erf_f32(x as f32) as f64 - libm::erf(x)).abs();
            worst_erf = worst_erf.max(e);
            // Compare at the f32 input itself (rounding x would dominate for large |x|).
            let y = (-80.0 + 160.0 * i as f64 / 200_000.0) as f32 as f64;
            let r = ((exp_f32(y as f32) as f64 - libm::exp(y)) / libm::exp(y)).abs();
            worst_exp = worst_exp.max(r);
        }
        assert!(worst_erf < 1e-6, "erf abs error {worst_erf}");
        assert!(worst_exp < 1e-6, "exp rel error {worst_exp}");
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
