// Patch merging maps 96 channels to 192, not 200.
tessera_dsl::um_swin! {
    pub Broken {
        image: 256 x 256 x 3, patch: 4, mask_cell: 16,
        stages: [(96, 2, 3), (200, 2, 8), (400, 6, 16), (800, 2, 32)], mlp: 4, window: 8,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

fn main() {}
