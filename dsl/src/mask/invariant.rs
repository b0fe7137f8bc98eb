//! What a masking strategy promises about every mask it draws, written as data.
//!
//! Data rather than code, because the promises are read at two moments: the shape rules read
//! them in `const fn`s when a spec compiles (how many tokens the encoder gets, whether a
//! windowed encoder can batch its windows), and the checkers ([`super::check`]) test drawn or
//! imported masks against them at run time.
use crate::Ratio;
use core::fmt::{self, Display, Formatter};

/// The part of a sample a count applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// All image tokens of the sample: every frame of a video (text tokens are counted apart).
    Whole,
    /// Each frame (temporal slice) on its own.
    Frame,
    /// Each `k x k` window of a frame's mask grid; the windows tile the grid from its top-left
    /// corner.
    Window(usize),
}

/// One promise about every mask a strategy draws. Tokens are numbered in raster order over the
/// mask grid, frame after frame, then the text tokens; `0 = kept, 1 = removed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// In every unit of `n` tokens exactly `floor(n (1 - r))` are kept (MAE's count).
    KeepsFloor(Unit),
    /// In every unit of `n` tokens exactly `floor(n r)` are removed (VideoMAE's and MixMIM's
    /// count).
    MasksFloor(Unit),
    /// Every `window x window` window keeps exactly `visible` tokens, whatever the ratio
    /// (uniform sampling: one per 2x2 block).
    VisiblePerWindow { window: usize, visible: usize },
    /// Every `window x window` window of a sample keeps the same number of tokens.
    EqualPerWindow { window: usize },
    /// Removed tokens form whole `cell x cell` cells, `floor(C r)` of the `C` cells (block-wise
    /// masking in cells).
    MasksWholeCells { cell: usize },
    /// Every frame carries the same mask (VideoMAE's tubes).
    ConstantAlongTime,
    /// Every sample of a batch carries the same mask; the strategy draws one per batch (MixMIM,
    /// M3AE).
    SharedByBatch,
    /// Sample `i` is mixed with image `N - 1 - i` (MixMIM: `x (1 - m) + x.flip(0) m`): every
    /// token of either image appears in exactly one of the pair's two samples, which holds
    /// when the two masks agree token by token.
    ComplementaryPairs,
    /// `ids_keep` lists the kept tokens in raster order (models that take `x[~mask]`).
    KeptInRasterOrder,
    /// Of the `T` text tokens after the image tokens, `floor(T (1 - ratio))` are kept, with the
    /// text's own ratio (M3AE).
    TextKeepsFloor { ratio: Ratio },
}

/// Why a list of invariants cannot hold on a layout, so that no mask can keep them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// The ratio is not strictly between 0 and 1.
    Ratio { ratio: Ratio },
    /// A window or cell of side `size` does not tile the `h x w` mask grid.
    Tiling { size: usize, h: usize, w: usize },
    /// `VisiblePerWindow` asks for more visible tokens than a window has.
    WindowOverfull { window: usize, visible: usize },
    /// Two count invariants imply different kept counts.
    Counts { first: usize, second: usize },
    /// The counts keep no image token (the encoder needs one).
    NothingKept { tokens: usize },
    /// The counts remove no image token (the loss averages over removed tokens).
    NothingMasked { tokens: usize },
    /// The text ratio keeps no text token.
    NoText { text: usize, ratio: Ratio },
}

impl Invariant {
    /// Does this promise leave every `window x window` window (aligned to the grid) the same
    /// number of kept tokens? True when its own windows tile `window`: a larger window is a
    /// union of equal ones.
    pub const fn balances_window(&self, window: usize) -> bool {
        let k = match *self {
            Invariant::KeepsFloor(Unit::Window(k))
            | Invariant::MasksFloor(Unit::Window(k))
            | Invariant::VisiblePerWindow { window: k, .. }
            | Invariant::EqualPerWindow { window: k } => k,
            _ => return false,
        };
        k > 0 && window.is_multiple_of(k)
    }

    /// The kept image tokens this promise implies for one sample of `frames` frames of an
    /// `h x w` mask grid at `ratio`: `Ok(None)` when it says nothing about counts.
    pub const fn kept(
        &self,
        h: usize,
        w: usize,
        frames: usize,
        ratio: Ratio,
    ) -> Result<Option<usize>, Conflict> {
        let tokens = h * w * frames;
        let unit = match *self {
            Invariant::KeepsFloor(unit) | Invariant::MasksFloor(unit) => unit,
            Invariant::VisiblePerWindow { window, visible } => {
                let windows = match tiles(window, h, w) {
                    Ok(n) => n,
                    Err(e) => return Err(e),
                };
                if visible > window * window {
                    return Err(Conflict::WindowOverfull { window, visible });
                }
                return Ok(Some(windows * frames * visible));
            }
            Invariant::MasksWholeCells { cell } => {
                let cells = match tiles(cell, h, w) {
                    Ok(n) => n * frames,
                    Err(e) => return Err(e),
                };
                if !ratio.in_open_unit_interval() {
                    return Err(Conflict::Ratio { ratio });
                }
                return Ok(Some(tokens - ratio.masked_of(cells) * cell * cell));
            }
            Invariant::EqualPerWindow { window } => {
                return match tiles(window, h, w) {
                    Ok(_) => Ok(None),
                    Err(e) => Err(e),
                };
            }
            _ => return Ok(None),
        };
        if !ratio.in_open_unit_interval() {
            return Err(Conflict::Ratio { ratio });
        }
        // (units, tokens per unit)
        let (units, n) = match unit {
            Unit::Whole => (1, tokens),
            Unit::Frame => (frames, h * w),
            Unit::Window(k) => match tiles(k, h, w) {
                Ok(windows) => (windows * frames, k * k),
                Err(e) => return Err(e),
            },
        };
        let kept_per_unit = match *self {
            Invariant::KeepsFloor(_) => ratio.keep_of(n),
            _ => n - ratio.masked_of(n),
        };
        Ok(Some(units * kept_per_unit))
    }
}

/// Windows of side `size` in an `h x w` grid, or the tiling conflict.
const fn tiles(size: usize, h: usize, w: usize) -> Result<usize, Conflict> {
    if size == 0 || !h.is_multiple_of(size) || !w.is_multiple_of(size) {
        return Err(Conflict::Tiling { size, h, w });
    }
    Ok((h / size) * (w / size))
}

/// The kept image tokens per sample that `invariants` imply on `frames` frames of an `h x w`
/// mask grid plus `text` text tokens at `ratio`: `Ok(None)` when none of them states a count,
/// an error when they cannot all hold (counts that disagree, windows that do not tile, nothing
/// kept or nothing removed). The shape rules and the property-test helpers share it, so a
/// layout refused at compile time is the one a strategy may refuse at run time.
pub const fn implied_keep(
    invariants: &[Invariant],
    h: usize,
    w: usize,
    frames: usize,
    text: usize,
    ratio: Ratio,
) -> Result<Option<usize>, Conflict> {
    let tokens = h * w * frames;
    let mut keep: Option<usize> = None;
    let mut i = 0;
    while i < invariants.len() {
        if let Invariant::TextKeepsFloor { ratio: r } = invariants[i] {
            if !r.in_open_unit_interval() {
                return Err(Conflict::Ratio { ratio: r });
            }
            if r.keep_of(text) == 0 {
                return Err(Conflict::NoText { text, ratio: r });
            }
        }
        match invariants[i].kept(h, w, frames, ratio) {
            Err(e) => return Err(e),
            Ok(None) => {}
            Ok(Some(k)) => match keep {
                Some(first) if first != k => {
                    return Err(Conflict::Counts { first, second: k });
                }
                _ => keep = Some(k),
            },
        }
        i += 1;
    }
    match keep {
        Some(0) => Err(Conflict::NothingKept { tokens }),
        Some(k) if k >= tokens => Err(Conflict::NothingMasked { tokens }),
        other => Ok(other),
    }
}

/// Does some invariant of `invariants` balance `window x window` windows?
pub const fn balance_window(invariants: &[Invariant], window: usize) -> bool {
    let mut i = 0;
    while i < invariants.len() {
        if invariants[i].balances_window(window) {
            return true;
        }
        i += 1;
    }
    false
}

impl Display for Unit {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Unit::Whole => f.write_str("the sample"),
            Unit::Frame => f.write_str("every frame"),
            Unit::Window(k) => write!(f, "every {k}x{k} window"),
        }
    }
}

impl Display for Invariant {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Invariant::KeepsFloor(Unit::Whole) => f.write_str("keeps floor(L (1 - r)) tokens"),
            Invariant::KeepsFloor(u) => write!(f, "keeps floor(n (1 - r)) tokens of {u}"),
            Invariant::MasksFloor(Unit::Whole) => f.write_str("removes floor(L r) tokens"),
            Invariant::MasksFloor(u) => write!(f, "removes floor(n r) tokens of {u}"),
            Invariant::VisiblePerWindow { window, visible } => write!(
                f,
                "keeps exactly {visible} token{} of every {window}x{window} window",
                if *visible == 1 { "" } else { "s" }
            ),
            Invariant::EqualPerWindow { window } => write!(
                f,
                "keeps the same number of tokens in every {window}x{window} window"
            ),
            Invariant::MasksWholeCells { cell } => {
                write!(f, "removes floor(C r) whole {cell}x{cell} cells")
            }
            Invariant::ConstantAlongTime => f.write_str("the same mask in every frame"),
            Invariant::SharedByBatch => f.write_str("one mask shared by the batch"),
            Invariant::ComplementaryPairs => {
                f.write_str("samples i and N-1-i mix complementary halves of their images")
            }
            Invariant::KeptInRasterOrder => f.write_str("ids_keep in raster order"),
            Invariant::TextKeepsFloor { ratio } => {
                write!(f, "keeps floor(T (1 - {ratio})) of the T text tokens")
            }
        }
    }
}

impl Display for Conflict {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Conflict::Ratio { ratio } => {
                write!(f, "ratio {ratio} does not lie strictly between 0 and 1")
            }
            Conflict::Tiling { size, h, w } => write!(
                f,
                "{size}x{size} windows or cells do not tile the {h}x{w} mask grid"
            ),
            Conflict::WindowOverfull { window, visible } => {
                write!(f, "a {window}x{window} window cannot keep {visible} tokens")
            }
            Conflict::Counts { first, second } => write!(
                f,
                "the declared counts disagree: one keeps {first} tokens, another {second}"
            ),
            Conflict::NothingKept { tokens } => {
                write!(f, "the declared counts keep none of the {tokens} tokens")
            }
            Conflict::NothingMasked { tokens } => {
                write!(f, "the declared counts remove none of the {tokens} tokens")
            }
            Conflict::NoText { text, ratio } => {
                write!(f, "text ratio {ratio} keeps none of the {text} text tokens")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R34: Ratio = Ratio::of(3, 4);

    #[test]
    fn counts_follow_each_unit() {
        // MAE on 14x14: floor(196 / 4) = 49.
        assert_eq!(
            Invariant::KeepsFloor(Unit::Whole).kept(14, 14, 1, R34),
            Ok(Some(49))
        );
        // VideoMAE: 8 frames of 14x14 at 9/10 remove 176 per frame, keep 20 each.
        let tube = Invariant::MasksFloor(Unit::Frame);
        assert_eq!(tube.kept(14, 14, 8, Ratio::of(9, 10)), Ok(Some(160)));
        // 4 windows of 4x4 at 1/3: floor(16 / 3) = 5 removed in each, 11 kept.
        let win = Invariant::MasksFloor(Unit::Window(4));
        assert_eq!(win.kept(8, 8, 1, Ratio::of(1, 3)), Ok(Some(44)));
        // Cells of 2x2 on 8x8: 16 cells, floor(16 * 2/5) = 6 removed = 24 tokens.
        let cells = Invariant::MasksWholeCells { cell: 2 };
        assert_eq!(cells.kept(8, 8, 1, Ratio::of(2, 5)), Ok(Some(40)));
        assert_eq!(
            cells.kept(7, 7, 1, Ratio::of(2, 5)),
            Err(Conflict::Tiling {
                size: 2,
                h: 7,
                w: 7
            })
        );
        assert_eq!(Invariant::SharedByBatch.kept(8, 8, 1, R34), Ok(None));
    }

    #[test]
    fn implied_counts_must_agree_and_leave_both_kept_and_removed_tokens() {
        let uniform = [
            Invariant::VisiblePerWindow {
                window: 2,
                visible: 1,
            },
            Invariant::KeepsFloor(Unit::Whole),
        ];
        assert_eq!(implied_keep(&uniform, 14, 14, 1, 0, R34), Ok(Some(49)));
        // At 1/2 MAE's count keeps 98 but one per 2x2 block keeps 49.
        assert_eq!(
            implied_keep(&uniform, 14, 14, 1, 0, Ratio::of(1, 2)),
            Err(Conflict::Counts {
                first: 49,
                second: 98
            })
        );
        let mae = [Invariant::KeepsFloor(Unit::Whole)];
        assert_eq!(
            implied_keep(&mae, 1, 3, 1, 0, R34),
            Err(Conflict::NothingKept { tokens: 3 })
        );
        let beit = [Invariant::MasksFloor(Unit::Whole)];
        assert_eq!(
            implied_keep(&beit, 1, 3, 1, 0, Ratio::of(1, 4)),
            Err(Conflict::NothingMasked { tokens: 3 })
        );
        assert_eq!(
            implied_keep(&[Invariant::SharedByBatch], 4, 4, 1, 0, R34),
            Ok(None)
        );
        let m3ae = [
            Invariant::KeepsFloor(Unit::Whole),
            Invariant::TextKeepsFloor { ratio: R34 },
        ];
        assert_eq!(implied_keep(&m3ae, 4, 4, 1, 8, R34), Ok(Some(4)));
        assert_eq!(
            implied_keep(&m3ae, 4, 4, 1, 3, R34),
            Err(Conflict::NoText {
                text: 3,
                ratio: R34
            })
        );
    }

    #[test]
    fn windows_balance_their_multiples_only() {
        let w4 = Invariant::MasksFloor(Unit::Window(4));
        assert!(w4.balances_window(4) && w4.balances_window(8));
        assert!(!w4.balances_window(2) && !w4.balances_window(6));
        assert!(!Invariant::KeepsFloor(Unit::Whole).balances_window(2));
        let uniform = Invariant::VisiblePerWindow {
            window: 2,
            visible: 1,
        };
        assert!(balance_window(&[Invariant::SharedByBatch, uniform], 8));
        assert!(!balance_window(&[Invariant::SharedByBatch], 8));
    }
}
