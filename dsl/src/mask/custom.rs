//! A user's masking strategy in the form a spec can hold: a `const` value whose name and
//! invariants are data the shape rules read when the spec compiles, with the function that
//! draws the masks.
//!
//! ```
//! use tessera_dsl::mask::{CustomStrategy, Invariant, Layout, Mask, MaskError, Unit};
//! use tessera_dsl::{rng::Rng, Ratio};
//!
//! /// Removes the top-left floor(n r) tokens of every 2x2 window, in raster order.
//! fn corners(layout: &Layout, ratio: Ratio, _rng: &mut Rng) -> Result<Mask, MaskError> {
//!     let g = layout.mask_grid()?;
//!     let removed = ratio.masked_of(4);
//!     let mask: Vec<u8> = (0..g.len())
//!         .map(|i| u8::from(2 * (i / g.w % 2) + i % g.w % 2 < removed))
//!         .collect();
//!     Mask::from_binary(&mask)
//! }
//!
//! pub const CORNERS: CustomStrategy = CustomStrategy::new(
//!     "corners",
//!     &[Invariant::MasksFloor(Unit::Window(2)), Invariant::KeptInRasterOrder],
//!     corners,
//! );
//!
//! tessera_dsl::mim! {
//!     pub CornerMae {
//!         image: 32 x 32 x 3, patch: 4,
//!         encoder: vit { dim: 192, depth: 12, heads: 3, mlp: 4 },
//!         decoder: vit { dim: 128, depth: 4, heads: 4, mlp: 4 },
//!         mask: custom(CORNERS, 1 / 2), target: norm_pix,
//!     }
//! }
//! assert_eq!(CornerMae::KEEP, 32); // 16 windows keep 2 tokens each
//! ```
use super::check::check_masks;
use super::invariant::{balance_window, implied_keep, Conflict, Invariant};
use super::{Layout, Mask, MaskError, MaskStrategy};
use crate::{rng::Rng, Ratio};
use alloc::vec::Vec;

/// Draws one mask over a layout at a ratio.
pub type Draw = fn(&Layout, Ratio, &mut Rng) -> Result<Mask, MaskError>;

/// A user's strategy: its name (how spec files and checkpoints refer to it), the invariants it
/// declares and its draw function. Build it in a `const` so that the spec macros can read it.
///
/// It is a [`MaskStrategy`]; drawing through a spec also checks every mask against the
/// declared invariants, because the model was planned for them (a mask with another kept
/// count would not fit the encoder).
#[derive(Clone, Copy)]
pub struct CustomStrategy {
    pub name: &'static str,
    pub invariants: &'static [Invariant],
    pub draw: Draw,
}

impl CustomStrategy {
    pub const fn new(name: &'static str, invariants: &'static [Invariant], draw: Draw) -> Self {
        CustomStrategy {
            name,
            invariants,
            draw,
        }
    }

    /// Does a declared invariant give every `window x window` window the same number of kept
    /// tokens (what a windowed encoder that drops tokens needs)?
    pub const fn balances_window(&self, window: usize) -> bool {
        balance_window(self.invariants, window)
    }

    /// The kept tokens of one image on a `grid x grid` mask grid at `ratio` that the declared
    /// invariants imply (`None`: they state no count).
    pub const fn kept(&self, grid: usize, ratio: Ratio) -> Result<Option<usize>, Conflict> {
        implied_keep(self.invariants, grid, grid, 1, 0, ratio)
    }

    /// Draws a batch and checks it against the declared invariants: the first violation is an
    /// error.
    pub fn sample_checked(
        &self,
        layout: &Layout,
        ratio: Ratio,
        batch: usize,
        rng: &mut Rng,
    ) -> Result<Vec<Mask>, MaskError> {
        let masks = self.sample_batch(layout, ratio, batch, rng)?;
        let report = check_masks(self.invariants, layout, ratio, &masks)?;
        match report.violations().first() {
            None => Ok(masks),
            Some(v) => Err(MaskError::Broken {
                strategy: self.name,
                violation: alloc::boxed::Box::new(v.clone()),
            }),
        }
    }
}

impl MaskStrategy for CustomStrategy {
    fn name(&self) -> &'static str {
        self.name
    }

    fn invariants(&self) -> Vec<Invariant> {
        self.invariants.to_vec()
    }

    fn sample(&self, layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        (self.draw)(layout, ratio, rng)
    }
}

// A strategy is known by its name (a spec file holds nothing else), so equality and hashing go
// by the name and the declared invariants, not by the function's address.
impl PartialEq for CustomStrategy {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.invariants == other.invariants
    }
}

impl Eq for CustomStrategy {}

impl core::hash::Hash for CustomStrategy {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.invariants.hash(state);
    }
}

impl core::fmt::Debug for CustomStrategy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CustomStrategy")
            .field("name", &self.name)
            .field("invariants", &self.invariants)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{random::random, Grid, Unit};

    fn mae(layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        random(layout.tokens()?, ratio, rng)
    }

    /// Claims one kept token per 2x2 block but draws MAE's random masks.
    const LIAR: CustomStrategy = CustomStrategy::new(
        "liar",
        &[Invariant::VisiblePerWindow {
            window: 2,
            visible: 1,
        }],
        mae,
    );

    #[test]
    fn const_facts_come_from_the_declared_invariants() {
        const KEPT: Result<Option<usize>, Conflict> = LIAR.kept(14, Ratio::of(3, 4));
        assert_eq!(KEPT, Ok(Some(49)));
        const BALANCED: bool = LIAR.balances_window(8);
        assert!(BALANCED && !LIAR.balances_window(3));
    }

    #[test]
    fn a_strategy_that_breaks_its_promise_is_caught_when_drawn() {
        let layout = Layout::image(Grid::new(8, 8));
        let err = LIAR
            .sample_checked(&layout, Ratio::of(3, 4), 2, &mut Rng::seed_from_u64(1))
            .unwrap_err();
        let MaskError::Broken {
            strategy,
            violation,
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!(strategy, "liar");
        assert_eq!(violation.invariant(), Some(LIAR.invariants[0]));
        let honest = CustomStrategy::new("mae", &[Invariant::KeepsFloor(Unit::Whole)], mae);
        let masks = honest
            .sample_checked(&layout, Ratio::of(3, 4), 2, &mut Rng::seed_from_u64(1))
            .unwrap();
        assert_eq!(masks.len(), 2);
        assert_ne!(honest, LIAR);
    }
}
