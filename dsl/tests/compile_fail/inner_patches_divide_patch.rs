// A 16 px patch cannot hold 3x3 inner patches.
tessera_dsl::hivit! {
    pub Broken {
        image: 224 x 224 x 3, patch: 16, inner_patches: 3,
        mlp_stages: [2, 2], stem_mlp: 3,
        main: vit { dim: 512, depth: 20, heads: 8, mlp: 4 },
        hifeat: true,
        decoder: vit { dim: 512, depth: 6, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {}
