//! Exact rational mask ratios (`3/4`, `9/10`): the number of kept or masked tokens is an integer
//! fact of a spec, so ratios are never floats.

/// A ratio `num / den` strictly between 0 and 1, in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ratio {
    pub num: u32,
    pub den: u32,
}

/// Why a ratio was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RatioError {
    /// The text is not `a/b` or a decimal such as `0.75`.
    Syntax,
    /// The value is not strictly between 0 and 1.
    OutOfRange,
}

impl core::fmt::Display for RatioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RatioError::Syntax => {
                f.write_str("a ratio is written as a fraction like 3/4 or a decimal like 0.75")
            }
            RatioError::OutOfRange => f.write_str("a ratio must lie strictly between 0 and 1"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RatioError {}

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl Ratio {
    /// `num / den`, reduced; an error unless `0 < num < den`.
    pub const fn new(num: u32, den: u32) -> Result<Ratio, RatioError> {
        if num == 0 || den == 0 || num >= den {
            return Err(RatioError::OutOfRange);
        }
        let g = gcd(num as u64, den as u64) as u32;
        Ok(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    /// Like [`Ratio::new`] but panics (a compile error in const context) when out of range.
    pub const fn of(num: u32, den: u32) -> Ratio {
        match Ratio::new(num, den) {
            Ok(r) => r,
            Err(_) => panic!("a mask ratio must lie strictly between 0 and 1"),
        }
    }

    /// Tokens kept out of `len` as MAE counts them: `floor(len * (1 - r))`.
    pub const fn keep_of(self, len: usize) -> usize {
        (len as u64 * (self.den - self.num) as u64 / self.den as u64) as usize
    }

    /// Tokens masked out of `len` as VideoMAE / MixMIM count them: `floor(len * r)`.
    pub const fn masked_of(self, len: usize) -> usize {
        (len as u64 * self.num as u64 / self.den as u64) as usize
    }

    /// The ratio as a float (for display and for official code paths that use floats).
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// Parses `3/4` or an exact decimal such as `0.75` (read as 75/100, so no rounding).
    pub fn parse(text: &str) -> Result<Ratio, RatioError> {
        let text = text.trim();
        if let Some((a, b)) = text.split_once('/') {
            let num: u32 = a.trim().parse().map_err(|_| RatioError::Syntax)?;
            let den: u32 = b.trim().parse().map_err(|_| RatioError::Syntax)?;
            return Ratio::new(num, den);
        }
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(RatioError::Syntax);
        }
        if !int.bytes().all(|c| c.is_ascii_digit())
            || !frac.bytes().all(|c| c.is_ascii_digit())
            || frac.len() > 9
        {
            return Err(RatioError::Syntax);
        }
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| RatioError::Syntax)?
        };
        let den = 10u64.pow(frac.len() as u32);
        let frac_val: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| RatioError::Syntax)?
        };
        let num = int
            .checked_mul(den)
            .and_then(|v| v.checked_add(frac_val))
            .ok_or(RatioError::OutOfRange)?;
        if num >= den {
            return Err(RatioError::OutOfRange);
        }
        Ratio::new(num as u32, den as u32)
    }
}

impl core::fmt::Display for Ratio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_official_formulas() {
        let r = Ratio::of(3, 4);
        assert_eq!(r.keep_of(196), 49);
        assert_eq!(r.keep_of(49), 12); // int(49 * 0.25) = 12
        let v = Ratio::of(9, 10);
        assert_eq!(v.masked_of(196), 176); // VideoMAE: 20 visible per slice
        assert_eq!(v.keep_of(196), 19); // MAE's formula keeps 19
    }

    #[test]
    fn parses_fractions_and_decimals_exactly() {
        assert_eq!(Ratio::parse("3/4"), Ok(Ratio { num: 3, den: 4 }));
        assert_eq!(Ratio::parse("6/8"), Ok(Ratio { num: 3, den: 4 }));
        assert_eq!(Ratio::parse("0.75"), Ok(Ratio { num: 3, den: 4 }));
        assert_eq!(Ratio::parse(".9"), Ok(Ratio { num: 9, den: 10 }));
        assert_eq!(Ratio::parse("1/1"), Err(RatioError::OutOfRange));
        assert_eq!(Ratio::parse("0"), Err(RatioError::OutOfRange));
        assert_eq!(Ratio::parse("1.5"), Err(RatioError::OutOfRange));
        assert_eq!(Ratio::parse("abc"), Err(RatioError::Syntax));
        assert_eq!(Ratio::parse("3/"), Err(RatioError::Syntax));
    }
}
