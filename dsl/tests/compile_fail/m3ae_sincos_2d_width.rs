// M3AE: the decoder's 2-D sin-cos table needs a width divisible by 4; 510 is not.
tessera_dsl::m3ae! {
    pub Broken {
        image: 256 x 256 x 3, patch: 16, text: 64, vocab: 30522,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 510, depth: 8, heads: 15, mlp: 4 },
        mask: image(3 / 4) + text(3 / 4),
    }
}

fn main() {}
