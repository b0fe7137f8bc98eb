//! Property tests of masking strategies (feature `proptest`): proptest strategies for the inputs
//! of a mask (grids, ratios, seeds, noise) and [`keeps_its_promises`], which draws a batch with
//! a [`MaskStrategy`] and fails the test case unless every mask keeps every invariant the
//! strategy declares.
//!
//! A user's property test of their own strategy is a few lines (in a test file, with
//! `#[test]` above the function):
//!
//! ```
//! use proptest::prelude::*;
//! use tessera_dsl::mask::{builtin::Uniform, testing, Layout};
//! use tessera_dsl::Ratio;
//!
//! proptest! {
//!     fn uniform_keeps_its_promises(grid in testing::grid_of(2, 16), seed in testing::seed()) {
//!         let layout = Layout::image(grid);
//!         testing::keeps_its_promises(&Uniform, &layout, Ratio::of(3, 4), 4, seed)?;
//!     }
//! }
//! uniform_keeps_its_promises();
//! ```
use super::check::check_masks;
use super::invariant::implied_keep;
use super::{Grid, Invariant, Layout, Mask, MaskStrategy};
use crate::{rng::Rng, Ratio};
use ::proptest::prelude::*;
use ::proptest::test_runner::TestCaseError;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A ratio strictly between 0 and 1 with a denominator from 2 to `max_den`.
pub fn ratio(max_den: u32) -> impl Strategy<Value = Ratio> {
    (2..=max_den.max(2))
        .prop_flat_map(|den| (1..den, Just(den)))
        .prop_map(|(num, den)| Ratio::of(num, den))
}

/// A grid with sides from 1 to `max_side`.
pub fn grid(max_side: usize) -> impl Strategy<Value = Grid> {
    (1..=max_side.max(1), 1..=max_side.max(1)).prop_map(|(h, w)| Grid::new(h, w))
}

/// A grid of whole `unit x unit` windows (or blocks, or cells): sides `unit` to
/// `unit * max_units`.
pub fn grid_of(unit: usize, max_units: usize) -> impl Strategy<Value = Grid> {
    let n = max_units.max(1);
    (1..=n, 1..=n).prop_map(move |(a, b)| Grid::new(a * unit, b * unit))
}

/// A square grid of whole `unit x unit` windows, as the spec families use.
pub fn square_grid_of(unit: usize, max_units: usize) -> impl Strategy<Value = Grid> {
    (1..=max_units.max(1)).prop_map(move |a| Grid::new(a * unit, a * unit))
}

/// Any seed of [`Rng::seed_from_u64`].
pub fn seed() -> impl Strategy<Value = u64> {
    any::<u64>()
}

/// Noise for `len` tokens in [0, 1), on a lattice of 32 values so that ties are common: an
/// order built from noise must be stable to pass.
pub fn noise(len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(0u8..32, len).prop_map(lattice)
}

/// Noise of 1 to `max_len` values, as [`noise`].
pub fn noise_up_to(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(0u8..32, 1..=max_len.max(1)).prop_map(lattice)
}

fn lattice(v: Vec<u8>) -> Vec<f32> {
    v.into_iter().map(|x| f32::from(x) / 32.0).collect()
}

/// Why no mask can keep `invariants` on `layout` at `ratio`, if so.
fn refusal_reason(invariants: &[Invariant], layout: &Layout, ratio: Ratio) -> Option<String> {
    let grid = match layout.mask_grid() {
        Ok(g) => g,
        Err(e) => return Some(e.to_string()),
    };
    implied_keep(
        invariants,
        grid.h,
        grid.w,
        layout.frames,
        layout.text,
        ratio,
    )
    .err()
    .map(|c| c.to_string())
}

/// Draws `batch` masks with `strategy` over `layout` at `ratio` from `seed` and returns them,
/// or fails the test case when
///
/// - a mask breaks an invariant the strategy declares (the message lists the violations: which
///   sample, token or window broke which rule);
/// - the strategy refuses a layout its invariants admit, or draws masks where they admit none
///   (counts that disagree, windows that do not tile the grid, nothing kept or removed);
/// - the same seed does not give the same masks.
///
/// A refusal that the invariants explain rejects the case, so proptest draws another.
pub fn keeps_its_promises(
    strategy: &dyn MaskStrategy,
    layout: &Layout,
    ratio: Ratio,
    batch: usize,
    seed: u64,
) -> Result<Vec<Mask>, TestCaseError> {
    let name = strategy.name();
    let invariants = strategy.invariants();
    let at = format!("`{name}` on {layout} at ratio {ratio} (seed {seed}, batch {batch})");
    let why_not = refusal_reason(&invariants, layout, ratio);
    let drawn = strategy.sample_batch(layout, ratio, batch, &mut Rng::seed_from_u64(seed));
    let masks = match (drawn, why_not) {
        (Err(_), Some(why)) => return Err(TestCaseError::reject(why)),
        (Err(e), None) => {
            return Err(TestCaseError::fail(format!(
                "{at}: refused a layout its invariants admit: {e}"
            )))
        }
        (Ok(_), Some(why)) => {
            return Err(TestCaseError::fail(format!(
                "{at}: drew masks although its invariants admit none: {why}"
            )))
        }
        (Ok(masks), None) => masks,
    };
    if masks.len() != batch {
        return Err(TestCaseError::fail(format!(
            "{at}: drew {} masks",
            masks.len()
        )));
    }
    let report = check_masks(&invariants, layout, ratio, &masks)
        .map_err(|e| TestCaseError::fail(format!("{at}: the masks cannot be checked: {e}")))?;
    if !report.is_clean() {
        return Err(TestCaseError::fail(format!("{at}:\n{report}")));
    }
    let again = strategy.sample_batch(layout, ratio, batch, &mut Rng::seed_from_u64(seed));
    if again.as_ref() != Ok(&masks) {
        return Err(TestCaseError::fail(format!(
            "{at}: the same seed drew other masks; strategies must be deterministic given a seed"
        )));
    }
    Ok(masks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{builtin::Uniform, random::random, CustomStrategy, MaskError, Unit};
    use ::proptest::test_runner::{Config, TestError, TestRunner};

    fn mae(layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
        random(layout.tokens()?, ratio, rng)
    }

    /// MAE's random masks declared as uniform sampling.
    const NOT_UNIFORM: CustomStrategy = CustomStrategy::new(
        "not_uniform",
        &[Invariant::VisiblePerWindow {
            window: 2,
            visible: 1,
        }],
        mae,
    );

    fn run(strategy: &dyn MaskStrategy) -> Result<(), TestError<(Grid, u64)>> {
        let config = Config {
            cases: 32,
            failure_persistence: None,
            ..Config::default()
        };
        TestRunner::new(config).run(&(grid_of(2, 8), seed()), |(grid, seed)| {
            keeps_its_promises(strategy, &Layout::image(grid), Ratio::of(3, 4), 3, seed).map(drop)
        })
    }

    #[test]
    fn a_broken_promise_fails_with_the_violation() {
        assert!(run(&Uniform).is_ok());
        match run(&NOT_UNIFORM) {
            Err(TestError::Fail(why, _)) => {
                assert!(why.message().contains("2x2 window"), "{why}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn refusals_must_be_explained_by_the_invariants() {
        let layout = Layout::image(Grid::new(4, 4));
        // 3/4 of 4x4 keeps 4: admitted, so refusing it fails; 1/2 contradicts one per block.
        let grid_of_blocks = CustomStrategy::new(
            "refuses_everything",
            &[Invariant::KeepsFloor(Unit::Whole)],
            |_, _, _| Err(MaskError::NoStages),
        );
        let e = keeps_its_promises(&grid_of_blocks, &layout, Ratio::of(3, 4), 1, 0).unwrap_err();
        assert!(matches!(e, TestCaseError::Fail(_)), "{e}");
        let e = keeps_its_promises(&Uniform, &layout, Ratio::of(1, 2), 1, 0).unwrap_err();
        assert!(matches!(e, TestCaseError::Reject(_)), "{e}");
    }
}
