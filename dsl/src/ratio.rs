//! Exact rational mask ratios (`3/4`, `9/10`): the number of kept or masked tokens is an integer
//! fact of a spec, so ratios are never floats.
//!
//! A ratio keeps the numbers it was written with (`510/512` prints as `510/512`, not `255/256`,
//! so a message quotes the spec as written); equality and hashing compare values.

/// A ratio `num / den` as written. Specs check `0 < num < den` in their rules
/// (`ratio_in_open_unit_interval`); [`Ratio::new`] checks it at once.
#[derive(Clone, Copy, Debug)]
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
    /// `num / den` as written; an error unless `0 < num < den`.
    pub const fn new(num: u32, den: u32) -> Result<Ratio, RatioError> {
        let r = Ratio { num, den };
        if r.in_open_unit_interval() {
            Ok(r)
        } else {
            Err(RatioError::OutOfRange)
        }
    }

    /// Like [`Ratio::new`] but panics (a compile error in const context) when out of range.
    pub const fn of(num: u32, den: u32) -> Ratio {
        match Ratio::new(num, den) {
            Ok(r) => r,
            Err(_) => panic!("a mask ratio must lie strictly between 0 and 1"),
        }
    }

    /// `0 < num < den`.
    pub const fn in_open_unit_interval(self) -> bool {
        self.num > 0 && self.num < self.den
    }

    /// The same value in lowest terms.
    pub const fn reduced(self) -> Ratio {
        if self.den == 0 {
            return self;
        }
        let g = gcd(self.num as u64, self.den as u64) as u32;
        Ratio {
            num: self.num / g,
            den: self.den / g,
        }
    }

    /// Value equality in const context (`6/8` equals `3/4`).
    pub const fn same_value(self, other: Ratio) -> bool {
        self.num as u64 * other.den as u64 == other.num as u64 * self.den as u64
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

    /// Parses `3/4` or an exact decimal such as `0.75` (read as 3/4, so no rounding), and
    /// checks that it lies strictly between 0 and 1.
    pub fn parse(text: &str) -> Result<Ratio, RatioError> {
        let r = Ratio::parse_any(text)?;
        Ratio::new(r.num, r.den)
    }

    /// Parses without the range check: specs read from files leave that to their rules, so a
    /// ratio out of range reads the same as the compile-time error. A fraction keeps its
    /// numbers; a decimal becomes the reduced fraction it denotes (`0.75` → `3/4`).
    pub fn parse_any(text: &str) -> Result<Ratio, RatioError> {
        let text = text.trim();
        if let Some((a, b)) = text.split_once('/') {
            let num: u32 = a.trim().parse().map_err(|_| RatioError::Syntax)?;
            let den: u32 = b.trim().parse().map_err(|_| RatioError::Syntax)?;
            if den == 0 {
                return Err(RatioError::Syntax);
            }
            return Ok(Ratio { num, den });
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
        let g = gcd(num, den);
        let (num, den) = (num / g, den / g);
        match (u32::try_from(num), u32::try_from(den)) {
            (Ok(num), Ok(den)) => Ok(Ratio { num, den }),
            _ => Err(RatioError::OutOfRange),
        }
    }
}

impl PartialEq for Ratio {
    fn eq(&self, other: &Ratio) -> bool {
        self.same_value(*other)
    }
}

impl Eq for Ratio {}

impl core::hash::Hash for Ratio {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let r = self.reduced();
        (r.num, r.den).hash(state);
    }
}

impl core::fmt::Display for Ratio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    //! A ratio is text in files: `"3/4"` or an exact decimal `"0.75"` (a bare number such as
    //! `0.75` is accepted too). Its range is left to the spec's rules.
    use super::Ratio;
    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    impl Serialize for Ratio {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self)
        }
    }

    struct RatioVisitor;

    impl Visitor<'_> for RatioVisitor {
        type Value = Ratio;

        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a ratio such as \"3/4\" or \"0.75\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Ratio, E> {
            Ratio::parse_any(v).map_err(|e| E::custom(alloc::format!("ratio `{v}`: {e}")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ratio, E> {
            self.visit_str(&alloc::format!("{v}"))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ratio, E> {
            self.visit_str(&alloc::format!("{v}"))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ratio, E> {
            self.visit_str(&alloc::format!("{v}"))
        }
    }

    impl<'de> Deserialize<'de> for Ratio {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ratio, D::Error> {
            d.deserialize_any(RatioVisitor)
        }
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
        assert_eq!(Ratio::parse("0.75"), Ok(Ratio { num: 3, den: 4 }));
        assert_eq!(Ratio::parse(".9"), Ok(Ratio { num: 9, den: 10 }));
        assert_eq!(Ratio::parse("1/1"), Err(RatioError::OutOfRange));
        assert_eq!(Ratio::parse("0"), Err(RatioError::OutOfRange));
        assert_eq!(Ratio::parse("1.5"), Err(RatioError::OutOfRange));
        assert_eq!(Ratio::parse("abc"), Err(RatioError::Syntax));
        assert_eq!(Ratio::parse("3/"), Err(RatioError::Syntax));
        assert_eq!(Ratio::parse_any("3/0"), Err(RatioError::Syntax));
        // Out of range but well formed: left to the spec's rule.
        assert_eq!(Ratio::parse_any("5/4").map(|r| (r.num, r.den)), Ok((5, 4)));
    }

    #[test]
    fn keeps_the_numbers_as_written_and_compares_values() {
        let r = Ratio::parse("510/512").unwrap();
        assert_eq!(alloc::format!("{r}"), "510/512");
        assert_eq!(r, Ratio::of(255, 256));
        assert_eq!(r.reduced().num, 255);
        assert!(Ratio::of(6, 8).same_value(Ratio::of(3, 4)));
    }
}
