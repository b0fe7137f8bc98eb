//! Why a mask could not be built.
use super::check::Violation;
use super::invariant::Conflict;
use crate::Ratio;

/// Errors of the masking strategies. Each names the offending value and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MaskError {
    /// A grid with a zero side has no tokens to mask.
    EmptyGrid { h: usize, w: usize },
    /// The ratio would keep no token (MAE's loss divides by the masked count, models need at
    /// least one visible token).
    NothingKept { len: usize, ratio: Ratio },
    /// The ratio would mask no token.
    NothingMasked { len: usize, ratio: Ratio },
    /// Supplied noise (or mask) does not have one value per token.
    WrongLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// Supplied noise holds a NaN or an infinity, which has no place in an ordering.
    NonFiniteNoise { index: usize },
    /// Uniform sampling keeps one token of every 2x2 block, so its ratio is 3/4 exactly.
    UniformRatio { ratio: Ratio },
    /// Uniform sampling needs a grid of whole 2x2 blocks.
    OddGrid { h: usize, w: usize },
    /// A mask given to a uniform-mask operation does not hold exactly one visible token in
    /// the 2x2 block at block coordinates (`bh`, `bw`).
    NotUniform {
        bh: usize,
        bw: usize,
        visible: usize,
    },
    /// Tube masking needs a positive tubelet that divides the frame count.
    Tubelet { frames: usize, tubelet: usize },
    /// A pyramid needs at least one stage.
    NoStages,
    /// The grid cannot be halved `stages - 1` times (stage grid = grid / 2^s).
    StageGrid { h: usize, w: usize, stages: usize },
    /// A window does not tile the grid it is laid on.
    Window {
        grid_h: usize,
        grid_w: usize,
        win_h: usize,
        win_w: usize,
    },
    /// A mask value other than 0 (keep) or 1 (removed).
    NotBinary { index: usize, value: u8 },
    /// `ids_keep`/`ids_shuffle` is not a permutation of `0..len`.
    NotPermutation { len: usize },
    /// A layout with no frames.
    NoFrames,
    /// A layout with a part (frames, stages, text tokens) the strategy has no use for.
    UnusedLayout {
        strategy: &'static str,
        part: &'static str,
        value: usize,
    },
    /// No mask can keep the declared invariants on this layout and ratio.
    Unsatisfiable(Conflict),
    /// A strategy drew a mask that breaks an invariant it declares (the first violation found).
    Broken {
        strategy: &'static str,
        // Boxed: a violation lists tokens, and every `Result` of the strategies carries this.
        violation: alloc::boxed::Box<Violation>,
    },
}

impl core::fmt::Display for MaskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            MaskError::EmptyGrid { h, w } => {
                write!(
                    f,
                    "grid {h}x{w} has no tokens; both sides must be at least 1"
                )
            }
            MaskError::NothingKept { len, ratio } => write!(
                f,
                "mask ratio {ratio} keeps no token of {len}; use a smaller ratio or a larger grid"
            ),
            MaskError::NothingMasked { len, ratio } => write!(
                f,
                "mask ratio {ratio} masks no token of {len}; use a larger ratio or a larger grid"
            ),
            MaskError::WrongLength {
                what,
                expected,
                got,
            } => write!(
                f,
                "{what} has {got} values, expected {expected} (one per token)"
            ),
            MaskError::NonFiniteNoise { index } => {
                write!(
                    f,
                    "noise value {index} is not finite; noise must be real numbers"
                )
            }
            MaskError::UniformRatio { ratio } => write!(
                f,
                "uniform sampling keeps one token per 2x2 block, so its ratio must be 3/4, not \
                 {ratio}"
            ),
            MaskError::OddGrid { h, w } => write!(
                f,
                "uniform sampling needs a grid of whole 2x2 blocks, but grid {h}x{w} has an odd \
                 side"
            ),
            MaskError::NotUniform { bh, bw, visible } => write!(
                f,
                "2x2 block ({bh}, {bw}) holds {visible} visible tokens; a uniform mask holds \
                 exactly 1"
            ),
            MaskError::Tubelet { frames, tubelet } => write!(
                f,
                "tube masking needs the frame count to be a positive multiple of the tubelet \
                 size, got {frames} frames and tubelet {tubelet}"
            ),
            MaskError::NoStages => f.write_str("a pyramid needs at least one stage"),
            MaskError::StageGrid { h, w, stages } => write!(
                f,
                "grid {h}x{w} cannot be halved for {stages} stages: both sides must be \
                 multiples of 2^{}",
                stages.saturating_sub(1)
            ),
            MaskError::Window {
                grid_h,
                grid_w,
                win_h,
                win_w,
            } => write!(
                f,
                "window {win_h}x{win_w} does not tile grid {grid_h}x{grid_w}; window sides must \
                 be positive divisors of the grid sides"
            ),
            MaskError::NotBinary { index, value } => {
                write!(
                    f,
                    "mask value {index} is {value}; a mask holds 0 (keep) or 1 (removed)"
                )
            }
            MaskError::NotPermutation { len } => {
                write!(f, "the indices are not a permutation of 0..{len}")
            }
            MaskError::NoFrames => f.write_str("a clip needs at least one frame"),
            MaskError::UnusedLayout {
                strategy,
                part,
                value,
            } => write!(
                f,
                "masking strategy `{strategy}` has no use for {value} {part}; it masks {}",
                match part {
                    "frames" => "single images",
                    "stages" => "the token grid itself",
                    _ => "image tokens only",
                }
            ),
            MaskError::Unsatisfiable(conflict) => {
                write!(f, "no mask can keep the declared invariants: {conflict}")
            }
            MaskError::Broken {
                strategy,
                ref violation,
            } => write!(
                f,
                "masking strategy `{strategy}` broke an invariant it declares: {violation}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MaskError {}
