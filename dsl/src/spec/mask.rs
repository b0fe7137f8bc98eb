//! The masking a spec states, for the families that drop masked tokens from a token grid
//! (MAE and its composed variants, UM-Swin, HiViT), and the counts it implies.
use super::error::{Family, Rule, ShapeError};
use super::rules::{keep_at_least_one, masked_within, ratio, size, tri};
use crate::mask::{Conflict, CustomStrategy};
use crate::Ratio;
use core::fmt::{self, Display, Formatter};

/// How a model picks the tokens its encoder sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
pub enum MaskSpec {
    /// Per-sample random masking (MAE): keeps `floor(L * (1 - ratio))`.
    Random { ratio: Ratio },
    /// Block-wise masking (BEiT/SimMIM): rectangles of `cell x cell`-token cells until exactly
    /// `floor(C * ratio)` of the `C` cells are masked.
    Block {
        ratio: Ratio,
        #[cfg_attr(feature = "serde", serde(default = "one"))]
        cell: usize,
    },
    /// UM-MAE uniform sampling: one visible token per 2x2 block (ratio exactly 3/4), then
    /// optional secondary masking that replaces `V - floor(V * (1 - secondary))` of the `V`
    /// visible tokens by a learned token inside the encoder.
    Uniform {
        ratio: Ratio,
        #[cfg_attr(feature = "serde", serde(default))]
        secondary: Option<Ratio>,
    },
    /// A user's strategy (a `const` [`CustomStrategy`]) at `ratio`. Its declared invariants
    /// give the kept count and say which windows it balances; in files it is its name, which
    /// only a program that registered the strategy can read back.
    Custom {
        #[cfg_attr(feature = "serde", serde(with = "crate::mask::by_name"))]
        strategy: CustomStrategy,
        ratio: Ratio,
    },
}

#[cfg(feature = "serde")]
fn one() -> usize {
    1
}

/// What a [`MaskSpec`] leaves of a token grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MaskCounts {
    /// Tokens that enter the encoder (real or secondary-masked).
    pub keep: usize,
    /// Tokens removed; the loss averages over these.
    pub masked: usize,
    /// Visible tokens replaced by the secondary mask token, else 0.
    pub secondary_masked: usize,
}

impl MaskSpec {
    /// The counts over a `grid x grid` token grid, or the broken rule.
    pub const fn validate(&self, family: Family, grid: usize) -> Result<MaskCounts, ShapeError> {
        let tokens = grid * grid;
        match *self {
            MaskSpec::Random { ratio } => {
                let keep = tri!(keep_at_least_one(family, "mask", ratio, tokens));
                Ok(MaskCounts {
                    keep,
                    masked: tokens - keep,
                    secondary_masked: 0,
                })
            }
            MaskSpec::Block { ratio, cell } => {
                tri!(size(family, "block mask cell", cell));
                if !grid.is_multiple_of(cell) {
                    return Err(ShapeError::new(family, Rule::BlockCellDividesGrid)
                        .s("block mask cell ")
                        .n(cell)
                        .s(" does not divide the ")
                        .nxn(grid, grid)
                        .s(" token grid, so its cells cannot tile it")
                        .done());
                }
                let side = grid / cell;
                let cells = tri!(masked_within(family, "block mask", ratio, side * side));
                let masked = cells * cell * cell;
                Ok(MaskCounts {
                    keep: tokens - masked,
                    masked,
                    secondary_masked: 0,
                })
            }
            MaskSpec::Uniform { ratio, secondary } => {
                tri!(uniform_ratio(family, ratio));
                tri!(uniform_even_grid(family, "token", grid));
                let keep = tokens / 4;
                let secondary_masked = match secondary {
                    None => 0,
                    Some(s) => keep - tri!(keep_at_least_one(family, "secondary mask", s, keep)),
                };
                Ok(MaskCounts {
                    keep,
                    masked: tokens - keep,
                    secondary_masked,
                })
            }
            MaskSpec::Custom { strategy, ratio: r } => {
                let r = tri!(ratio(family, "custom mask", r));
                let keep = tri!(custom_keep(family, &strategy, grid, r));
                Ok(MaskCounts {
                    keep,
                    masked: tokens - keep,
                    secondary_masked: 0,
                })
            }
        }
    }

    /// The main ratio.
    pub const fn ratio(&self) -> Ratio {
        match *self {
            MaskSpec::Random { ratio }
            | MaskSpec::Block { ratio, .. }
            | MaskSpec::Uniform { ratio, .. }
            | MaskSpec::Custom { ratio, .. } => ratio,
        }
    }

    /// Does every window of `window x window` tokens keep the same number of tokens, for any
    /// draw? Uniform sampling promises it (one per 2x2 block) for even windows, a custom
    /// strategy for the windows its declared invariants balance.
    pub const fn window_balanced(&self, window: usize) -> bool {
        match self {
            MaskSpec::Uniform { .. } => window.is_multiple_of(2),
            MaskSpec::Custom { strategy, .. } => strategy.balances_window(window),
            _ => false,
        }
    }
}

/// A message about the custom strategy `name` (`const`: closures cannot be called there).
const fn named(family: Family, name: &str, rule: Rule) -> ShapeError {
    ShapeError::new(family, rule)
        .s("custom mask `")
        .s(name)
        .s("` ")
}

/// The kept count a custom strategy's invariants imply on a `grid x grid` token grid, or the
/// rule they break there.
const fn custom_keep(
    family: Family,
    strategy: &CustomStrategy,
    grid: usize,
    r: Ratio,
) -> Result<usize, ShapeError> {
    let name = strategy.name;
    match strategy.kept(grid, r) {
        Ok(Some(keep)) => Ok(keep),
        Ok(None) => Err(named(family, name, Rule::MaskDeclaresCount)
            .s("declares no kept count (KeepsFloor, MasksFloor, VisiblePerWindow or ")
            .s("MasksWholeCells), so the encoder's sequence length is unknown")
            .done()),
        Err(Conflict::Counts { first, second }) => {
            Err(named(family, name, Rule::MaskDeclaresCount)
                .s("declares counts that disagree on the ")
                .nxn(grid, grid)
                .s(" token grid at ratio ")
                .ratio(r)
                .s(": one keeps ")
                .n(first)
                .s(" tokens, another ")
                .n(second)
                .done())
        }
        Err(Conflict::WindowOverfull { window, visible }) => {
            Err(named(family, name, Rule::MaskDeclaresCount)
                .s("declares ")
                .n(visible)
                .s(" kept tokens in a ")
                .nxn(window, window)
                .s(" window")
                .done())
        }
        Err(Conflict::NoText { .. }) => Err(named(family, name, Rule::MaskDeclaresCount)
            .s("declares a text count, but the model has no text tokens")
            .done()),
        Err(Conflict::Tiling { size, .. }) => Err(named(family, name, Rule::MaskWindowDividesGrid)
            .s("works in ")
            .nxn(size, size)
            .s(" windows or cells, which do not tile the ")
            .nxn(grid, grid)
            .s(" token grid")
            .done()),
        Err(Conflict::NothingKept { tokens }) => Err(named(family, name, Rule::KeepAtLeastOne)
            .s("at ratio ")
            .ratio(r)
            .s(" keeps none of the ")
            .n(tokens)
            .s(" tokens")
            .done()),
        Err(Conflict::NothingMasked { tokens }) => Err(named(family, name, Rule::MaskAtLeastOne)
            .s("at ratio ")
            .ratio(r)
            .s(" removes none of the ")
            .n(tokens)
            .s(" tokens")
            .done()),
        Err(Conflict::Ratio { ratio: text }) => {
            Err(named(family, name, Rule::RatioInOpenUnitInterval)
                .s("declares a ratio ")
                .ratio(text)
                .s(" that does not lie strictly between 0 and 1")
                .done())
        }
    }
}

/// Uniform sampling keeps exactly one token of every 2x2 block: the ratio must be 3/4.
pub const fn uniform_ratio(family: Family, r: Ratio) -> Result<Ratio, ShapeError> {
    let r = tri!(ratio(family, "uniform mask", r));
    if !r.same_value(Ratio { num: 3, den: 4 }) {
        return Err(ShapeError::new(family, Rule::UniformRatioThreeQuarters)
            .s("uniform mask ratio ")
            .ratio(r)
            .s(" is not 3/4; uniform sampling keeps exactly one token of every 2x2 block")
            .done());
    }
    Ok(r)
}

/// Uniform sampling tiles the mask grid with 2x2 blocks: the grid side must be even.
pub const fn uniform_even_grid(family: Family, what: &str, grid: usize) -> Result<(), ShapeError> {
    if !grid.is_multiple_of(2) {
        return Err(ShapeError::new(family, Rule::UniformEvenGrid)
            .s("the ")
            .nxn(grid, grid)
            .s(" ")
            .s(what)
            .s(" grid is odd, so 2x2 uniform-sampling blocks cannot tile it")
            .done());
    }
    Ok(())
}

impl Display for MaskSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MaskSpec::Random { ratio } => {
                write!(f, "random {ratio} (keeps floor(L*(1-r)) per sample)")
            }
            MaskSpec::Block { ratio, cell } => write!(
                f,
                "block {ratio} in {cell}x{cell} cells (masks floor(C*r) cells, C = cells)"
            ),
            MaskSpec::Uniform {
                ratio,
                secondary: None,
            } => write!(f, "uniform {ratio} (one visible token per 2x2 block)"),
            MaskSpec::Uniform {
                ratio,
                secondary: Some(s),
            } => write!(
                f,
                "uniform {ratio} (one visible token per 2x2 block) + secondary {s}"
            ),
            MaskSpec::Custom { strategy, ratio } => {
                write!(f, "custom `{}` {ratio} (", strategy.name)?;
                for (i, inv) in strategy.invariants.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{inv}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_strategy() {
        let f = Family::Mae;
        let random = MaskSpec::Random {
            ratio: Ratio::of(3, 4),
        };
        assert_eq!(random.validate(f, 14).unwrap().keep, 49);
        let block = MaskSpec::Block {
            ratio: Ratio::of(2, 5),
            cell: 2,
        };
        // 4x4 cells, floor(16 * 2/5) = 6 masked cells of 4 tokens.
        let c = block.validate(f, 8).unwrap();
        assert_eq!((c.masked, c.keep), (24, 40));
        let e = block.validate(f, 7).unwrap_err();
        assert_eq!(e.rule(), Rule::BlockCellDividesGrid);
        let uniform = MaskSpec::Uniform {
            ratio: Ratio::of(3, 4),
            secondary: Some(Ratio::of(1, 4)),
        };
        let c = uniform.validate(f, 14).unwrap();
        assert_eq!((c.keep, c.secondary_masked), (49, 13));
        assert!(uniform.window_balanced(8) && !random.window_balanced(8));
    }
}
