// LayerNorm divides by sqrt(var + eps): eps must be positive.
tessera_dsl::mae! {
    pub Broken {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix, layer_norm_eps: 0.0,
    }
}

fn main() {}
