//! A masking strategy no paper of the MAE family uses, declared by a user: **window-balanced
//! block masking**. The token grid is tiled by 4x4 windows and every window loses exactly
//! `floor(16 r)` tokens, as one random rectangle topped up with random single tokens: block
//! masking's holes (which neighbours cannot fill in by copying) with uniform masking's even
//! spread (every region of the image keeps the same amount of context).
//!
//! The strategy states what it promises ([`WINDOW_BLOCKS`]: so many tokens removed in every 4x4
//! window, kept tokens in raster order), is property-tested against exactly those promises with
//! tessera's public checkers ([`property_test`]), is plugged into a composed variant
//! ([`WindowBlockMae`], which would not compile on a windowed encoder such as UM-Swin, whose
//! compaction needs one kept cell per 2x2 block), and pre-trains a few steps ([`pretrain`]).
//! [`BROKEN_WINDOW_BLOCKS`] carries a plausible bug, and its property test fails.
//!
//! ```text
//! cargo run --release --example window_block_mae -- runs/window-blocks
//! ```
//!
//! Its spec file, `examples/window_block_mae.toml`, names the strategy; only a program that
//! registers it (as [`pretrain`] does) can read that file or the run's checkpoints back.
use std::path::Path;
use std::sync::atomic::AtomicBool;

use proptest::test_runner::{Config, TestError, TestRunner};
use tessera::dsl::mask::{
    register, testing, CustomStrategy, Grid, Invariant, Layout, Mask, MaskError, Unit,
};
use tessera::dsl::{rng::Rng, ModelSpec, Ratio};
use tessera::models::data::Fit;
use tessera::models::train::{Observer, RunConfig, RunError, StepReport, Trainer, Warmup};

/// Side of the windows, in tokens.
pub const WINDOW: usize = 4;

/// The strategy as a spec holds it: its name, its promises and its draw function.
pub const WINDOW_BLOCKS: CustomStrategy = CustomStrategy::new(
    "window_blocks",
    &[
        Invariant::MasksFloor(Unit::Window(WINDOW)),
        Invariant::KeptInRasterOrder,
    ],
    window_blocks,
);

/// The same promises over a plausible bug: the whole grid's `floor(L r)` shared out between the
/// windows, which gives some windows one token more whenever `16 r` is not a whole number.
pub const BROKEN_WINDOW_BLOCKS: CustomStrategy = CustomStrategy::new(
    "window_blocks",
    WINDOW_BLOCKS.invariants,
    broken_window_blocks,
);

tessera::mim! {
    /// MAE's asymmetric encoder with window-balanced block masking, for Fashion-MNIST resized
    /// to 32x32: 8x8 tokens, four 4x4 windows, each keeping 4 of its 16 tokens at 3/4.
    pub WindowBlockMae {
        image: 32 x 32 x 1, patch: 4,
        encoder: vit { dim: 64, depth: 4, heads: 4, mlp: 4 },
        decoder: vit { dim: 32, depth: 1, heads: 4, mlp: 4 },
        mask: custom(WINDOW_BLOCKS, 3 / 4), target: norm_pix,
    }
}

fn window_blocks(layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
    draw(layout, ratio, rng, |_, _| ratio.masked_of(WINDOW * WINDOW))
}

fn broken_window_blocks(layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
    let grid = layout.mask_grid()?;
    let total = ratio.masked_of(grid.len());
    // Window w of n gets an even share of the total, the first ones the remainder.
    draw(layout, ratio, rng, |w, n| {
        total / n + usize::from(w < total % n)
    })
}

/// Removes `removed(w, windows)` tokens of window `w`: a rectangle of random shape and place,
/// then random single tokens of the window until the count is reached.
fn draw(
    layout: &Layout,
    ratio: Ratio,
    rng: &mut Rng,
    removed: impl Fn(usize, usize) -> usize,
) -> Result<Mask, MaskError> {
    let grid = layout.mask_grid()?;
    for (part, value, plain) in [
        ("frames", layout.frames, 1),
        ("text tokens", layout.text, 0),
    ] {
        if value != plain {
            return Err(MaskError::UnusedLayout {
                strategy: WINDOW_BLOCKS.name,
                part,
                value,
            });
        }
    }
    if !grid.h.is_multiple_of(WINDOW) || !grid.w.is_multiple_of(WINDOW) {
        return Err(MaskError::Window {
            grid_h: grid.h,
            grid_w: grid.w,
            win_h: WINDOW,
            win_w: WINDOW,
        });
    }
    let per_window = WINDOW * WINDOW;
    match ratio.masked_of(per_window) {
        0 => {
            return Err(MaskError::NothingMasked {
                len: per_window,
                ratio,
            })
        }
        n if n == per_window => {
            return Err(MaskError::NothingKept {
                len: per_window,
                ratio,
            })
        }
        _ => {}
    }
    let (across, down) = (grid.w / WINDOW, grid.h / WINDOW);
    let mut mask = vec![0u8; grid.len()];
    for w in 0..across * down {
        let target = removed(w, across * down).min(per_window);
        let (top, left) = ((w / across) * WINDOW, (w % across) * WINDOW);
        let token = |r: usize, c: usize| (top + r) * grid.w + left + c;
        let h = 1 + rng.index(WINDOW.min(target));
        let wd = (target / h).min(WINDOW);
        let (r0, c0) = (rng.index(WINDOW - h + 1), rng.index(WINDOW - wd + 1));
        for r in r0..r0 + h {
            for c in c0..c0 + wd {
                mask[token(r, c)] = 1;
            }
        }
        let mut visible: Vec<usize> = (0..per_window)
            .map(|i| token(i / WINDOW, i % WINDOW))
            .filter(|&t| mask[t] == 0)
            .collect();
        for k in 0..target - h * wd {
            let j = k + rng.index(visible.len() - k);
            visible.swap(k, j);
            mask[visible[k]] = 1;
        }
    }
    Mask::from_binary(&mask)
}

/// The property test of a window-blocks strategy, as its author writes it: any grid of whole
/// windows, any ratio, any seed, a batch of 4; every mask must keep every declared invariant
/// (the public checkers say which sample, window or token does not), the same seed must give
/// the same masks, and refusals must be ones the invariants explain.
pub fn property_test(
    strategy: &CustomStrategy,
    runner: &mut TestRunner,
) -> Result<(), TestError<(Grid, Ratio, u64)>> {
    let inputs = (
        testing::grid_of(WINDOW, 4),
        testing::ratio(16),
        testing::seed(),
    );
    runner.run(&inputs, |(grid, ratio, seed)| {
        testing::keeps_its_promises(strategy, &Layout::image(grid), ratio, 4, seed).map(drop)
    })
}

/// A runner for `cases` cases from a fixed seed, writing no regression files.
pub fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(7),
        ..Config::default()
    })
}

/// Collects the loss of every step.
#[derive(Default)]
pub struct Losses(pub Vec<f32>);

impl Observer for Losses {
    fn step(&mut self, report: &StepReport) {
        self.0.push(report.loss);
    }
}

/// The run: `limit` images of the Fashion-MNIST slice built into tessera, randomly resized and
/// cropped to 32x32 as MAE's recipe does, `epochs` epochs of `batch`.
pub fn recipe(limit: usize, batch: usize, epochs: u64) -> RunConfig {
    RunConfig {
        model: ModelSpec::Mae(WindowBlockMae::SPEC),
        data: "fashion-mnist-embedded".into(),
        limit: Some(limit),
        augment: true,
        fit: Fit::default(),
        epochs,
        batch,
        lr: 1e-3,
        min_lr: 0.0,
        warmup: Warmup::Steps(1),
        weight_decay: 0.05,
        seed: 0,
    }
}

/// Pre-trains [`WindowBlockMae`] on the CPU into `dir` and returns the loss of every step. The
/// strategy is registered first, so that the run's checkpoints, which name it, can be read back
/// (to resume, probe or reconstruct) by this program.
pub fn pretrain(dir: &Path, recipe: RunConfig) -> Result<Vec<f32>, RunError> {
    register(WINDOW_BLOCKS).expect("no other strategy is called window_blocks here");
    let mut trainer = Trainer::new(recipe, dir)?;
    let mut losses = Losses::default();
    trainer.run(&mut losses, &AtomicBool::new(false), None)?;
    Ok(losses.0)
}

fn main() {
    eprintln!("{}", WindowBlockMae::DIMS);
    match property_test(&WINDOW_BLOCKS, &mut runner(256)) {
        Ok(()) => eprintln!("window_blocks keeps its promises in 256 property-test cases"),
        Err(e) => panic!("window_blocks breaks its promises: {e}"),
    }
    match property_test(&BROKEN_WINDOW_BLOCKS, &mut runner(256)) {
        Err(TestError::Fail(why, input)) => {
            eprintln!("the broken variant fails as it should, on {input:?}:\n{why}")
        }
        other => panic!("the broken variant should fail its property test: {other:?}"),
    }
    let dir = std::env::args()
        .nth(1)
        .unwrap_or("runs/window-blocks".into());
    let losses = pretrain(Path::new(&dir), recipe(512, 64, 1)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "pre-trained {} steps into {dir}: losses {losses:?}",
        losses.len()
    );
}
