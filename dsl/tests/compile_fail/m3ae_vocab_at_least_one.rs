// M3AE: a text vocabulary of 0 words (the official module asserts text_vocab_size > 0).
tessera_dsl::m3ae! {
    pub Broken {
        image: 256 x 256 x 3, patch: 16, text: 64, vocab: 0,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(3 / 4) + text(3 / 4),
    }
}

fn main() {}
