// M3AE: a text ratio of 4/4 masks every token.
tessera_dsl::m3ae! {
    pub Broken {
        image: 256 x 256 x 3, patch: 16, text: 64, vocab: 30522,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(3 / 4) + text(4 / 4),
    }
}

fn main() {}
