// A 2x2 grid at ratio 4/5 keeps nobody.
tessera_dsl::mae! {
    pub Broken {
        image: 8 x 8 x 3, patch: 4,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(4 / 5), target: norm_pix,
    }
}

fn main() {}
