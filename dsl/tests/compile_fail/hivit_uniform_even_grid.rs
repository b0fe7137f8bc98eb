// HiViT with uniform sampling: 56 px at patch 8 is a 7x7 patch grid, which 2x2 blocks cannot tile.
tessera_dsl::hivit! {
    pub Broken {
        image: 56 x 56 x 1, patch: 8, inner_patches: 4,
        mlp_stages: [1, 1], stem_mlp: 3,
        main: vit { dim: 64, depth: 4, heads: 4, mlp: 4 },
        hifeat: true,
        decoder: vit { dim: 32, depth: 2, heads: 4, mlp: 4 },
        mask: uniform(3 / 4), target: norm_pix,
    }
}

fn main() {}
