// A user's masking strategy in the composed form and on a windowed encoder: the macros read the
// kept count and the window compatibility from the strategy's declared invariants.
use tessera_dsl::mask::{CustomStrategy, Invariant, Layout, Mask, MaskError, Unit};
use tessera_dsl::{rng::Rng, Ratio};

/// The top row of every 2x2 block removed.
fn top_rows(layout: &Layout, _: Ratio, _: &mut Rng) -> Result<Mask, MaskError> {
    let g = layout.mask_grid()?;
    Mask::from_binary(&(0..g.len()).map(|i| u8::from(i / g.w % 2 == 0)).collect::<Vec<_>>())
}

/// The top-left token of every 2x2 block kept.
fn corners(layout: &Layout, _: Ratio, _: &mut Rng) -> Result<Mask, MaskError> {
    let g = layout.mask_grid()?;
    Mask::from_binary(&(0..g.len()).map(|i| u8::from(i / g.w % 2 + i % g.w % 2 > 0)).collect::<Vec<_>>())
}

const TOP_ROWS: CustomStrategy =
    CustomStrategy::new("top_rows", &[Invariant::MasksFloor(Unit::Window(2))], top_rows);
const CORNERS: CustomStrategy = CustomStrategy::new(
    "corners",
    &[Invariant::VisiblePerWindow { window: 2, visible: 1 }, Invariant::KeptInRasterOrder],
    corners,
);

tessera_dsl::mim! {
    pub TopRowMae {
        image: 32 x 32 x 3, patch: 4,
        encoder: vit { dim: 192, depth: 12, heads: 3, mlp: 4 },
        decoder: vit { dim: 128, depth: 4, heads: 4, mlp: 4 },
        mask: custom(TOP_ROWS, 1 / 2), target: norm_pix,
    }
}

tessera_dsl::um_swin! {
    pub CornerSwin {
        image: 256 x 256 x 3, patch: 4, mask_cell: 16,
        stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)], mlp: 4, window: 8,
        mask: custom(CORNERS, 3 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

fn main() {
    assert_eq!((TopRowMae::TOKENS, TopRowMae::KEEP), (64, 32));
    assert_eq!(CornerSwin::KEEP, 64);
    assert_eq!(CornerSwin::SPEC.mask.ratio(), Ratio::of(3, 4));
}
