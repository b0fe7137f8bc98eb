// M3AE: one text token at ratio 1/2 keeps none of the text.
tessera_dsl::m3ae! {
    pub Broken {
        image: 256 x 256 x 3, patch: 16, text: 1, vocab: 30522,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(3 / 4) + text(1 / 2),
    }
}

fn main() {}
