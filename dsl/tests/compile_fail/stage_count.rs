// Seven stages; a spec holds at most six.
tessera_dsl::um_swin! {
    pub Broken {
        image: 256 x 256 x 3, patch: 4, mask_cell: 16,
        stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24), (1536, 2, 48), (3072, 2, 96), (6144, 2, 192)], mlp: 4, window: 8,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

fn main() {}
