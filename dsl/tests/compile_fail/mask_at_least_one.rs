// VideoMAE masks floor(r * 4) = 0 tokens per slice at 1/10.
tessera_dsl::videomae! {
    pub Broken {
        video: 16 x 32 x 32 x 3, patch: 16, tubelet: 2,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 384, depth: 4, heads: 6, mlp: 4 },
        mask: tube(1 / 10), target: norm_pix,
    }
}

fn main() {}
