// A ratio literal wider than its field is reported as written, never wrapped (even where a
// crate allows overflowing literals).
#![allow(overflowing_literals)]
tessera_dsl::mae! {
    pub Broken {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(4294967299 / 4294967300), target: norm_pix,
    }
}

fn main() {}
