// The 2-D sin-cos embedding splits the width into 4 quarters.
tessera_dsl::mae! {
    pub Broken {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 510, depth: 8, heads: 2, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {}
