//! The rules several families share (sizes, ratios, square images, patches, heads, position
//! embedding widths, MLP widths, LayerNorm epsilon, kept and masked counts, stage windows). Each
//! returns the value it checked, or the rule's [`ShapeError`].
use super::error::{Family, Rule, ShapeError};
use crate::Ratio;

/// Largest size a spec may state (image side, width, depth, heads, ...). Derived products such
/// as `tubelet * patch^2 * channels` then fit a 64-bit `usize` with room to spare.
pub const MAX_SIZE: usize = 1 << 14;
/// Largest vocabulary a text spec may state.
pub const MAX_VOCAB: usize = 1 << 24;

/// `?` for `const fn`s (the `Try` trait is not const).
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Err(e),
        }
    };
}
pub(crate) use tri;

/// Checks one stated size: at least 1 and at most `limit`.
pub const fn size_within(
    family: Family,
    what: &str,
    value: usize,
    limit: usize,
) -> Result<usize, ShapeError> {
    if value == 0 {
        return Err(ShapeError::new(family, Rule::SizeAtLeastOne)
            .s(what)
            .s(" is 0; every size must be at least 1")
            .done());
    }
    if value > limit {
        return Err(too_large(family, what, value as u128, limit));
    }
    Ok(value)
}

/// The size-limit message, shared by specs and macro literals (which are read as `u128`, so
/// the number appears as written, not wrapped to the field's width).
pub const fn too_large(family: Family, what: &str, value: u128, limit: usize) -> ShapeError {
    ShapeError::new(family, Rule::SizeLimit)
        .s(what)
        .s(" ")
        .n_wide(value)
        .s(" exceeds ")
        .n(limit)
        .s(", the largest value a spec may state")
        .done()
}

/// [`size_within`] with the common limit [`MAX_SIZE`].
pub const fn size(family: Family, what: &str, value: usize) -> Result<usize, ShapeError> {
    size_within(family, what, value, MAX_SIZE)
}

/// Fails unless a mask ratio lies strictly between 0 and 1; returns it as written.
pub const fn ratio(family: Family, what: &str, r: Ratio) -> Result<Ratio, ShapeError> {
    if r.in_open_unit_interval() {
        Ok(r)
    } else {
        Err(ShapeError::new(family, Rule::RatioInOpenUnitInterval)
            .s(what)
            .s(" ratio ")
            .ratio(r)
            .s(" does not lie strictly between 0 and 1")
            .done())
    }
}

/// The image side of a square image, or the square-image rule's error.
pub const fn square(family: Family, height: usize, width: usize) -> Result<usize, ShapeError> {
    if height != width {
        return Err(ShapeError::new(family, Rule::SquareImage)
            .s("image ")
            .nxn(height, width)
            .s(" is not square; patchify, unpatchify and the 2-D position embedding need H == W")
            .done());
    }
    Ok(height)
}

/// `image / patch`, or the divisibility rule's error.
pub const fn patch_grid(family: Family, image: usize, patch: usize) -> Result<usize, ShapeError> {
    if !image.is_multiple_of(patch) {
        return Err(ShapeError::new(family, Rule::PatchDividesImage)
            .s("patch ")
            .n(patch)
            .s(" does not divide image ")
            .n(image)
            .done());
    }
    Ok(image / patch)
}

/// `dim / heads`, or the heads rule's error (`role` names the stack: "encoder", "stage 2").
pub const fn head_dim(
    family: Family,
    role: &str,
    dim: usize,
    heads: usize,
) -> Result<usize, ShapeError> {
    if !dim.is_multiple_of(heads) {
        return Err(ShapeError::new(family, Rule::HeadsDivideWidth)
            .s(role)
            .s(" width ")
            .n(dim)
            .s(" is not divisible by ")
            .n(heads)
            .s(" heads")
            .done());
    }
    Ok(dim / heads)
}

/// Which position embedding a stack gets; it decides the width rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PosEmbed {
    /// Learned or relative only: no width rule.
    Free,
    /// 1-D sinusoid (VideoMAE table, M3AE text): even width.
    SinCos1d,
    /// MAE's 2-D sin-cos: width divisible by 4.
    SinCos2d,
}

/// The width rule of a position embedding.
pub const fn pos_embed_width(
    family: Family,
    role: &str,
    dim: usize,
    pos: PosEmbed,
) -> Result<(), ShapeError> {
    match pos {
        PosEmbed::Free => Ok(()),
        PosEmbed::SinCos1d if !dim.is_multiple_of(2) => {
            Err(ShapeError::new(family, Rule::SinCos1dWidth)
                .s(role)
                .s(" width ")
                .n(dim)
                .s(" is odd; the 1-D sinusoid position table pairs sin and cos channels")
                .done())
        }
        PosEmbed::SinCos2d if !dim.is_multiple_of(4) => {
            Err(ShapeError::new(family, Rule::SinCos2dWidth)
                .s(role)
                .s(" width ")
                .n(dim)
                .s(" is not a multiple of 4, which the 2-D sin-cos position embedding needs")
                .done())
        }
        _ => Ok(()),
    }
}

/// timm's MLP width `int(dim * mlp_ratio)` (f64 product, truncated, as Python computes it), or
/// the rule's error when the ratio is not a positive finite number or the width is 0 or huge.
pub const fn mlp_hidden(
    family: Family,
    role: &str,
    dim: usize,
    mlp_ratio: f64,
) -> Result<usize, ShapeError> {
    let hidden = dim as f64 * mlp_ratio;
    // NaN fails both comparisons, so it lands here too.
    let in_range = hidden >= 1.0 && hidden <= (MAX_SIZE * MAX_SIZE) as f64;
    if !in_range {
        return Err(ShapeError::new(family, Rule::MlpHidden)
            .s(role)
            .s(" mlp ratio gives a hidden width of int(")
            .n(dim)
            .s(" * ratio), which is not between 1 and ")
            .n(MAX_SIZE * MAX_SIZE)
            .s("; the ratio must be a positive number")
            .done());
    }
    Ok(hidden as usize)
}

/// The LayerNorm epsilon, or the rule's error unless it is positive and finite.
pub const fn layer_norm_eps(family: Family, eps: f64) -> Result<f64, ShapeError> {
    // NaN fails both comparisons, so it lands here too.
    let positive_finite = eps > 0.0 && eps <= f64::MAX;
    if !positive_finite {
        return Err(ShapeError::new(family, Rule::LayerNormEps)
            .s("layer_norm_eps must be a positive finite number, as LayerNorm divides by ")
            .s("sqrt(var + eps)")
            .done());
    }
    Ok(eps)
}

/// Keeps `floor(len * (1 - r))` tokens (MAE's count) and fails unless at least one stays.
pub const fn keep_at_least_one(
    family: Family,
    what: &str,
    r: Ratio,
    len: usize,
) -> Result<usize, ShapeError> {
    count_at_least_one(family, what, r, len, Count::Kept)
}

/// Masks `floor(len * r)` tokens (VideoMAE/MixMIM's count) and fails unless one is masked
/// (`masked < len` always holds, as `r < 1`).
pub const fn masked_within(
    family: Family,
    what: &str,
    r: Ratio,
    len: usize,
) -> Result<usize, ShapeError> {
    count_at_least_one(family, what, r, len, Count::Masked)
}

/// Which tokens a ratio counts: those it keeps (MAE) or those it masks (VideoMAE, MixMIM).
#[derive(Clone, Copy)]
enum Count {
    Kept,
    Masked,
}

/// The tokens `r` counts of `len`, after checking the ratio; none counted is an error, as the
/// encoder then sees nothing (kept) or the loss averages over nothing (masked).
const fn count_at_least_one(
    family: Family,
    what: &str,
    r: Ratio,
    len: usize,
    count: Count,
) -> Result<usize, ShapeError> {
    let r = tri!(ratio(family, what, r));
    let (counted, rule, verb, why) = match count {
        Count::Kept => (
            r.keep_of(len),
            Rule::KeepAtLeastOne,
            " keeps 0 of ",
            " tokens; at least one must stay visible",
        ),
        Count::Masked => (
            r.masked_of(len),
            Rule::MaskAtLeastOne,
            " masks 0 of ",
            " tokens; at least one must be masked, or the loss has nothing to average",
        ),
    };
    if counted == 0 {
        return Err(ShapeError::new(family, rule)
            .s(what)
            .s(" ratio ")
            .ratio(r)
            .s(verb)
            .n(len)
            .s(why)
            .done());
    }
    Ok(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_width_truncates_like_python_and_rejects_empty_or_nan() {
        assert_eq!(mlp_hidden(Family::Mae, "encoder", 24, 2.5), Ok(60));
        assert_eq!(mlp_hidden(Family::Mae, "encoder", 768, 4.0), Ok(3072));
        assert_eq!(mlp_hidden(Family::Mae, "encoder", 10, 0.15), Ok(1));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.01] {
            let e = mlp_hidden(Family::Mae, "decoder", 10, bad).unwrap_err();
            assert_eq!(e.rule(), Rule::MlpHidden);
        }
    }

    #[test]
    fn eps_must_be_positive_and_finite() {
        assert_eq!(layer_norm_eps(Family::Mae, 1e-6), Ok(1e-6));
        for bad in [0.0, -1e-6, f64::NAN, f64::INFINITY] {
            assert!(layer_norm_eps(Family::Mae, bad).is_err());
        }
    }

    #[test]
    fn ratios_out_of_range_are_quoted_as_written() {
        let e = ratio(Family::Mae, "mask", Ratio { num: 8, den: 8 }).unwrap_err();
        assert!(
            e.as_str()
                .starts_with("MAE: mask ratio 8/8 does not lie strictly between 0 and 1"),
            "{e}"
        );
        let e = too_large(Family::Mae, "image height", 5_000_000_000, MAX_SIZE);
        assert!(
            e.as_str().contains("image height 5000000000 exceeds 16384"),
            "{e}"
        );
    }
}
