// A 13x13 token grid cannot be tiled with 2x2 blocks.
tessera_dsl::mae! {
    pub Broken {
        image: 208 x 208 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: uniform(3 / 4) + secondary(1 / 4), target: norm_pix,
    }
}

fn main() {}
