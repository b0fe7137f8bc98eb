//! A user's strategy inside a spec at run time: the shape rules read its declared invariants
//! (the same messages the macros give at compile time), and models drawing through the spec
//! get masks checked against them.
use tessera_dsl::mask::{
    random::random, spec::sample_batch, CustomStrategy, Invariant, Layout, Mask, MaskError, Unit,
};
use tessera_dsl::spec::{ImageSpec, MaeSpec, MaskSpec, Rule, Target, VitSpec};
use tessera_dsl::{rng::Rng, Ratio};

/// The first floor(n r) tokens of every 2x2 block (raster inside the block) removed.
fn corners(layout: &Layout, ratio: Ratio, _: &mut Rng) -> Result<Mask, MaskError> {
    let g = layout.mask_grid()?;
    let removed = ratio.masked_of(4);
    let mask: Vec<u8> = (0..g.len())
        .map(|i| u8::from(2 * (i / g.w % 2) + i % g.w % 2 < removed))
        .collect();
    Mask::from_binary(&mask)
}

fn mae(layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
    random(layout.tokens()?, ratio, rng)
}

const CORNERS: CustomStrategy = CustomStrategy::new(
    "corners",
    &[Invariant::MasksFloor(Unit::Window(2))],
    corners,
);
/// Declares 2x2 windows but draws MAE's random masks.
const PRETENDER: CustomStrategy =
    CustomStrategy::new("pretender", &[Invariant::MasksFloor(Unit::Window(2))], mae);

fn spec(mask: MaskSpec, image: usize) -> MaeSpec {
    MaeSpec {
        image: ImageSpec {
            height: image,
            width: image,
            channels: 3,
        },
        patch: 4,
        class_token: true,
        encoder: VitSpec {
            dim: 64,
            depth: 2,
            heads: 4,
            mlp_ratio: 4.0,
        },
        decoder: VitSpec {
            dim: 32,
            depth: 1,
            heads: 2,
            mlp_ratio: 4.0,
        },
        mask,
        target: Target::NormPix,
        layer_norm_eps: 1e-6,
        secondary_rule: tessera_dsl::mask::uniform::SecondaryRule::Smallest,
    }
}

#[test]
fn the_spec_rules_read_the_declared_invariants_at_run_time() {
    let half = MaskSpec::Custom {
        strategy: CORNERS,
        ratio: Ratio::of(1, 2),
    };
    // 8x8 tokens, 16 blocks keeping 2 each.
    let dims = spec(half, 32).validate().unwrap();
    assert_eq!((dims.keep, dims.masked), (32, 32));
    // A 7x7 grid cannot be tiled by 2x2 windows: the compile-time message, at run time.
    let e = spec(half, 28).validate().unwrap_err();
    assert_eq!(e.rule(), Rule::MaskWindowDividesGrid);
    assert_eq!(
        e.as_str(),
        "MAE: custom mask `corners` works in 2x2 windows or cells, which do not tile the 7x7 token \
         grid (rule mask_window_divides_grid, see docs/shape-rules.md)"
    );
    // floor(4 / 5) = 0 removed per block.
    let e = spec(
        MaskSpec::Custom {
            strategy: CORNERS,
            ratio: Ratio::of(1, 5),
        },
        32,
    )
    .validate()
    .unwrap_err();
    assert_eq!(e.rule(), Rule::MaskAtLeastOne);
    assert_eq!(half.ratio(), Ratio::of(1, 2));
    assert!(half.window_balanced(4) && !half.window_balanced(3));
    assert_eq!(
        half.to_string(),
        "custom `corners` 1/2 (removes floor(n r) tokens of every 2x2 window)"
    );
}

#[test]
fn masks_drawn_through_the_spec_keep_the_promises_the_model_was_built_for() {
    let half = MaskSpec::Custom {
        strategy: CORNERS,
        ratio: Ratio::of(1, 2),
    };
    let batch = sample_batch(&half, 8, 3, &mut Rng::seed_from_u64(0)).unwrap();
    assert_eq!((batch.batch, batch.len, batch.len_keep), (3, 64, 32));
    // A strategy that breaks its promise stops the step with the violation, before a mask of
    // the wrong shape reaches the planned graph.
    let pretender = MaskSpec::Custom {
        strategy: PRETENDER,
        ratio: Ratio::of(1, 2),
    };
    let e = sample_batch(&pretender, 8, 3, &mut Rng::seed_from_u64(0)).unwrap_err();
    let MaskError::Broken {
        strategy,
        violation,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(*strategy, "pretender");
    assert_eq!(violation.sample(), 0);
    assert!(e.to_string().contains("2x2 window"), "{e}");
}
