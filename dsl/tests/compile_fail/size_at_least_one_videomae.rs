// A tubelet of 0 frames.
tessera_dsl::videomae! {
    pub Broken {
        video: 16 x 224 x 224 x 3, patch: 16, tubelet: 0,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 384, depth: 4, heads: 6, mlp: 4 },
        mask: tube(9 / 10), target: norm_pix,
    }
}

fn main() {}
