// A custom mask that says nothing about how many tokens it keeps: the encoder's sequence
// length would be unknown.
use tessera_dsl::mask::{CustomStrategy, Invariant, Layout, Mask, MaskError};
use tessera_dsl::{rng::Rng, Ratio};

fn draw(layout: &Layout, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
    tessera_dsl::mask::random::random(layout.tokens()?, ratio, rng)
}

const SHY: CustomStrategy = CustomStrategy::new("shy", &[Invariant::KeptInRasterOrder], draw);

tessera_dsl::mim! {
    pub Broken {
        image: 32 x 32 x 3, patch: 4,
        encoder: vit { dim: 192, depth: 12, heads: 3, mlp: 4 },
        decoder: vit { dim: 128, depth: 4, heads: 4, mlp: 4 },
        mask: custom(SHY, 3 / 4), target: norm_pix,
    }
}

fn main() {}
