// The 384-wide decoder does not split into 5 heads.
tessera_dsl::videomae! {
    pub Broken {
        video: 16 x 224 x 224 x 3, patch: 16, tubelet: 2,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 384, depth: 4, heads: 5, mlp: 4 },
        mask: tube(9 / 10), target: norm_pix,
    }
}

fn main() {}
