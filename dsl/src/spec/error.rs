//! `ShapeError`: a broken shape rule, with a message that names the family, the rule and the
//! numbers. It is built by `const fn`s into a fixed buffer (no allocation), so the very same
//! value is a compile error inside a macro's `const` item and a typed error at run time.

/// One shape rule. Every rule is explained, with its reason and an example, in
/// `docs/shape-rules.md`; a message ends with the rule's name so it can be looked up there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Every stated size (width, depth, heads, patch, ...) is at least 1.
    SizeAtLeastOne,
    /// Every stated size is at most [`MAX_SIZE`](super::MAX_SIZE), so derived products fit.
    SizeLimit,
    /// A hierarchical spec has between 1 and [`MAX_STAGES`](super::MAX_STAGES) stages.
    StageCount,
    /// A mask ratio lies strictly between 0 and 1.
    RatioInOpenUnitInterval,
    /// H == W: the 2-D sin-cos pos-embed, patchify and unpatchify assume a square grid.
    SquareImage,
    /// img % patch == 0.
    PatchDividesImage,
    /// D % heads == 0 for every attention stack.
    HeadsDivideWidth,
    /// D % 4 == 0 where a 2-D sin-cos position embedding is used.
    SinCos2dWidth,
    /// D % 2 == 0 where a 1-D sinusoid position table is used.
    SinCos1dWidth,
    /// The MLP ratio is a positive finite number giving a hidden width of at least 1.
    MlpHidden,
    /// The LayerNorm epsilon is a positive finite number.
    LayerNormEps,
    /// The mask leaves at least one token visible.
    KeepAtLeastOne,
    /// The mask removes at least one token (else the masked-token loss divides by zero).
    MaskAtLeastOne,
    /// Uniform sampling keeps one token per 2x2 block: ratio exactly 3/4.
    UniformRatioThreeQuarters,
    /// Uniform sampling needs an even mask grid (2x2 blocks tile it).
    UniformEvenGrid,
    /// Block-wise masking works in cells of `cell x cell` tokens, which must tile the grid.
    BlockCellDividesGrid,
    /// A custom mask declares exactly one kept count (its invariants may state it several
    /// ways, which must agree): the encoder's sequence length is fixed when the model is built.
    MaskDeclaresCount,
    /// The windows or cells a custom mask declares tile the token grid.
    MaskWindowDividesGrid,
    /// A windowed encoder that drops masked tokens needs a mask that leaves every window the
    /// same number of visible tokens (uniform sampling), or the windows cannot be batched.
    WindowedTokenDropping,
    /// UM-Swin: the mask cell is a whole number of patches.
    MaskCellMultipleOfPatch,
    /// UM-Swin: the mask cell divides the image.
    MaskCellDividesImage,
    /// UM-Swin: the compacted visible quarter halves evenly through every patch merging.
    CompactionThroughStages,
    /// Every stage's effective window `min(window, grid)` divides its token grid.
    WindowDividesGrid,
    /// Patch merging maps width C to 2C, so stage s+1 is twice as wide as stage s.
    MergeDoublesWidth,
    /// UM-Swin: the pixel-shuffled final map has one token per visible mask cell.
    DecoderCoversVisibleCells,
    /// MixMIM: the token grid halves evenly at every merge, down to the mask grid.
    StagesHalveToMaskGrid,
    /// HiViT: patch % inner_patches == 0 (the patch-embed conv kernel is patch / inner).
    InnerPatchesDividePatch,
    /// HiViT: inner_patches == 2^(MLP stages), so the hierarchy collapses each patch to 1x1.
    InnerPatchesCollapse,
    /// HiViT: D % 2^(MLP stages) == 0 (stage widths D/4, D/2, D).
    WidthSplitsAcrossStages,
    /// VideoMAE: frames % tubelet == 0.
    TubeletDividesFrames,
    /// VideoMAE: 3 channels (the official head asserts 3 * tubelet * p^2 outputs).
    ThreeChannels,
    /// A spec and the official constructor's arguments map onto each other (run time only: a
    /// float `mlp_ratio` must be whole, one ratio serves encoder and decoder).
    OfficialArgs,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 32] = [
        Rule::SizeAtLeastOne,
        Rule::SizeLimit,
        Rule::StageCount,
        Rule::RatioInOpenUnitInterval,
        Rule::SquareImage,
        Rule::PatchDividesImage,
        Rule::HeadsDivideWidth,
        Rule::SinCos2dWidth,
        Rule::SinCos1dWidth,
        Rule::MlpHidden,
        Rule::LayerNormEps,
        Rule::KeepAtLeastOne,
        Rule::MaskAtLeastOne,
        Rule::UniformRatioThreeQuarters,
        Rule::UniformEvenGrid,
        Rule::BlockCellDividesGrid,
        Rule::MaskDeclaresCount,
        Rule::MaskWindowDividesGrid,
        Rule::WindowedTokenDropping,
        Rule::MaskCellMultipleOfPatch,
        Rule::MaskCellDividesImage,
        Rule::CompactionThroughStages,
        Rule::WindowDividesGrid,
        Rule::MergeDoublesWidth,
        Rule::DecoderCoversVisibleCells,
        Rule::StagesHalveToMaskGrid,
        Rule::InnerPatchesDividePatch,
        Rule::InnerPatchesCollapse,
        Rule::WidthSplitsAcrossStages,
        Rule::TubeletDividesFrames,
        Rule::ThreeChannels,
        Rule::OfficialArgs,
    ];

    /// The rule's name as it appears in messages and docs.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::SizeAtLeastOne => "size_at_least_one",
            Rule::SizeLimit => "size_limit",
            Rule::StageCount => "stage_count",
            Rule::RatioInOpenUnitInterval => "ratio_in_open_unit_interval",
            Rule::SquareImage => "square_image",
            Rule::PatchDividesImage => "patch_divides_image",
            Rule::HeadsDivideWidth => "heads_divide_width",
            Rule::SinCos2dWidth => "sincos_2d_width",
            Rule::SinCos1dWidth => "sincos_1d_width",
            Rule::MlpHidden => "mlp_hidden",
            Rule::LayerNormEps => "layer_norm_eps",
            Rule::KeepAtLeastOne => "keep_at_least_one",
            Rule::MaskAtLeastOne => "mask_at_least_one",
            Rule::UniformRatioThreeQuarters => "uniform_ratio_three_quarters",
            Rule::UniformEvenGrid => "uniform_even_grid",
            Rule::BlockCellDividesGrid => "block_cell_divides_grid",
            Rule::MaskDeclaresCount => "mask_declares_count",
            Rule::MaskWindowDividesGrid => "mask_window_divides_grid",
            Rule::WindowedTokenDropping => "windowed_token_dropping",
            Rule::MaskCellMultipleOfPatch => "mask_cell_multiple_of_patch",
            Rule::MaskCellDividesImage => "mask_cell_divides_image",
            Rule::CompactionThroughStages => "compaction_through_stages",
            Rule::WindowDividesGrid => "window_divides_grid",
            Rule::MergeDoublesWidth => "merge_doubles_width",
            Rule::DecoderCoversVisibleCells => "decoder_covers_visible_cells",
            Rule::StagesHalveToMaskGrid => "stages_halve_to_mask_grid",
            Rule::InnerPatchesDividePatch => "inner_patches_divide_patch",
            Rule::InnerPatchesCollapse => "inner_patches_collapse",
            Rule::WidthSplitsAcrossStages => "width_splits_across_stages",
            Rule::TubeletDividesFrames => "tubelet_divides_frames",
            Rule::ThreeChannels => "three_channels",
            Rule::OfficialArgs => "official_args",
        }
    }
}

/// The model family a spec belongs to; it prefixes every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Mae,
    UmSwin,
    HiVit,
    MixMim,
    VideoMae,
    M3ae,
}

impl Family {
    /// Display name, as the papers write it.
    pub const fn name(self) -> &'static str {
        match self {
            Family::Mae => "MAE",
            Family::UmSwin => "UM-Swin",
            Family::HiVit => "HiViT",
            Family::MixMim => "MixMIM",
            Family::VideoMae => "VideoMAE",
            Family::M3ae => "M3AE",
        }
    }

    /// The `family = "..."` key of a TOML spec.
    pub const fn key(self) -> &'static str {
        match self {
            Family::Mae => "mae",
            Family::UmSwin => "um_swin",
            Family::HiVit => "hivit",
            Family::MixMim => "mixmim",
            Family::VideoMae => "videomae",
            Family::M3ae => "m3ae",
        }
    }
}

/// Message capacity in bytes; the longest message is well under it, and longer text is cut at
/// a character boundary rather than lost.
const CAP: usize = 320;

/// A broken shape rule: which rule, and a message naming the family, the rule and the numbers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShapeError {
    rule: Rule,
    len: usize,
    buf: [u8; CAP],
}

impl ShapeError {
    /// Starts a message `"<Family>: "` for `rule`; add text with [`s`](Self::s) and numbers
    /// with [`n`](Self::n), then close it with [`done`](Self::done).
    pub const fn new(family: Family, rule: Rule) -> ShapeError {
        ShapeError {
            rule,
            len: 0,
            buf: [0; CAP],
        }
        .s(family.name())
        .s(": ")
    }

    /// Appends text (cut at a character boundary when the buffer is full).
    pub const fn s(mut self, text: &str) -> ShapeError {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let width = utf8_width(bytes[i]);
            if self.len + width > CAP || i + width > bytes.len() {
                break;
            }
            let mut k = 0;
            while k < width {
                self.buf[self.len] = bytes[i + k];
                self.len += 1;
                k += 1;
            }
            i += width;
        }
        self
    }

    /// Appends a number in decimal.
    pub const fn n(self, value: usize) -> ShapeError {
        self.n_wide(value as u128)
    }

    /// Appends a 128-bit number in decimal (a macro literal as written).
    pub const fn n_wide(self, value: u128) -> ShapeError {
        let mut digits = [0u8; 39];
        let mut count = 0;
        let mut v = value;
        loop {
            digits[38 - count] = b'0' + (v % 10) as u8;
            count += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let (_, tail) = digits.split_at(39 - count);
        match core::str::from_utf8(tail) {
            Ok(text) => self.s(text),
            Err(_) => self,
        }
    }

    /// Appends `a x b` (a grid or image size).
    pub const fn nxn(self, a: usize, b: usize) -> ShapeError {
        self.n(a).s("x").n(b)
    }

    /// Appends `num/den`.
    pub const fn ratio(self, r: crate::Ratio) -> ShapeError {
        self.n(r.num as usize).s("/").n(r.den as usize)
    }

    /// Closes the message with the rule's name and where the rules are explained.
    pub const fn done(self) -> ShapeError {
        let rule = self.rule;
        self.s(" (rule ")
            .s(rule.name())
            .s(", see docs/shape-rules.md)")
    }

    /// The rule that was broken.
    pub const fn rule(&self) -> Rule {
        self.rule
    }

    /// The message; `const` so a macro's const item can panic with it.
    pub const fn as_str(&self) -> &str {
        let (used, _) = self.buf.split_at(self.len);
        match core::str::from_utf8(used) {
            Ok(text) => text,
            // Unreachable: `s` only copies whole UTF-8 characters.
            Err(_) => "shape rule broken (message not valid UTF-8)",
        }
    }
}

/// Bytes in the UTF-8 character that starts with `first`.
const fn utf8_width(first: u8) -> usize {
    if first < 0x80 {
        1
    } else if first >= 0xF0 {
        4
    } else if first >= 0xE0 {
        3
    } else {
        2
    }
}

/// Lets run-time code (not const) write formatted text, e.g. a float, into a message.
impl core::fmt::Write for ShapeError {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        *self = self.s(text);
        Ok(())
    }
}

impl core::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for ShapeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShapeError")
            .field("rule", &self.rule)
            .field("message", &self.as_str())
            .finish()
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ShapeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_names_the_rule() {
        let e = ShapeError::new(Family::Mae, Rule::PatchDividesImage)
            .s("patch ")
            .n(16)
            .s(" does not divide image ")
            .n(200)
            .done();
        assert_eq!(
            e.as_str(),
            "MAE: patch 16 does not divide image 200 (rule patch_divides_image, see docs/shape-rules.md)"
        );
        let z = ShapeError::new(Family::M3ae, Rule::SizeLimit)
            .n(0)
            .s(" ")
            .n(usize::MAX);
        assert_eq!(z.as_str(), alloc::format!("M3AE: 0 {}", usize::MAX));
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let mut e = ShapeError::new(Family::HiVit, Rule::SizeLimit);
        for _ in 0..200 {
            e = e.s("§");
        }
        let text = e.as_str();
        assert!(text.len() <= CAP && text.len() > CAP - 2);
        assert!(text.ends_with('§'));
    }
}
