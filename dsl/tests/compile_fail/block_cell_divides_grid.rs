// Block-wise masking in 4x4-token cells cannot tile a 14x14 token grid.
tessera_dsl::mim! {
    pub Broken {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: block(2 / 5, cell: 4), target: norm_pix,
    }
}

fn main() {}
