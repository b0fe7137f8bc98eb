// The composed form with a Swin encoder and random masking: windows of visible tokens would
// hold unequal counts, so the build fails and names what to use instead.
tessera_dsl::mim! {
    pub Broken {
        image: 32 x 32 x 3, patch: 2,
        encoder: swin { mask_cell: 4, stages: [(32, 2, 2), (64, 2, 4), (128, 2, 8)], mlp: 4, window: 4 },
        decoder: vit { dim: 64, depth: 1, heads: 2, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {}
