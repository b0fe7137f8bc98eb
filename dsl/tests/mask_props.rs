//! Property tests of the masking strategies. Every invariant is recomputed here from the raw
//! 0/1 mask and index vectors (counts with integer arithmetic, blocks and windows by direct
//! iteration), not through the library's own helpers.
use proptest::prelude::*;
use tessera_dsl::mask::{
    block::{block, BlockParams},
    mixed::{mixed, MixedMask},
    modality::modality,
    random::{random, random_batch, random_from_noise},
    stable_argsort,
    tube::tube,
    uniform::{compact, secondary, stage_windows, uniform, window_visible_counts, UNIFORM_RATIO},
    Grid, Mask,
};
use tessera_dsl::{rng::Rng, Ratio};

/// A ratio strictly between 0 and 1 with a small denominator.
fn ratio() -> impl Strategy<Value = Ratio> {
    (2u32..=16)
        .prop_flat_map(|den| (1..den, Just(den)))
        .prop_map(|(num, den)| Ratio::of(num, den))
}

/// floor(len * (1 - num/den)), written out independently of `Ratio::keep_of`.
fn kept_by_formula(len: usize, r: Ratio) -> usize {
    len * (r.den - r.num) as usize / r.den as usize
}

/// floor(len * num/den).
fn masked_by_formula(len: usize, r: Ratio) -> usize {
    len * r.num as usize / r.den as usize
}

fn zeros(mask: &[u8]) -> usize {
    mask.iter().filter(|&&v| v == 0).count()
}

/// The index invariants every strategy shares: a permutation, its inverse, kept tokens first.
fn check_indices(m: &Mask) -> Result<(), TestCaseError> {
    let len = m.len();
    let shuffle = m.ids_shuffle();
    let restore = m.ids_restore();
    prop_assert_eq!(shuffle.len(), len);
    prop_assert_eq!(restore.len(), len);
    let mut seen = vec![false; len];
    for &i in shuffle {
        prop_assert!(i < len && !seen[i], "ids_shuffle is not a permutation");
        seen[i] = true;
    }
    for (j, &i) in shuffle.iter().enumerate() {
        prop_assert_eq!(restore[i], j, "ids_restore does not invert ids_shuffle");
    }
    prop_assert_eq!(m.ids_keep(), &shuffle[..m.len_keep()]);
    prop_assert_eq!(zeros(m.mask()), m.len_keep());
    for &i in m.ids_keep() {
        prop_assert_eq!(m.mask()[i], 0);
    }
    for &i in m.ids_masked() {
        prop_assert_eq!(m.mask()[i], 1);
    }
    Ok(())
}

/// An even grid (whole 2x2 blocks) of up to 32x32.
fn even_grid() -> impl Strategy<Value = Grid> {
    (1usize..=16, 1usize..=16).prop_map(|(bh, bw)| Grid::new(2 * bh, 2 * bw))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_keeps_exactly_floor_l_times_one_minus_r(
        len in 1usize..400, r in ratio(), seed: u64, batch in 1usize..4,
    ) {
        let mut rng = Rng::seed_from_u64(seed);
        match random_batch(batch, len, r, &mut rng) {
            Ok(masks) => {
                prop_assert_eq!(masks.len(), batch);
                for m in &masks {
                    prop_assert_eq!(m.len_keep(), kept_by_formula(len, r));
                    check_indices(m)?;
                }
            }
            Err(_) => prop_assert_eq!(kept_by_formula(len, r), 0),
        }
    }

    #[test]
    fn random_from_noise_keeps_the_smallest_noise_in_order(
        noise in prop::collection::vec(0u8..32, 2..200), r in ratio(),
    ) {
        // Few distinct values, so ties are common: the order must be stable by index.
        let noise: Vec<f32> = noise.iter().map(|&v| v as f32 / 32.0).collect();
        let mut pairs: Vec<(f32, usize)> = noise.iter().copied().zip(0..).collect();
        // Reference ordering: sort (value, index) pairs lexicographically.
        pairs.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
        let expected: Vec<usize> = pairs.iter().map(|p| p.1).collect();
        prop_assert_eq!(stable_argsort(&noise).unwrap(), expected.clone());
        if let Ok(m) = random_from_noise(&noise, r) {
            prop_assert_eq!(m.ids_shuffle(), expected.as_slice());
            check_indices(&m)?;
        }
    }

    #[test]
    fn uniform_keeps_one_token_in_every_2x2_block(grid in even_grid(), seed: u64) {
        let m = uniform(grid, UNIFORM_RATIO, &mut Rng::seed_from_u64(seed)).unwrap();
        check_indices(&m)?;
        prop_assert_eq!(m.len_keep(), grid.len() / 4);
        for bh in 0..grid.h / 2 {
            for bw in 0..grid.w / 2 {
                let visible = (0..4)
                    .filter(|k| m.mask()[(2 * bh + k / 2) * grid.w + 2 * bw + k % 2] == 0)
                    .count();
                prop_assert_eq!(visible, 1, "block ({}, {})", bh, bw);
            }
        }
        // UM-MAE takes x[~mask]: kept tokens in raster order.
        prop_assert!(m.ids_keep().windows(2).all(|p| p[0] < p[1]));
        // The compaction finds, block by block, the token that lies in that block.
        let cells = compact(m.mask(), grid).unwrap();
        for (b, &i) in cells.iter().enumerate() {
            let (bh, bw) = (b / (grid.w / 2), b % (grid.w / 2));
            prop_assert_eq!(((i / grid.w) / 2, (i % grid.w) / 2), (bh, bw));
            prop_assert_eq!(m.mask()[i], 0);
        }
    }

    #[test]
    fn secondary_hides_exactly_its_share_of_the_kept_tokens(
        grid in even_grid(), r2 in ratio(), seed: u64,
    ) {
        let mut rng = Rng::seed_from_u64(seed);
        let m = uniform(grid, UNIFORM_RATIO, &mut rng).unwrap();
        let v = m.len_keep();
        match secondary(&m, r2, &mut rng) {
            Ok(s) => {
                let hidden = s.hidden();
                prop_assert_eq!(hidden.len(), grid.len());
                let n_hidden = hidden.iter().filter(|&&x| x == 1).count();
                prop_assert_eq!(n_hidden, v - kept_by_formula(v, r2));
                prop_assert_eq!(s.len_real(), kept_by_formula(v, r2));
                for (&h, &removed) in hidden.iter().zip(m.mask()) {
                    prop_assert!(h <= 1);
                    // Only kept tokens can be hidden; removed tokens are not replaced.
                    prop_assert!(h == 0 || removed == 0);
                }
            }
            Err(_) => prop_assert_eq!(kept_by_formula(v, r2), 0),
        }
    }

    #[test]
    fn every_2k_window_of_a_uniform_mask_holds_k_squared_visible(
        k in 1usize..=4, a in 1usize..=4, b in 1usize..=4, seed: u64,
    ) {
        // A grid of (k a) x (k b) blocks tiled by 2k x 2k token windows.
        let grid = Grid::new(2 * k * a, 2 * k * b);
        let m = uniform(grid, UNIFORM_RATIO, &mut Rng::seed_from_u64(seed)).unwrap();
        for wr in 0..a {
            for wc in 0..b {
                let mut visible = 0;
                for r in 0..2 * k {
                    for c in 0..2 * k {
                        let i = (wr * 2 * k + r) * grid.w + wc * 2 * k + c;
                        visible += usize::from(m.mask()[i] == 0);
                    }
                }
                prop_assert_eq!(visible, k * k, "window ({}, {})", wr, wc);
            }
        }
        let counts = window_visible_counts(m.mask(), grid, Grid::new(2 * k, 2 * k)).unwrap();
        prop_assert_eq!(counts, vec![k * k; a * b]);
    }

    #[test]
    fn every_window_of_every_pyramid_stage_holds_the_same_visible_count(
        stages in 1usize..=4, window in 1usize..=4, mult in 1usize..=3, seed: u64,
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
            let n = side / win.h;
            for wr in 0..n {
                for wc in 0..n {
                    let mut visible = 0;
                    for r in wr * win.h..(wr + 1) * win.h {
                        for c in wc * win.w..(wc + 1) * win.w {
                            visible += usize::from(m.mask()[r * side + c] == 0);
                        }
                    }
                    prop_assert_eq!(visible, win.len() / 4, "stage {} window ({}, {})", s, wr, wc);
                }
            }
        }
    }

    #[test]
    fn tube_masks_are_identical_across_time(
        h in 1usize..12, w in 1usize..12, slices in 1usize..6, tubelet in 1usize..4,
        r in ratio(), seed: u64,
    ) {
        let grid = Grid::new(h, w);
        let l = grid.len();
        match tube(grid, slices * tubelet, tubelet, r, &mut Rng::seed_from_u64(seed)) {
            Ok(m) => {
                check_indices(&m)?;
                prop_assert_eq!(m.len(), slices * l);
                let first = &m.mask()[..l];
                prop_assert_eq!(first.iter().filter(|&&v| v == 1).count(), masked_by_formula(l, r));
                for t in 1..slices {
                    prop_assert_eq!(&m.mask()[t * l..(t + 1) * l], first, "slice {}", t);
                }
                prop_assert!(m.ids_keep().windows(2).all(|p| p[0] < p[1]));
            }
            Err(_) => prop_assert_eq!(masked_by_formula(l, r), 0),
        }
    }

    #[test]
    fn mixed_masks_are_complementary_and_upsample_exactly(
        ch in 1usize..8, cw in 1usize..8, stages in 1usize..=4, r in ratio(), seed: u64,
        pairs in 1usize..4,
    ) {
        let f = 1 << (stages - 1);
        let grid = Grid::new(ch * f, cw * f);
        let lc = ch * cw;
        let m = match mixed(grid, stages, r, &mut Rng::seed_from_u64(seed)) {
            Ok(m) => m,
            Err(_) => {
                prop_assert_eq!(masked_by_formula(lc, r), 0);
                return Ok(());
            }
        };
        prop_assert_eq!(m.coarse_grid(), Grid::new(ch, cw));
        prop_assert_eq!(m.coarse().iter().filter(|&&v| v == 1).count(), masked_by_formula(lc, r));
        for s in 0..stages {
            let g = m.stage_grids()[s];
            prop_assert_eq!(g, Grid::new(grid.h >> s, grid.w >> s));
            let up = 1 << (stages - 1 - s);
            for y in 0..g.h {
                for x in 0..g.w {
                    prop_assert_eq!(m.stage(s)[y * g.w + x], m.coarse()[(y / up) * cw + x / up]);
                }
            }
        }
        // Mix a batch whose image b holds token values 1000 b + position, as MixMIM does:
        // x * (1 - m) + x.flip(0) * m. Within a pair, every token of both images appears
        // exactly once, and each mixed sample holds complementary halves of the two images.
        let batch = 2 * pairs;
        let l0 = grid.len();
        let mut seen = vec![0u32; batch * l0];
        for i in 0..batch {
            let p = MixedMask::partner(i, batch);
            prop_assert_eq!(p + i, batch - 1);
            for t in 0..l0 {
                let src = if m.stage(0)[t] == 1 { p } else { i };
                seen[src * l0 + t] += 1;
            }
        }
        prop_assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn block_masks_exactly_floor_l_r(
        h in 1usize..20, w in 1usize..20, r in ratio(), seed: u64,
    ) {
        let grid = Grid::new(h, w);
        match block(grid, r, BlockParams::default(), &mut Rng::seed_from_u64(seed)) {
            Ok(m) => {
                check_indices(&m)?;
                prop_assert_eq!(m.len() - m.len_keep(), masked_by_formula(grid.len(), r));
            }
            Err(_) => prop_assert_eq!(masked_by_formula(grid.len(), r), 0),
        }
    }

    #[test]
    fn modality_masks_keep_their_own_counts(
        li in 1usize..300, lt in 1usize..80, ri in ratio(), rt in ratio(), seed: u64,
    ) {
        match modality(li, ri, lt, rt, &mut Rng::seed_from_u64(seed)) {
            Ok(m) => {
                prop_assert_eq!(m.image.len_keep(), kept_by_formula(li, ri));
                prop_assert_eq!(m.text.len_keep(), kept_by_formula(lt, rt));
                check_indices(&m.image)?;
                check_indices(&m.text)?;
            }
            Err(_) => {
                prop_assert!(kept_by_formula(li, ri) == 0 || kept_by_formula(lt, rt) == 0);
            }
        }
    }

    #[test]
    fn same_seed_same_masks_different_seed_different_masks(seed: u64, other: u64) {
        prop_assume!(seed != other);
        // Grids large enough that two seeds colliding is negligible (>= 2^64 outcomes each).
        let g = Grid::new(16, 16);
        type Make = fn(&mut Rng) -> Vec<u8>;
        let makers: [(&str, Make); 6] = [
            ("random", |rng| random(256, Ratio::of(3, 4), rng).unwrap().mask().to_vec()),
            ("uniform", |rng| {
                uniform(Grid::new(16, 16), UNIFORM_RATIO, rng).unwrap().mask().to_vec()
            }),
            ("block", |rng| {
                block(Grid::new(16, 16), Ratio::of(1, 2), BlockParams::default(), rng)
                    .unwrap()
                    .mask()
                    .to_vec()
            }),
            ("tube", |rng| {
                tube(Grid::new(16, 16), 4, 2, Ratio::of(9, 10), rng).unwrap().mask().to_vec()
            }),
            ("mixed", |rng| {
                mixed(Grid::new(64, 64), 3, Ratio::of(1, 2), rng).unwrap().coarse().to_vec()
            }),
            ("modality", |rng| {
                let m = modality(256, Ratio::of(3, 4), 64, Ratio::of(3, 4), rng).unwrap();
                [m.image.mask(), m.text.mask()].concat()
            }),
        ];
        for (name, make) in makers {
            let a = make(&mut Rng::seed_from_u64(seed));
            let b = make(&mut Rng::seed_from_u64(seed));
            let c = make(&mut Rng::seed_from_u64(other));
            prop_assert_eq!(&a, &b, "{} is not deterministic", name);
            prop_assert_ne!(&a, &c, "{} ignores the seed", name);
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
fn a_random_mask_breaks_the_window_property_uniform_masks_keep() {
    // The window tests above can fail: a plain random mask at the same ratio almost never has
    // one visible token in every 2x2 block.
    let grid = Grid::new(14, 14);
    let mut rng = Rng::seed_from_u64(11);
    let m = random(grid.len(), UNIFORM_RATIO, &mut rng).unwrap();
    assert!(compact(m.mask(), grid).is_err());
    let counts = window_visible_counts(m.mask(), grid, Grid::new(2, 2)).unwrap();
    assert!(counts.iter().any(|&c| c != 1));
}
