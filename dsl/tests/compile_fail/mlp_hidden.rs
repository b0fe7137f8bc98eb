// An MLP ratio that leaves no hidden units.
tessera_dsl::mae! {
    pub Broken {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 0 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {}
