//! Scalar definitions of the elementwise ops, generic over the float type: the single source
//! of truth that the CPU kernels (f32 and f64) and the reference tests share.
use num_traits::Float;

use super::op::{BinaryOp, UnaryOp};

fn c<F: Float>(x: f64) -> F {
    F::from(x).unwrap_or_else(F::nan)
}

/// erf via libm in f64 (accurate to ~1 ulp); f32 kernels round the f64 result.
fn erf<F: Float>(x: F) -> F {
    c(libm::erf(x.to_f64().unwrap_or(f64::NAN)))
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
/// 1/sqrt(2π), the standard normal density at 0.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `f(x)` for a unary op.
pub fn unary<F: Float>(op: UnaryOp, x: F) -> F {
    match op {
        UnaryOp::Affine { mul, add } => x * c(mul) + c(add),
        UnaryOp::GeluErf => x * c::<F>(0.5) * (F::one() + erf(x * c(FRAC_1_SQRT_2))),
        UnaryOp::GeluTanh => {
            let u = c::<F>(SQRT_2_OVER_PI) * (x + c::<F>(0.044715) * x * x * x);
            c::<F>(0.5) * x * (F::one() + u.tanh())
        }
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
pub fn unary_grad<F: Float>(op: UnaryOp, x: F, dy: F) -> F {
    let d = match op {
        UnaryOp::Affine { mul, .. } => c(mul),
        UnaryOp::GeluErf => {
            let cdf = c::<F>(0.5) * (F::one() + erf(x * c(FRAC_1_SQRT_2)));
            let pdf = c::<F>(INV_SQRT_2PI) * (-(x * x) * c(0.5)).exp();
            cdf + x * pdf
        }
        UnaryOp::GeluTanh => {
            let k = c::<F>(SQRT_2_OVER_PI);
            let a = c::<F>(0.044715);
            let u = k * (x + a * x * x * x);
            let t = u.tanh();
            let du = k * (F::one() + c::<F>(3.0) * a * x * x);
            c::<F>(0.5) * (F::one() + t) + c::<F>(0.5) * x * (F::one() - t * t) * du
        }
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
