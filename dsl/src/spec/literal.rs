//! How the macros read the literals a user writes. Integers are taken as `u128`, so a number
//! too large for its field is reported as written (under `#![allow(overflowing_literals)]` a
//! narrower type would wrap it silently); decimals are read from their text, so `4` and `2.5`
//! are both valid MLP ratios. Each helper returns the rule's error, which the macro's `DIMS`
//! const turns into a compile error carrying the message (one error, not a cascade).
use super::error::{Family, Rule, ShapeError};
use super::rules::{too_large, MAX_SIZE, MAX_VOCAB};
use crate::Ratio;

/// Panics with the message of `e` (in const evaluation: a compile error).
pub const fn fail(e: ShapeError) -> ! {
    panic!("{}", e.as_str())
}

/// A size literal: at most [`MAX_SIZE`] (zero is left to the spec's rules).
pub const fn size_lit(family: Family, what: &str, value: u128) -> Result<usize, ShapeError> {
    if value > MAX_SIZE as u128 {
        return Err(too_large(family, what, value, MAX_SIZE));
    }
    Ok(value as usize)
}

/// A vocabulary literal: at most [`MAX_VOCAB`].
pub const fn vocab_lit(family: Family, what: &str, value: u128) -> Result<usize, ShapeError> {
    if value > MAX_VOCAB as u128 {
        return Err(too_large(family, what, value, MAX_VOCAB));
    }
    Ok(value as usize)
}

/// A ratio literal `num / den`; its range is left to the spec's rules.
pub const fn ratio_lit(
    family: Family,
    what: &str,
    num: u128,
    den: u128,
) -> Result<Ratio, ShapeError> {
    if num > u32::MAX as u128 || den > u32::MAX as u128 {
        return Err(ShapeError::new(family, Rule::RatioInOpenUnitInterval)
            .s(what)
            .s(" ratio: numerator and denominator must be at most ")
            .n(u32::MAX as usize)
            .s("; write the fraction in smaller terms")
            .done());
    }
    Ok(Ratio {
        num: num as u32,
        den: den as u32,
    })
}

/// A decimal literal (`4`, `2.5`, `1e-6`, `1.5e-5`) read from its text (`stringify!`), so
/// integers and floats are both accepted. Up to 18 significant digits; the result is the
/// correctly rounded `f64` (one division of two exact values).
pub const fn decimal_lit(family: Family, what: &str, text: &str) -> Result<f64, ShapeError> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut digits = 0;
    let mut exp: i32 = 0;
    let mut seen_point = false;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
        if b[i] == b'.' {
            if seen_point {
                break;
            }
            seen_point = true;
        } else if b[i] != b'_' {
            if digits >= 18 {
                return Err(unreadable(family, what, text));
            }
            mant = mant * 10 + (b[i] - b'0') as u64;
            digits += 1;
            if seen_point {
                exp -= 1;
            }
        }
        i += 1;
    }
    if digits == 0 {
        return Err(unreadable(family, what, text));
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let mut neg = false;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            neg = b[i] == b'-';
            i += 1;
        }
        let mut e: i32 = 0;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && e < 1000 {
            e = e * 10 + (b[i] - b'0') as i32;
            i += 1;
        }
        if i == start {
            return Err(unreadable(family, what, text));
        }
        exp += if neg { -e } else { e };
    }
    // A type suffix (`4f64`, `2.5_f32`) is allowed; anything else is not.
    if (i < b.len() && b[i] != b'f') || exp < -22 || exp > 22 {
        return Err(unreadable(family, what, text));
    }
    let mut scale = 1.0f64;
    let mut k = 0;
    let mag = if exp < 0 { -exp } else { exp };
    while k < mag {
        scale *= 10.0;
        k += 1;
    }
    Ok(if exp < 0 {
        mant as f64 / scale
    } else {
        mant as f64 * scale
    })
}

const fn unreadable(family: Family, what: &str, text: &str) -> ShapeError {
    ShapeError::new(family, Rule::SizeLimit)
        .s(what)
        .s(" `")
        .s(text)
        .s("` is not a decimal number this macro can read exactly (at most 18 digits, ")
        .s("exponent within +-22)")
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_as_the_compiler_reads_them() {
        let f = Family::Mae;
        assert_eq!(decimal_lit(f, "mlp", "4"), Ok(4.0));
        assert_eq!(decimal_lit(f, "mlp", "2.5"), Ok(2.5));
        assert_eq!(decimal_lit(f, "eps", "1e-6"), Ok(1e-6));
        assert_eq!(decimal_lit(f, "eps", "1e-5"), Ok(1e-5));
        assert_eq!(decimal_lit(f, "eps", "1.5e-5"), Ok(1.5e-5));
        assert_eq!(decimal_lit(f, "eps", "0.000001"), Ok(0.000001));
        assert_eq!(decimal_lit(f, "mlp", "4.0f64"), Ok(4.0));
        assert!(decimal_lit(f, "mlp", "x").is_err());
    }

    #[test]
    fn wide_literals_keep_their_value() {
        assert_eq!(size_lit(Family::Mae, "patch", 16), Ok(16));
        assert_eq!(
            ratio_lit(Family::Mae, "mask", 510, 512).map(|r| r.num),
            Ok(510)
        );
        let e = size_lit(Family::Mae, "patch", 1 << 70).unwrap_err();
        assert!(
            e.as_str().contains("patch 1180591620717411303424 exceeds"),
            "{e}"
        );
    }
}
