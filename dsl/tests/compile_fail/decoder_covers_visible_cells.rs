// 32 px mask cells: 16 visible cells, but the 4x4 map shuffles to 64.
tessera_dsl::um_swin! {
    pub Broken {
        image: 256 x 256 x 3, patch: 4, mask_cell: 32,
        stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)], mlp: 4, window: 8,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

fn main() {}
