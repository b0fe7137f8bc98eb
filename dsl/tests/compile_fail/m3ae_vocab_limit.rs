// M3AE: a vocabulary past the spec limit (2^24).
tessera_dsl::m3ae! {
    pub Broken {
        image: 256 x 256 x 3, patch: 16, text: 64, vocab: 16777217,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(3 / 4) + text(3 / 4),
    }
}

fn main() {}
