// Random masking on a windowed encoder that drops masked tokens: windows would see unequal
// numbers of visible tokens.
tessera_dsl::um_swin! {
    pub Broken {
        image: 256 x 256 x 3, patch: 4, mask_cell: 16,
        stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)], mlp: 4, window: 8,
        mask: random(3 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

fn main() {}
