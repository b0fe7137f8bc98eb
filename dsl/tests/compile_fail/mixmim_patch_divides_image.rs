// MixMIM: patch 3 does not tile 224 pixels.
tessera_dsl::mixmim! {
    pub Broken {
        image: 224 x 224 x 3, patch: 3,
        stages: [(128, 2, 4, 14), (256, 2, 8, 14), (512, 18, 16, 14), (1024, 2, 32, 7)],
        mlp: 4,
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: mixed(1 / 2), target: norm_pix,
    }
}

fn main() {}
