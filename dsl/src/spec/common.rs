//! Pieces every family shares: the transformer-stack spec, the stage list of the hierarchical
//! families, and the common rules of reference §8 (sizes, heads, sin-cos widths, ratios).
use super::error::{Family, Rule, ShapeError};
use crate::Ratio;

/// Largest size a spec may state (image side, width, depth, heads, ...). Derived products such
/// as `tubelet * patch^2 * channels` then fit a 64-bit `usize` with room to spare.
pub const MAX_SIZE: usize = 1 << 14;
/// Largest vocabulary a text spec may state.
pub const MAX_VOCAB: usize = 1 << 24;
/// Most stages a hierarchical spec may have.
pub const MAX_STAGES: usize = 6;

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

/// A plain ViT stack: `depth` pre-norm blocks of width `dim`, `heads` heads, MLP hidden
/// `dim * mlp_ratio` (every official config uses a whole ratio: 4, or 3 for HiViT's stem).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VitSpec {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub mlp_ratio: usize,
}

/// Sizes derived from a [`VitSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VitDims {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub mlp_hidden: usize,
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
        return Err(ShapeError::new(family, Rule::SizeLimit)
            .s(what)
            .s(" ")
            .n(value)
            .s(" exceeds ")
            .n(limit)
            .s(", the largest value a spec may state")
            .done());
    }
    Ok(value)
}

/// [`size_within`] with the common limit [`MAX_SIZE`].
pub const fn size(family: Family, what: &str, value: usize) -> Result<usize, ShapeError> {
    size_within(family, what, value, MAX_SIZE)
}

/// Reduces a mask ratio, or fails unless it lies strictly between 0 and 1.
pub const fn ratio(family: Family, what: &str, r: Ratio) -> Result<Ratio, ShapeError> {
    match Ratio::new(r.num, r.den) {
        Ok(reduced) => Ok(reduced),
        Err(_) => Err(ShapeError::new(family, Rule::RatioInOpenUnitInterval)
            .s(what)
            .s(" ")
            .ratio(r)
            .s(" does not lie strictly between 0 and 1")
            .done()),
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

impl VitSpec {
    /// Checks the stack's sizes, heads and position-embedding width.
    pub const fn validate(
        &self,
        family: Family,
        role: &str,
        pos: PosEmbed,
    ) -> Result<VitDims, ShapeError> {
        tri!(size(family, role_what(role, " width").as_str(), self.dim));
        tri!(size(family, role_what(role, " depth").as_str(), self.depth));
        tri!(size(family, role_what(role, " heads").as_str(), self.heads));
        tri!(size(
            family,
            role_what(role, " mlp ratio").as_str(),
            self.mlp_ratio
        ));
        let head_dim = tri!(head_dim(family, role, self.dim, self.heads));
        tri!(pos_embed_width(family, role, self.dim, pos));
        Ok(VitDims {
            dim: self.dim,
            depth: self.depth,
            heads: self.heads,
            head_dim,
            mlp_hidden: self.dim * self.mlp_ratio,
        })
    }
}

/// A short const string buffer for "encoder width" style names.
pub struct Name {
    len: usize,
    buf: [u8; 48],
}

impl Name {
    pub const fn as_str(&self) -> &str {
        let (used, _) = self.buf.split_at(self.len);
        match core::str::from_utf8(used) {
            Ok(text) => text,
            Err(_) => "size",
        }
    }
}

/// Concatenates two short ASCII strings in const context (`"encoder" + " width"`).
pub const fn role_what(role: &str, what: &str) -> Name {
    let mut name = Name {
        len: 0,
        buf: [0; 48],
    };
    let parts = [role.as_bytes(), what.as_bytes()];
    let mut p = 0;
    while p < parts.len() {
        let bytes = parts[p];
        let mut i = 0;
        while i < bytes.len() && name.len < name.buf.len() && bytes[i] < 0x80 {
            name.buf[name.len] = bytes[i];
            name.len += 1;
            i += 1;
        }
        p += 1;
    }
    name
}

/// `"stage " + (index + 1)`: stages are numbered from 1 in messages, as in the papers.
pub const fn stage_name(index: usize) -> Name {
    let mut name = role_what("stage ", "");
    // MAX_STAGES < 10, so one digit.
    name.buf[name.len] = b'1' + (index % 9) as u8;
    name.len += 1;
    name
}

/// One stage of a hierarchical encoder: width, blocks, heads and attention window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stage {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub window: usize,
}

/// Up to [`MAX_STAGES`] stages, in a fixed array so specs stay `Copy` and `const`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stages {
    /// Stages given; may exceed `MAX_STAGES`, which `validate` then reports.
    pub len: usize,
    pub items: [Stage; MAX_STAGES],
}

impl Stages {
    /// Copies `stages` (at most [`MAX_STAGES`]; the count is kept so validation can reject more).
    pub const fn new(stages: &[Stage]) -> Stages {
        let empty = Stage {
            dim: 0,
            depth: 0,
            heads: 0,
            window: 0,
        };
        let mut items = [empty; MAX_STAGES];
        let mut i = 0;
        while i < stages.len() && i < MAX_STAGES {
            items[i] = stages[i];
            i += 1;
        }
        Stages {
            len: stages.len(),
            items,
        }
    }

    /// The stages given (capped at [`MAX_STAGES`]).
    pub const fn as_slice(&self) -> &[Stage] {
        let len = if self.len < MAX_STAGES {
            self.len
        } else {
            MAX_STAGES
        };
        self.items.split_at(len).0
    }

    /// The stage count, or the stage-count rule's error.
    pub const fn count(&self, family: Family, least: usize) -> Result<usize, ShapeError> {
        if self.len < least || self.len > MAX_STAGES {
            return Err(ShapeError::new(family, Rule::StageCount)
                .n(self.len)
                .s(" stages given; a spec holds ")
                .n(least)
                .s(" to ")
                .n(MAX_STAGES)
                .done());
        }
        Ok(self.len)
    }
}

/// A short list of sizes (HiViT's MLP-stage depths), fixed-size for the same reason as [`Stages`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SizeList {
    pub len: usize,
    pub items: [usize; MAX_STAGES],
}

impl SizeList {
    pub const fn new(values: &[usize]) -> SizeList {
        let mut items = [0; MAX_STAGES];
        let mut i = 0;
        while i < values.len() && i < MAX_STAGES {
            items[i] = values[i];
            i += 1;
        }
        SizeList {
            len: values.len(),
            items,
        }
    }

    pub const fn as_slice(&self) -> &[usize] {
        let len = if self.len < MAX_STAGES {
            self.len
        } else {
            MAX_STAGES
        };
        self.items.split_at(len).0
    }
}

/// The first `N` entries of a per-stage array, for the `STAGE_*` consts a macro emits.
pub const fn take<const N: usize>(values: &[usize; MAX_STAGES]) -> [usize; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N && i < MAX_STAGES {
        out[i] = values[i];
        i += 1;
    }
    out
}

/// The effective window of a stage, `min(window, grid)` (official Swin/MixMIM blocks clamp it),
/// or the window rule's error when it does not divide the stage's grid.
pub const fn stage_window(
    family: Family,
    stage: usize,
    window: usize,
    grid: usize,
) -> Result<usize, ShapeError> {
    let effective = if window < grid { window } else { grid };
    if !grid.is_multiple_of(effective) {
        return Err(ShapeError::new(family, Rule::WindowDividesGrid)
            .s("window ")
            .n(window)
            .s(" does not divide the ")
            .nxn(grid, grid)
            .s(" token grid of ")
            .s(stage_name(stage).as_str())
            .done());
    }
    Ok(effective)
}

/// Patch merging doubles the width: `stages[s].dim == 2 * stages[s-1].dim`.
pub const fn merge_doubles(family: Family, stages: &[Stage]) -> Result<(), ShapeError> {
    let mut s = 1;
    while s < stages.len() {
        if stages[s].dim != 2 * stages[s - 1].dim {
            return Err(ShapeError::new(family, Rule::MergeDoublesWidth)
                .s(stage_name(s).as_str())
                .s(" width ")
                .n(stages[s].dim)
                .s(" is not twice ")
                .s(stage_name(s - 1).as_str())
                .s(" width ")
                .n(stages[s - 1].dim)
                .s(", as patch merging (C -> 2C) makes it")
                .done());
        }
        s += 1;
    }
    Ok(())
}

/// Checks every stage's sizes and heads; returns the head widths.
pub const fn stage_heads(
    family: Family,
    stages: &[Stage],
) -> Result<[usize; MAX_STAGES], ShapeError> {
    let mut head_dims = [0; MAX_STAGES];
    let mut s = 0;
    while s < stages.len() {
        let name = stage_name(s);
        let st = stages[s];
        tri!(size(
            family,
            role_what(name.as_str(), " width").as_str(),
            st.dim
        ));
        tri!(size(
            family,
            role_what(name.as_str(), " depth").as_str(),
            st.depth
        ));
        tri!(size(
            family,
            role_what(name.as_str(), " heads").as_str(),
            st.heads
        ));
        tri!(size(
            family,
            role_what(name.as_str(), " window").as_str(),
            st.window
        ));
        head_dims[s] = tri!(head_dim(family, name.as_str(), st.dim, st.heads));
        s += 1;
    }
    Ok(head_dims)
}

/// Keeps `floor(len * (1 - r))` tokens (MAE's count) and fails unless at least one stays.
pub const fn keep_at_least_one(
    family: Family,
    what: &str,
    r: Ratio,
    len: usize,
) -> Result<usize, ShapeError> {
    let keep = r.keep_of(len);
    if keep == 0 {
        return Err(ShapeError::new(family, Rule::KeepAtLeastOne)
            .s(what)
            .s(" ratio ")
            .ratio(r)
            .s(" keeps 0 of ")
            .n(len)
            .s(" tokens; at least one must stay visible")
            .done());
    }
    Ok(keep)
}

/// Masks `floor(len * r)` tokens (VideoMAE/MixMIM's count) and fails unless one is masked
/// (`masked < len` always holds, as `r < 1`).
pub const fn masked_within(
    family: Family,
    what: &str,
    r: Ratio,
    len: usize,
) -> Result<usize, ShapeError> {
    let masked = r.masked_of(len);
    if masked == 0 {
        return Err(ShapeError::new(family, Rule::MaskAtLeastOne)
            .s(what)
            .s(" ratio ")
            .ratio(r)
            .s(" masks 0 of ")
            .n(len)
            .s(" tokens; at least one must be masked, or the loss has nothing to average")
            .done());
    }
    Ok(masked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vit_stack_rules() {
        let bad = VitSpec {
            dim: 100,
            depth: 2,
            heads: 3,
            mlp_ratio: 4,
        };
        let e = bad
            .validate(Family::Mae, "encoder", PosEmbed::Free)
            .unwrap_err();
        assert_eq!(e.rule(), Rule::HeadsDivideWidth);
        assert!(e
            .as_str()
            .starts_with("MAE: encoder width 100 is not divisible by 3 heads"));
        let ok = VitSpec {
            dim: 768,
            depth: 12,
            heads: 12,
            mlp_ratio: 4,
        };
        let d = ok
            .validate(Family::Mae, "encoder", PosEmbed::SinCos2d)
            .unwrap();
        assert_eq!((d.head_dim, d.mlp_hidden), (64, 3072));
        let zero = VitSpec { depth: 0, ..ok };
        let e = zero
            .validate(Family::Mae, "decoder", PosEmbed::Free)
            .unwrap_err();
        assert!(e.as_str().starts_with("MAE: decoder depth is 0"), "{e}");
    }

    #[test]
    fn windows_clamp_to_the_grid() {
        assert_eq!(stage_window(Family::MixMim, 2, 14, 7), Ok(7));
        assert_eq!(stage_window(Family::MixMim, 0, 14, 56), Ok(14));
        let e = stage_window(Family::UmSwin, 1, 7, 8).unwrap_err();
        assert!(e
            .as_str()
            .starts_with("UM-Swin: window 7 does not divide the 8x8 token grid of stage 2"));
    }

    #[test]
    fn stage_names_count_from_one() {
        assert_eq!(stage_name(0).as_str(), "stage 1");
        assert_eq!(stage_name(5).as_str(), "stage 6");
    }
}
