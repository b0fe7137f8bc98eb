// M3AE: 16 px patches do not tile a 250 px image.
tessera_dsl::m3ae! {
    pub Broken {
        image: 250 x 250 x 3, patch: 16, text: 64, vocab: 30522,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(3 / 4) + text(3 / 4),
    }
}

fn main() {}
