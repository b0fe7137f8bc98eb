//! Property tests of the built-in masking strategies, written the way a user tests their own:
//! inputs from `tessera_dsl::mask::testing`, every declared invariant (and the official index
//! conventions) checked by the public checkers through `testing::keeps_its_promises`, which also
//! demands determinism and refusals that the invariants explain. The checkers themselves are
//! tested against hand-made masks in `dsl/src/mask/check.rs`.
use proptest::prelude::*;
use tessera_dsl::mask::{
    builtin::{Block, Mixed, Modality, Random, Tube, Uniform},
    check_masks,
    mixed::mixed,
    random::random_from_noise,
    stable_argsort, testing,
    uniform::{compact, secondary, stage_windows, uniform, UNIFORM_RATIO},
    Grid, Invariant, Layout, MaskStrategy, Unit,
};
use tessera_dsl::{rng::Rng, Ratio};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_keeps_its_promises(
        grid in testing::grid(20), r in testing::ratio(16), seed in testing::seed(),
        batch in 1usize..4,
    ) {
        testing::keeps_its_promises(&Random, &Layout::image(grid), r, batch, seed)?;
    }

    #[test]
    fn random_from_noise_keeps_the_smallest_noise_in_order(
        noise in testing::noise_up_to(200), r in testing::ratio(16),
    ) {
        // Few distinct values, so ties are common: the order must be stable by index.
        let mut pairs: Vec<(f32, usize)> = noise.iter().copied().zip(0..).collect();
        // Reference ordering: sort (value, index) pairs lexicographically.
        pairs.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
        let expected: Vec<usize> = pairs.iter().map(|p| p.1).collect();
        prop_assert_eq!(stable_argsort(&noise).unwrap(), expected.clone());
        if let Ok(m) = random_from_noise(&noise, r) {
            prop_assert_eq!(m.ids_shuffle(), expected.as_slice());
            let layout = Layout::image(Grid::new(1, noise.len()));
            let report = Random.check(&layout, r, &[m]).unwrap();
            prop_assert!(report.is_clean(), "{}", report);
        }
    }

    #[test]
    fn uniform_keeps_its_promises_and_compacts_block_by_block(
        grid in testing::grid_of(2, 16), seed in testing::seed(),
    ) {
        let masks = testing::keeps_its_promises(&Uniform, &Layout::image(grid), UNIFORM_RATIO, 2, seed)?;
        // The compaction finds, block by block, the token that lies in that block.
        let cells = compact(masks[0].mask(), grid).unwrap();
        for (b, &i) in cells.iter().enumerate() {
            let (bh, bw) = (b / (grid.w / 2), b % (grid.w / 2));
            prop_assert_eq!(((i / grid.w) / 2, (i % grid.w) / 2), (bh, bw));
            prop_assert_eq!(masks[0].mask()[i], 0);
        }
    }

    #[test]
    fn uniform_refuses_other_ratios_and_odd_grids(
        grid in testing::grid(9), r in testing::ratio(16), seed in testing::seed(),
    ) {
        prop_assume!(r != UNIFORM_RATIO || grid.h % 2 == 1 || grid.w % 2 == 1);
        let drawn = Uniform.sample(&Layout::image(grid), r, &mut Rng::seed_from_u64(seed));
        prop_assert!(drawn.is_err(), "{:?}", drawn);
    }

    #[test]
    fn secondary_hides_exactly_its_share_of_the_kept_tokens(
        grid in testing::grid_of(2, 16), r2 in testing::ratio(16), seed in testing::seed(),
    ) {
        // Secondary masking happens inside the encoder, not in the mask: it is no strategy of
        // its own, so it is tested here directly.
        let mut rng = Rng::seed_from_u64(seed);
        let m = uniform(grid, UNIFORM_RATIO, &mut rng).unwrap();
        let v = m.len_keep();
        let real = v * (r2.den - r2.num) as usize / r2.den as usize;
        match secondary(&m, r2, &mut rng) {
            Ok(s) => {
                let hidden = s.hidden();
                prop_assert_eq!(hidden.len(), grid.len());
                prop_assert_eq!(hidden.iter().filter(|&&x| x == 1).count(), v - real);
                prop_assert_eq!(s.len_real(), real);
                for (&h, &removed) in hidden.iter().zip(m.mask()) {
                    prop_assert!(h <= 1);
                    // Only kept tokens can be hidden; removed tokens are not replaced.
                    prop_assert!(h == 0 || removed == 0);
                }
            }
            Err(_) => prop_assert_eq!(real, 0),
        }
    }

    #[test]
    fn every_2k_window_of_a_uniform_mask_keeps_k_squared(
        k in 1usize..=4, a in 1usize..=4, b in 1usize..=4, seed in testing::seed(),
    ) {
        // Derived promises, checked with the public checkers: windows of 2k x 2k tokens are
        // unions of k^2 blocks.
        let grid = Grid::new(2 * k * a, 2 * k * b);
        let m = uniform(grid, UNIFORM_RATIO, &mut Rng::seed_from_u64(seed)).unwrap();
        let derived = [
            Invariant::VisiblePerWindow { window: 2 * k, visible: k * k },
            Invariant::EqualPerWindow { window: 2 * k },
        ];
        let report = check_masks(&derived, &Layout::image(grid), UNIFORM_RATIO, &[m]).unwrap();
        prop_assert!(report.is_clean(), "{}", report);
    }

    #[test]
    fn every_window_of_every_pyramid_stage_keeps_the_same_count(
        stages in 1usize..=4, window in 1usize..=4, mult in 1usize..=3, seed in testing::seed(),
    ) {
        // Compacted grid side 2^(stages-1) * window * mult keeps every stage tileable.
        let side = 2 * (1 << (stages - 1)) * window * mult;
        let grid = Grid::new(side, side);
        let m = uniform(grid, UNIFORM_RATIO, &mut Rng::seed_from_u64(seed)).unwrap();
        let wins = stage_windows(grid, stages, window).unwrap();
        prop_assert_eq!(wins.len(), stages);
        for (s, win) in wins.iter().enumerate() {
            // Stage s: windows of min(window, R_s) cells, each cell 2^(s+1) tokens a side.
            let res = (side / 2) >> s;
            prop_assert_eq!(win.h, window.min(res) << (s + 1));
            let promise = [Invariant::VisiblePerWindow { window: win.h, visible: win.len() / 4 }];
            let report = check_masks(&promise, &Layout::image(grid), UNIFORM_RATIO, std::slice::from_ref(&m)).unwrap();
            prop_assert!(report.is_clean(), "stage {}: {}", s, report);
        }
    }

    #[test]
    fn tube_keeps_its_promises(
        grid in testing::grid(11), frames in 1usize..6, r in testing::ratio(16),
        seed in testing::seed(), batch in 1usize..4,
    ) {
        testing::keeps_its_promises(&Tube, &Layout::video(grid, frames), r, batch, seed)?;
    }

    #[test]
    fn mixed_keeps_its_promises_and_upsamples_exactly(
        coarse in testing::grid(7), stages in 1usize..=4, r in testing::ratio(16),
        seed in testing::seed(), pairs in 1usize..4,
    ) {
        let f = 1 << (stages - 1);
        let grid = Grid::new(coarse.h * f, coarse.w * f);
        let layout = Layout::pyramid(grid, stages);
        testing::keeps_its_promises(&Mixed, &layout, r, 2 * pairs, seed)?;
        // The finer stages repeat each coarse cell (nearest upsampling).
        let m = mixed(grid, stages, r, &mut Rng::seed_from_u64(seed)).unwrap();
        prop_assert_eq!(m.coarse_grid(), coarse);
        for s in 0..stages {
            let g = m.stage_grids()[s];
            prop_assert_eq!(g, Grid::new(grid.h >> s, grid.w >> s));
            let up = 1 << (stages - 1 - s);
            for y in 0..g.h {
                for x in 0..g.w {
                    prop_assert_eq!(m.stage(s)[y * g.w + x], m.coarse()[(y / up) * coarse.w + x / up]);
                }
            }
        }
    }

    #[test]
    fn block_keeps_its_promises(
        cell in 1usize..=3, grid_in_cells in testing::grid(8), r in testing::ratio(16),
        seed in testing::seed(),
    ) {
        let grid = Grid::new(grid_in_cells.h * cell, grid_in_cells.w * cell);
        testing::keeps_its_promises(&Block { cell }, &Layout::image(grid), r, 2, seed)?;
    }

    #[test]
    fn modality_keeps_its_promises(
        image in testing::grid(17), text in 1usize..80, ri in testing::ratio(16),
        rt in testing::ratio(16), seed in testing::seed(), batch in 1usize..4,
    ) {
        let layout = Layout::image(image).with_text(text);
        testing::keeps_its_promises(&Modality { text_ratio: rt }, &layout, ri, batch, seed)?;
    }

    #[test]
    fn different_seeds_draw_different_masks(seed: u64, other: u64) {
        prop_assume!(seed != other);
        // Layouts large enough that two seeds colliding is negligible (>= 2^64 outcomes each).
        let g = Grid::new(16, 16);
        let cases: [(&dyn MaskStrategy, Layout, Ratio); 6] = [
            (&Random, Layout::image(g), Ratio::of(3, 4)),
            (&Uniform, Layout::image(g), UNIFORM_RATIO),
            (&Block { cell: 1 }, Layout::image(g), Ratio::of(1, 2)),
            (&Tube, Layout::video(g, 2), Ratio::of(9, 10)),
            (&Mixed, Layout::pyramid(Grid::new(64, 64), 3), Ratio::of(1, 2)),
            (&Modality { text_ratio: Ratio::of(3, 4) }, Layout::image(g).with_text(64), Ratio::of(3, 4)),
        ];
        for (strategy, layout, r) in cases {
            let a = strategy.sample(&layout, r, &mut Rng::seed_from_u64(seed)).unwrap();
            let c = strategy.sample(&layout, r, &mut Rng::seed_from_u64(other)).unwrap();
            prop_assert_ne!(a, c, "{} ignores the seed", strategy.name());
        }
        let m = uniform(g, UNIFORM_RATIO, &mut Rng::seed_from_u64(seed)).unwrap();
        let s1 = secondary(&m, Ratio::of(1, 4), &mut Rng::seed_from_u64(seed)).unwrap();
        let s2 = secondary(&m, Ratio::of(1, 4), &mut Rng::seed_from_u64(seed)).unwrap();
        let s3 = secondary(&m, Ratio::of(1, 4), &mut Rng::seed_from_u64(other)).unwrap();
        prop_assert_eq!(s1.hidden(), s2.hidden());
        prop_assert_ne!(s1.hidden(), s3.hidden());
    }
}

#[test]
fn a_random_mask_breaks_the_promises_uniform_masks_keep() {
    // The uniform tests above can fail: a plain random mask at the same ratio almost never
    // keeps one token in every 2x2 block, and the checker says which blocks do not.
    let grid = Grid::new(14, 14);
    let layout = Layout::image(grid);
    let m = Random
        .sample(&layout, UNIFORM_RATIO, &mut Rng::seed_from_u64(11))
        .unwrap();
    let report = Uniform
        .check(&layout, UNIFORM_RATIO, std::slice::from_ref(&m))
        .unwrap();
    assert!(!report.is_clean());
    assert!(report.violations().iter().all(|v| v.sample() == 0));
    assert!(report.violations().iter().any(|v| matches!(
        v.invariant(),
        Some(Invariant::VisiblePerWindow {
            window: 2,
            visible: 1
        })
    )));
    // MAE keeps its tokens in noise order, not raster order.
    assert!(report
        .violations()
        .iter()
        .any(|v| v.invariant() == Some(Invariant::KeptInRasterOrder)));
    // While MAE's own count holds.
    let mae = check_masks(
        &[Invariant::KeepsFloor(Unit::Whole)],
        &layout,
        UNIFORM_RATIO,
        &[m],
    );
    assert!(mae.unwrap().is_clean());
}
