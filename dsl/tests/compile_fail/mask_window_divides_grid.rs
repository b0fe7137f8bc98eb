// A custom mask balanced in 4x4 windows on a 7x7 token grid: the windows cannot tile it.
use tessera_dsl::mask::{CustomStrategy, Invariant, Layout, Mask, MaskError, Unit};
use tessera_dsl::{rng::Rng, Ratio};

fn draw(layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
    tessera_dsl::mask::random::random(layout.tokens()?, ratio, rng)
}

const WINDOW_BLOCKS: CustomStrategy =
    CustomStrategy::new("window_blocks", &[Invariant::MasksFloor(Unit::Window(4))], draw);

tessera_dsl::mim! {
    pub Broken {
        image: 28 x 28 x 1, patch: 4,
        encoder: vit { dim: 128, depth: 6, heads: 4, mlp: 4 },
        decoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        mask: custom(WINDOW_BLOCKS, 1 / 2), target: norm_pix,
    }
}

fn main() {}
