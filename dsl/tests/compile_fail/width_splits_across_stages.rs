// Three MLP stages need the main width divisible by 8.
tessera_dsl::hivit! {
    pub Broken {
        image: 224 x 224 x 3, patch: 32, inner_patches: 8,
        mlp_stages: [1, 1, 1], stem_mlp: 3,
        main: vit { dim: 516, depth: 20, heads: 12, mlp: 4 },
        hifeat: true,
        decoder: vit { dim: 512, depth: 6, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {}
