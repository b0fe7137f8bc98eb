// MixMIM at 64 px: 1/8 of the 2x2 mask grid mixes no cell.
tessera_dsl::mixmim! {
    pub Broken {
        image: 64 x 64 x 3, patch: 4,
        stages: [(32, 1, 2, 4), (64, 1, 2, 4), (128, 1, 4, 4), (256, 1, 8, 2)],
        mlp: 4,
        decoder: vit { dim: 64, depth: 1, heads: 4, mlp: 4 },
        mask: mixed(1 / 8), target: norm_pix,
    }
}

fn main() {}
