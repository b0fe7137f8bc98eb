// A custom mask on a windowed encoder that drops masked tokens, declaring equal counts only in
// 4x4 windows: the 2x2 blocks the encoder compacts may keep 0 or 2 cells.
use tessera_dsl::mask::{CustomStrategy, Invariant, Layout, Mask, MaskError, Unit};
use tessera_dsl::{rng::Rng, Ratio};

fn draw(layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
    tessera_dsl::mask::random::random(layout.tokens()?, ratio, rng)
}

const WINDOW_BLOCKS: CustomStrategy =
    CustomStrategy::new("window_blocks", &[Invariant::MasksFloor(Unit::Window(4))], draw);

tessera_dsl::um_swin! {
    pub Broken {
        image: 256 x 256 x 3, patch: 4, mask_cell: 16,
        stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)], mlp: 4, window: 8,
        mask: custom(WINDOW_BLOCKS, 3 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

fn main() {}
