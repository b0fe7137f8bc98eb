// M3AE: one 16 px patch at image ratio 1/2 keeps none of the image.
tessera_dsl::m3ae! {
    pub Broken {
        image: 16 x 16 x 3, patch: 16, text: 64, vocab: 30522,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(1 / 2) + text(3 / 4),
    }
}

fn main() {}
